"""The status round-trip: export a period's list, fill statuses in Excel, import it back, only those fields change."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import openpyxl
import pytest

from webapp import db as database
from webapp import exporting
from webapp import ledger
from webapp.importing import Refused
from webapp.importing import penerima
from webapp.importing import statuses
from webapp.models import AuditEvent
from webapp.models import Disbursement
from webapp.models import ImportBatch
from webapp.models import Period
from webapp.models import User
from webapp.models import utcnow

from .conftest import add_user
from .test_import_penerima import KK3
from .test_import_penerima import village
from .test_import_reading import KK1
from .test_import_reading import KK2
from .test_import_reading import nik
from .test_import_reading import write_xlsx

KEPT = ("id", "period", "household", "person", "channel", "amount", "import_batch", "created_at", "deleted_at")


@pytest.fixture
def lists(app, tmp_path):
    """Three families on PKH Tahap 1 2026 and on Tahap 2 2026, two children on PIP Tahap 1 2026."""
    with app.app_context(), database.db.connection_context():
        village(tmp_path)
        for label in ("Tahap 1 2026", "Tahap 2 2026"):
            staged = penerima.stage(write_xlsx(tmp_path / f"{label}.xlsx", [["NO KK"], [KK1], [KK2], [KK3]]),
                                    program="PKH", period=label)
            penerima.apply(staged)
        pip = penerima.stage(write_xlsx(tmp_path / "pip.xlsx", [["NIK"], [nik(3, True)], [nik(6, True)]]),
                             program="PIP", period="Tahap 1 2026")
        penerima.apply(pip)
        periods = {f"{p.program.code} {p.label}": p.id for p in Period.select()}
        user = add_user(app, "operator", "operator")
        settle()
    return {"periods": periods, "user": user}


def settle():
    """Date every row's last change an hour back, as for a list imported well before its export."""
    Disbursement.update(updated_at=utcnow() - timedelta(hours=1)).execute()


def row_ids(period_id):
    """{No KK or NIK: disbursement id} of a period."""
    return {(d.person.nik if d.person_id else d.household.no_kk): d.id
            for d in Disbursement.select().where(Disbursement.period == period_id)}


def export(period_id, path):
    """Write a period's list export (as the list page downloads it) to path."""
    period = Period.get_by_id(period_id)
    f = ledger.ListFilter()
    path.write_bytes(exporting.period_workbook(period, f, ledger.listing(period, f), {}))
    return path


def fill(path, out, edits, header_row=6):
    """Fill cells of an export by row id: edits = {id: {"Status": "Sudah cair", ...}}; returns out."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    columns = {cell.value: cell.column for cell in sheet[header_row]}
    for row in sheet.iter_rows(min_row=header_row + 1):
        values = edits.get(row[columns["ID baris"] - 1].value, {})
        for name, value in values.items():
            sheet.cell(row=row[0].row, column=columns[name]).value = value
    book.save(out)
    return out


def stored(period_id):
    """{id: {column: value}} of a period's rows."""
    return {row["id"]: row for row in Disbursement.select().where(Disbursement.period == period_id).dicts()}


def test_round_trip_changes_only_status_fields_and_audits_every_change(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        before = stored(period)
        other_periods = {pid: stored(pid) for pid in lists["periods"].values() if pid != period}
        path = fill(export(period, tmp_path / "ekspor.xlsx"), tmp_path / "isi.xlsx", {
            ids[KK1]: {"Status": "Sudah cair", "Tanggal status": datetime(2026, 5, 2), "Jalur": "Kantor Pos",
                       "Nominal": 1, "Nama penerima": "NAMA LAIN", "Desil": 9},
            ids[KK2]: {"Status": "Tidak cair", "Alasan": "Rekening/KKS bermasalah", "Keterangan": "kartu terblokir",
                       "Tanggal status": "20/05/2026"},
        })
        staged = statuses.stage(path, period)
        assert staged["refused"] is None and staged["exported_at"] is not None
        preview = statuses.preview(staged)
        assert preview["refused"] is None and preview["rejected"] == []
        assert [(c["row"], c["id"], c["changes"]) for c in preview["changes"]] == [
            (7, ids[KK1], {"status": ["belum", "cair"], "status_date": [None, "2026-05-02"]}),
            (8, ids[KK2], {"status": ["belum", "tidak_cair"], "status_date": [None, "2026-05-20"],
                           "reason": [None, "rekening"], "note": ["", "kartu terblokir"]})]
        assert [(u["row"], u["id"]) for u in preview["unchanged"]] == [(9, ids[KK3])]
        assert preview["counts"] == {"rows": 3, "changed": 2, "unchanged": 1, "rejected": 0, "warnings": 0,
                                     "fields_changed": 6}
        assert stored(period) == before
        user = User.get_by_id(lists["user"])
        result = statuses.apply(staged, user=user, username=user.username)
        assert result["counts"] == {"new": 0, "changed": 2, "unchanged": 1, "rejected": 0}
        after = stored(period)
        for row_id in ids.values():
            assert {k: after[row_id][k] for k in KEPT} == {k: before[row_id][k] for k in KEPT}
        assert (after[ids[KK1]]["status"], after[ids[KK1]]["status_date"]) == ("cair", date(2026, 5, 2))
        assert (after[ids[KK2]]["status"], after[ids[KK2]]["reason"], after[ids[KK2]]["note"]) == (
            "tidak_cair", "rekening", "kartu terblokir")
        assert [after[ids[kk]]["version"] for kk in (KK1, KK2, KK3)] == [2, 2, 1]
        assert [after[ids[kk]]["updated_by"] for kk in (KK1, KK2, KK3)] == [user.id, user.id, None]
        assert after[ids[KK3]] == before[ids[KK3]]
        assert {pid: stored(pid) for pid in other_periods} == other_periods
        batch = ImportBatch.get_by_id(result["batch_id"])
        assert (batch.kind, batch.version_label) == ("status", "PKH — Tahap 1 2026")
        audited = [(e.entity_id, e.field, e.old, e.new, e.username, e.action) for e in AuditEvent.select()
                   .where((AuditEvent.import_batch == batch) & (AuditEvent.entity == "disbursement"))
                   .order_by(AuditEvent.id)]
        assert audited == [
            (ids[KK1], "status", "belum", "cair", "operator", "penyaluran.ubah"),
            (ids[KK1], "status_date", None, "2026-05-02", "operator", "penyaluran.ubah"),
            (ids[KK2], "status", "belum", "tidak_cair", "operator", "penyaluran.ubah"),
            (ids[KK2], "status_date", None, "2026-05-20", "operator", "penyaluran.ubah"),
            (ids[KK2], "reason", None, "rekening", "operator", "penyaluran.ubah"),
            (ids[KK2], "note", "", "kartu terblokir", "operator", "penyaluran.ubah")]
        assert [e.field for e in ledger.history(ids[KK2])][:4] == ["note", "reason", "status_date", "status"]
        again = statuses.apply(statuses.stage(path, period))
        assert again["already_applied"] is True and stored(period) == after


def test_design_words_and_labels_are_both_understood(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 2 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {
            ids[KK1]: {"Status": "SUDAH SALUR", "Tanggal status": "01-05-2026"},
            ids[KK2]: {"Status": "retur", "Alasan": "KPM meninggal dunia", "Keterangan": "kata tetangga"},
            ids[KK3]: {"Status": "GAGAL", "Alasan": "tidak mau mengambil", "Keterangan": "dua kali datang"},
        })
        statuses.apply(statuses.stage(path, period))
        settle()
        rows = stored(period)
        assert (rows[ids[KK1]]["status"], rows[ids[KK1]]["status_date"]) == ("cair", date(2026, 5, 1))
        assert (rows[ids[KK2]]["status"], rows[ids[KK2]]["reason"], rows[ids[KK2]]["status_date"]) == (
            "tidak_cair", "meninggal", ledger.today_wib())
        assert (rows[ids[KK3]]["reason"], rows[ids[KK3]]["note"]) == ("lainnya", "tidak mau mengambil; dua kali datang")
        back = fill(export(period, tmp_path / "g.xlsx"), tmp_path / "h.xlsx", {
            ids[KK1]: {"Status": "Belum cair"}, ids[KK2]: {"Keterangan": None}, ids[KK3]: {"Keterangan": None}})
        preview = statuses.preview(statuses.stage(back, period))
        assert [(c["id"], c["changes"]) for c in preview["changes"]] == [
            (ids[KK1], {"status": ["cair", "belum"], "status_date": ["2026-05-01", None]}),
            (ids[KK2], {"note": ["kata tetangga", ""]})]
        assert [m for r in preview["rejected"] for m in r["messages"]] == [
            'Baris 9, kolom "Keterangan": Untuk alasan “lainnya”, tuliskan keterangannya']


def test_rows_of_other_periods_unknown_ids_and_swapped_ids_are_rejected(app, lists, tmp_path):
    tahap1, tahap2 = lists["periods"]["PKH Tahap 1 2026"], lists["periods"]["PKH Tahap 2 2026"]
    with app.app_context(), database.db.connection_context():
        one, two = row_ids(tahap1), row_ids(tahap2)
        rows = [["ID baris", "No KK", "Status"], [two[KK1], KK1, "Sudah cair"], [999999, "", "Sudah cair"],
                [one[KK1], KK2, "Sudah cair"], [one[KK2], KK2, "Sudah cair"], [one[KK3], KK3, "Sudah cair"],
                [one[KK3], KK3, "Belum cair"]]
        staged = statuses.stage(write_xlsx(tmp_path / "campur.xlsx", rows), tahap1)
        assert "Waktu ekspor" in staged["notices"][0]
        preview = statuses.preview(staged)
        assert [m for r in preview["rejected"] for m in r["messages"]] == [
            f'Baris 2, kolom "ID baris": ID baris {two[KK1]} milik periode PKH Tahap 2 2026, bukan PKH Tahap 1 2026',
            'Baris 3, kolom "ID baris": ID baris 999999 tidak ada di data (mungkin sudah dihapus)',
            f'Baris 4, kolom "No KK": No KK di berkas ({KK2}) berbeda dengan No KK baris ini ({KK1}): kolom ID baris '
            "tertukar?",
            'Baris 6, kolom "ID baris": ID baris ganda di berkas (sama dengan baris 7)',
            'Baris 7, kolom "ID baris": ID baris ganda di berkas (sama dengan baris 6)']
        assert [c["id"] for c in preview["changes"]] == [one[KK2]]
        result = statuses.apply(staged)
        assert result["counts"] == {"new": 0, "changed": 1, "unchanged": 0, "rejected": 5}
        assert [d.status for d in Disbursement.select().where(Disbursement.period == tahap2)] == ["belum"] * 3


def test_jiwa_rows_are_checked_by_nik(app, lists, tmp_path):
    period = lists["periods"]["PIP Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {
            ids[nik(3, True)]: {"Status": "Sudah cair", "NIK": nik(6, True)},
            ids[nik(6, True)]: {"Status": "Sudah cair"}})
        preview = statuses.preview(statuses.stage(path, period))
        assert [m for r in preview["rejected"] for m in r["messages"]] == [
            f'Baris 7, kolom "NIK": NIK di berkas ({nik(6, True)}) berbeda dengan NIK baris ini ({nik(3, True)}): '
            "kolom ID baris tertukar?"]
        assert [(c["nik"], c["nama"]) for c in preview["changes"]] == [(nik(6, True), "Rina")]


def test_changes_are_validated_as_inline_edits(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {
            ids[KK1]: {"Status": "Tidak cair"},
            ids[KK2]: {"Status": "Tidak cair", "Alasan": "Lainnya"},
            ids[KK3]: {"Status": "Sudah cair", "Tanggal status": "01-01-2099"}})
        staged = statuses.stage(path, period)
        preview = statuses.preview(staged)
        assert [m for r in preview["rejected"] for m in r["messages"]] == [
            'Baris 7, kolom "Alasan": Status tidak cair memerlukan alasan',
            'Baris 8, kolom "Keterangan": Untuk alasan “lainnya”, tuliskan keterangannya',
            'Baris 9, kolom "Tanggal status": tanggal di masa depan (01-01-2099)']
        assert preview["refused"] == "Tidak ada baris yang dapat diterapkan: semua baris ditolak (lihat alasannya)."
        with pytest.raises(Refused, match="Tidak ada baris yang dapat diterapkan"):
            statuses.apply(staged)
        reason_on_cair = fill(export(period, tmp_path / "g.xlsx"), tmp_path / "h.xlsx", {
            ids[KK1]: {"Status": "Sudah cair", "Alasan": "Pindah", "Tanggal status": "02-05-2026"}})
        warned = statuses.preview(statuses.stage(reason_on_cair, period))
        assert [w["text"] for w in warned["warnings"]] == [
            'Baris 7, kolom "Alasan": alasan diabaikan: hanya status Tidak cair yang beralasan']
        assert warned["changes"][0]["changes"] == {"status": ["belum", "cair"], "status_date": [None, "2026-05-02"]}


def test_missing_columns_keep_and_blank_dates_keep_the_stored_values(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        ledger.change_status(ids[KK1], 1, ledger.StatusChange.from_form(
            {"status": "tidak_cair", "reason": "pindah", "note": "ke Bandung", "status_date": "2026-05-03"}), None)
        only_status = write_xlsx(tmp_path / "s.xlsx", [["ID BARIS", "STATUS"], [ids[KK1], "Tidak cair"],
                                                       [ids[KK2], "Sudah cair"]])
        preview = statuses.preview(statuses.stage(only_status, period))
        assert [u["id"] for u in preview["unchanged"]] == [ids[KK1]]
        assert preview["changes"][0]["changes"] == {"status": ["belum", "cair"],
                                                    "status_date": [None, ledger.today_wib().isoformat()]}
        assert statuses.stage(write_xlsx(tmp_path / "n.xlsx", [["ID baris", "Nama"], [ids[KK1], "x"]]),
                              period)["refused"] == ("Tidak ada kolom Status, Tanggal status, Alasan atau Keterangan "
                                                     "untuk diperbarui.")
        assert statuses.stage(write_xlsx(tmp_path / "k.xlsx", [["No KK", "Status"], [KK1, "cair"]]),
                              period)["refused"].startswith('Kolom "ID baris" tidak ditemukan')


def test_a_row_changed_in_the_application_after_the_export_is_never_overwritten(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {
            ids[KK2]: {"Status": "Sudah cair", "Tanggal status": "02-05-2026"}})
        editor = User.get_by_id(lists["user"])
        paid = ledger.StatusChange.from_form({"status": "cair", "status_date": "2026-05-04"})
        for kk in (KK1, KK3):
            ledger.change_status(ids[kk], 1, paid, editor)
        preview = statuses.preview(statuses.stage(fill(path, tmp_path / "g.xlsx", {
            ids[KK3]: {"Status": "Sudah cair", "Tanggal status": "04-05-2026"}}), period))
        assert [r["row"] for r in preview["rejected"]] == [7]
        message = preview["rejected"][0]["messages"][0]
        assert message.startswith('Baris 7, kolom "ID baris": baris ini diubah di aplikasi oleh operator pada ')
        assert "tidak sebelum berkas ini diekspor (" in message
        assert message.endswith("): ekspor ulang daftarnya lalu isi kembali")
        assert [c["id"] for c in preview["changes"]] == [ids[KK2]] and [u["id"] for u in preview["unchanged"]] == [
            ids[KK3]]


def test_closed_period_refuses_the_file(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {ids[KK1]: {"Status": "Sudah cair"}})
        Period.update(closed=True).where(Period.id == period).execute()
        staged = statuses.stage(path, period)
        assert statuses.preview(staged)["refused"].startswith("Periode Tahap 1 2026 (PKH) sudah ditutup")
        with pytest.raises(Refused, match="sudah ditutup"):
            statuses.apply(staged)
        assert Disbursement.get_by_id(ids[KK1]).status == "belum"
        assert statuses.preview(statuses.stage(path, 424242))["refused"] == "Periode dengan ID 424242 tidak ada."


def test_unknown_status_words_must_be_mapped(app, lists, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = write_xlsx(tmp_path / "s.xlsx", [["ID baris", "Status"], [ids[KK1], "DITUNDA"], [ids[KK2], "cair"]])
        staged = statuses.stage(path, period)
        assert statuses.preview(staged)["refused"].startswith('Kata status "DITUNDA" tidak dikenal.')
        with pytest.raises(Refused, match="DITUNDA"):
            statuses.apply(staged)
        mapped = statuses.stage(path, period, status_map={"DITUNDA": "tidak_cair"})
        assert [m for r in statuses.preview(mapped)["rejected"] for m in r["messages"]] == [
            'Baris 2, kolom "Status": Status tidak cair memerlukan alasan']


def run(runner, *args):
    """Invoke flask import-status with arguments."""
    return runner.invoke(args=["import-status", *map(str, args)])


def test_cli_exit_statuses_and_dry_run(app, lists, runner, tmp_path):
    period = lists["periods"]["PKH Tahap 1 2026"]
    with app.app_context(), database.db.connection_context():
        ids = row_ids(period)
        path = fill(export(period, tmp_path / "e.xlsx"), tmp_path / "f.xlsx", {
            ids[KK1]: {"Status": "Sudah cair", "Tanggal status": "02-05-2026"}, ids[KK2]: {"Status": "Tidak cair"}})
        stale = fill(export(period, tmp_path / "g.xlsx"), tmp_path / "h.xlsx", {ids[KK3]: {"Status": "Sudah cair"}})
    dry = run(runner, path, "--period", period, "--dry-run")
    assert dry.exit_code == 3, dry.output
    assert "Uji coba (--dry-run): tidak ada yang ditulis." in dry.output
    result = run(runner, path, "--period", period)
    assert result.exit_code == 3, result.output
    assert "Periode: PKH Tahap 1 2026" in result.output
    assert "Baris data: 3 (1 berubah, 1 tetap, 1 ditolak)" in result.output
    assert (f"Perubahan (1):\n  Baris 7 (ID {ids[KK1]}): Status Belum cair → Sudah cair; Tanggal status – → "
            "2026-05-02") in result.output
    assert 'Baris ditolak (1):\n  Baris 8, kolom "Alasan": Status tidak cair memerlukan alasan' in result.output
    with app.app_context(), database.db.connection_context():
        clean = fill(export(period, tmp_path / "i.xlsx"), tmp_path / "j.xlsx", {
            ids[KK3]: {"Status": "Sudah cair", "Tanggal status": "03-05-2026"}})
    refused = run(runner, clean, "--period", lists["periods"]["PKH Tahap 2 2026"])
    assert refused.exit_code == 2 and "DITOLAK seluruhnya: Tidak ada baris yang dapat diterapkan" in refused.output
    ok = run(runner, clean, "--period", period)
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1] == 'Diterapkan: batch #6 "PKH — Tahap 1 2026".'
    overwrite = run(runner, stale, "--period", period)
    assert overwrite.exit_code == 3, overwrite.output
    assert 'Baris 7, kolom "ID baris": baris ini diubah di aplikasi pada ' in overwrite.output
    with app.app_context(), database.db.connection_context():
        assert [str(Disbursement.get_by_id(ids[kk]).status_date) for kk in (KK1, KK2, KK3)] == [
            "2026-05-02", "None", "2026-05-03"]
        assert {e.username for e in AuditEvent.select().where(AuditEvent.action == "penyaluran.ubah")} == {
            f"cli:{__import__('getpass').getuser()}"}
