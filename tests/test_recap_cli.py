"""`flask recap`, the JSON structure, the WhatsApp summary, the home headline and the URL round trips."""
import json
import shutil

import pytest
from werkzeug.datastructures import MultiDict

from webapp import db as database
from webapp import recap
from webapp.formatting import angka
from webapp.formatting import rupiah

from .conftest import DEMO_YEAR
from .conftest import make_app


def built(app, scope=None):
    """The recap and its JSON on the app's database, in a connection of their own."""
    with app.app_context(), database.db.connection_context():
        result = recap.build(scope)
        return result, recap.as_json(result)


def without_time(data):
    """A recap JSON without its generation time."""
    return {key: value for key, value in data.items() if key != "generated_at"}


def test_json_output_equals_as_json(demo_app):
    output = demo_app.test_cli_runner().invoke(args=["recap", "--json"])
    assert output.exit_code == 0, output.output
    printed = json.loads(output.output)
    _, expected = built(demo_app)
    assert without_time(printed) == without_time(expected)
    assert printed["generated_at"].endswith("Z")
    assert set(printed) >= {"desa", "scope", "dtsen_version", "generated_at", "totals", "programs", "desil",
                            "no_aid", "tidak_cair", "wilayah"}
    assert printed["desa"] == {"nama": "Mekarsari", "kode": "3205222003", "kecamatan": "Cikajang",
                               "kabupaten": "Garut", "provinsi": "Jawa Barat"}
    first = printed["programs"][0]
    assert set(first) >= {"program", "period", "kk", "jiwa", "status", "channel", "rupiah"}
    assert set(first["status"]) == {"cair", "belum", "tidak_cair"}
    assert set(first["channel"]) == {"bank", "pos", "tunai", "lainnya"}
    assert [row["desil"] for row in printed["desil"]] == [*range(1, 11), None]
    assert printed["no_aid"]["desil_max"] == 5
    assert set(printed["tidak_cair"]) >= {"total", "by_reason"}
    assert printed["wilayah"][0]["level"] == "dusun" and printed["wilayah"][0]["rw"][0]["rt"]


def test_json_output_with_filters(demo_app):
    args = ["recap", "--json", "--program", "pkh", "--period", f"Tahap 2 {DEMO_YEAR}", "--channel", "bank"]
    output = demo_app.test_cli_runner().invoke(args=args)
    assert output.exit_code == 0, output.output
    printed = json.loads(output.output)
    assert [(p["program"], p["label"]) for p in printed["scope"]["periods"]] == [("PKH", f"Tahap 2 {DEMO_YEAR}")]
    assert printed["scope"]["channel"] == "bank"
    assert printed["scope"]["text"] == f"Program PKH, periode PKH Tahap 2 {DEMO_YEAR}, jalur Bank/KKS, seluruh desa."
    assert [row["program"] for row in printed["programs"]] == ["PKH"]
    assert printed["programs"][0]["channel"]["pos"] == 0
    with demo_app.app_context(), database.db.connection_context():
        period_ids = recap.period_ids_for_labels([f"Tahap 2 {DEMO_YEAR}"], ("PKH",))
    _, expected = built(demo_app, recap.Scope(programs=("PKH",), periods=period_ids, channel="bank"))
    assert without_time(printed) == without_time(expected)


def test_text_output_shows_the_figures(demo_app):
    output = demo_app.test_cli_runner().invoke(args=["recap", "--year", str(DEMO_YEAR)])
    assert output.exit_code == 0, output.output
    text = output.output
    result, _ = built(demo_app, recap.Scope(year=DEMO_YEAR))
    assert "REKAP BANSOS DESA MEKARSARI" in text and "32.05.22.2003" in text
    assert result.scope.text() in text and "Demo DTSEN" in text
    totals = result.totals
    data_line = next(line for line in text.splitlines() if line.startswith("Keluarga dalam data"))
    assert data_line.split()[-2:] == [angka(totals.data.kk), angka(totals.data.jiwa)]
    no_aid_line = next(line for line in text.splitlines() if line.startswith("KK desil 1–5 belum menerima"))
    assert no_aid_line.split()[-2:] == [angka(result.no_aid.kk), angka(result.no_aid.jiwa)]
    for program in result.programs:
        assert f"{program.program.code} · " in text
    assert rupiah(result.tidak_cair.total.rupiah) in text
    for heading in ("ANGKA UTAMA", "PENERIMA PER PROGRAM DAN PERIODE", "DESIL × MENERIMA BANTUAN",
                    "TIDAK CAIR PER ALASAN", "PER WILAYAH", "DEFINISI"):
        assert heading in text
    assert "Jiwa: anggota keluarga yang tinggal bersama atau anggota baru" in text


@pytest.mark.parametrize("args, message", [
    (["--program", "XYZ"], "Program tidak dikenal: XYZ"),
    (["--period", "Tahap 9 1999"], "Periode tidak ditemukan: Tahap 9 1999"),
])
def test_unknown_filters_fail_with_a_message(demo_app, args, message):
    output = demo_app.test_cli_runner().invoke(args=["recap", *args])
    assert output.exit_code != 0
    assert message in output.output


def test_summary_text_carries_the_key_figures(demo_db):
    result = recap.build()
    text = recap.summary_text(result)
    lines = text.splitlines()
    assert 6 <= len(lines) <= 14
    assert lines[0].startswith("*Rekap Bansos Desa Mekarsari* (32.05.22.2003)")
    assert result.scope.text() in text
    assert f"{angka(result.totals.data.kk)} KK, {angka(result.totals.data.jiwa)} jiwa" in text
    for program in result.programs:
        assert f"{program.program.code}: {angka(program.penerima.kk)} KK, {angka(program.penerima.jiwa)} jiwa" in text
    assert (f"KK desil 1–5 belum menerima bantuan: {angka(result.no_aid.kk)} KK, "
            f"{angka(result.no_aid.jiwa)} jiwa") in text
    assert f"Tidak cair: {angka(result.tidak_cair.total.n)} penyaluran" in text
    assert rupiah(result.tidak_cair.total.rupiah) in text and "belum cair:" in text
    assert "Demo DTSEN" in text and "WIB" in text


def test_headline_comes_from_the_recap(demo_db):
    figures = recap.headline(5)
    result = recap.build()
    assert figures == {
        "kk": result.totals.data.kk, "jiwa": result.totals.data.jiwa, "desil_1_4": result.totals.desil_1_4.kk,
        "desil_1_max": result.totals.desil_1_max.kk, "tanpa_desil": result.totals.tanpa_desil.kk,
        "desil_max": 5, "year": DEMO_YEAR, "penerima_kk": result.totals.menerima.kk,
        "tidak_cair": result.tidak_cair.total.n, "no_aid_kk": result.no_aid.kk}


def test_no_aid_ceiling_follows_the_setting(make_app_with_ceiling):
    with make_app_with_ceiling.app_context(), database.db.connection_context():
        result = recap.build()
        assert result.scope.desil_max == 4
        assert "KK desil 1–4 belum menerima bantuan" in recap.summary_text(result)
        below = [row for row in result.desil if row.desil is not None and row.desil <= 4]
        assert result.no_aid.kk == sum(row.tidak_menerima.kk for row in below)
        assert result.no_aid.jiwa == sum(row.tidak_menerima.jiwa for row in below)


@pytest.fixture
def make_app_with_ceiling(demo_file, tmp_path):
    """The demo village with NO_AID_DESIL_MAX = 4."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_file, path)
    return make_app(path, NO_AID_DESIL_MAX=4)


def test_scope_round_trips_through_the_url():
    args = MultiDict([("program", "pkh"), ("program", "PBI-JK"), ("period", "12"), ("year", "2026"),
                      ("channel", "pos"), ("dusun", "Babakan")])
    scope = recap.Scope.from_args(args)
    assert scope == recap.Scope(programs=("PKH", "PBI-JK"), periods=(12,), year=2026, channel="pos", dusun="Babakan")
    assert recap.Scope.from_args(MultiDict([(k, v) for k, values in scope.args().items()
                                            for v in (values if isinstance(values, list) else [values])])) == scope
    assert recap.Scope.from_args({}) == recap.Scope()
    with pytest.raises(recap.ScopeError, match="Jalur tidak dikenal"):
        recap.Scope.from_args({"channel": "kapal"})
    with pytest.raises(recap.ScopeError, match="Tahun harus berupa angka"):
        recap.Scope.from_args({"year": "dua ribu"})


def test_drill_round_trips_through_the_url():
    drill = recap.Drill("penyaluran", program="PKH", period=3, status=("belum", "tidak_cair"), channel="pos",
                        reason="rekening", menerima=False, tanpa="SEMBAKO", desil="1-5", dusun="Babakan", rw="003",
                        rt="001")
    args = drill.args()
    assert set(args) == {"daftar", "d_program", "d_period", "d_status", "d_channel", "d_reason", "d_menerima",
                         "d_tanpa", "d_desil", "d_dusun", "d_rw", "d_rt"}
    multi = MultiDict([(k, v) for k, values in args.items() for v in (values if isinstance(values, list) else [values])])
    assert recap.Drill.from_args(multi) == drill
    assert recap.Drill.from_args({}) == recap.Drill()
    for bad, message in (({"d_desil": "11"}, "Desil"), ({"daftar": "semua"}, "Daftar"),
                         ({"d_status": "hilang"}, "Status")):
        with pytest.raises(recap.ScopeError, match=message):
            recap.Drill.from_args(bad)
