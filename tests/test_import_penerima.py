"""Recipient-list import: matching categories, statuses and reasons, periods, OpenSID, double aid, CLI.

Every file is built here (people invented); OpenSID's own sample files are read from ../shared when present.
"""
import json
from datetime import date

import pytest
import xlsxwriter

from webapp import db as database
from webapp import ledger
from webapp.importing import Refused
from webapp.importing import applying
from webapp.importing import dtsen
from webapp.importing import normalise
from webapp.importing import penerima
from webapp.importing import staging
from webapp.models import AuditEvent
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import ImportBatch
from webapp.models import ImportRejection
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program
from webapp.models import User

from .conftest import add_user
from .test_import_dtsen import OPENSID
from .test_import_reading import HEADER
from .test_import_reading import KK1
from .test_import_reading import KK2
from .test_import_reading import TODAY
from .test_import_reading import family
from .test_import_reading import nik
from .test_import_reading import write_csv
from .test_import_reading import write_xlsx

KK3 = "3205221203150003"
UNKNOWN_KK = "3205221203159001"
OTHER_KK = "3205221203159002"
TABLES = ("household", "person", "program", "period", "disbursement", "audit_event", "import_batch", "import_rejection")
POS_HEADER = ["NO", "NO KK", "NAMA PENERIMA", "ALAMAT", "NOMINAL"]


def village(tmp_path):
    """Three DTSEN families: KK1 Budi Santoso (NIK 1–3), KK2 Dedi Kurnia (4–6), KK3 Asep Saepudin (7–9)."""
    rows = [HEADER, *family(), *family(KK2, 4, nama="Dedi Kurnia"), *family(KK3, 7, nama="Asep Saepudin")]
    dtsen.apply(dtsen.stage(write_xlsx(tmp_path / "dtsen.xlsx", rows), today=TODAY), "DTSEN Triwulan I 2026")


def stage(tmp_path, rows, name="daftar.xlsx", program="PKH", period="Tahap 2 2026", **kwargs):
    """Write rows as .xlsx (or .csv) and stage them as a recipient list."""
    path = write_csv(tmp_path / name, rows) if name.endswith(".csv") else write_xlsx(tmp_path / name, rows)
    return penerima.stage(path, program=program, period=period, today=TODAY, **kwargs)


def rows_of(preview, category):
    """The file rows of one matching category."""
    return [item["row"] for item in preview["categories"][category]]


def listed(period_label="Tahap 2 2026", code="PKH"):
    """{No KK: (status, status_date, reason, note, channel, amount)} of a period's list."""
    query = (Disbursement.select(Household.no_kk, Disbursement.status, Disbursement.status_date, Disbursement.reason,
                                 Disbursement.note, Disbursement.channel, Disbursement.amount)
             .join(Household).switch(Disbursement).join(Period).join(Program)
             .where((Period.label == period_label) & (Program.code == code) & Disbursement.deleted_at.is_null()))
    return {row[0]: tuple(str(v) if isinstance(v, date) else v for v in row[1:]) for row in query.tuples()}


def snapshot():
    """Every row of the tables a recipient import writes."""
    return {table: database.db.execute_sql(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}


def test_pos_list_with_no_kk_matches_and_lists_everyone_as_belum(db_conn, tmp_path):
    village(tmp_path)
    rows = [["DAFTAR PENERIMA BLT KESRA TAHAP 2 — KANTOR POS CIKAJANG"], [], POS_HEADER,
            ["1", KK1, "BUDI SANTOSO", "Kp. Sukamaju", "Rp 900.000"], ["2", KK2, "dedi  kurnia", "", ""],
            ["3", KK3, "Siti Aminah", "", "900000"], ["", "JUMLAH", "", "", "2.700.000"]]
    staged = stage(tmp_path, rows, program="BLT-KESRA", period="Tahap 2 2025", channel="pos")
    assert staged["refused"] is None and staged["rows"] == 3 and staged["header_row"] == 3
    assert "Tidak ada kolom status" in staged["notices"][0]
    before = snapshot()
    preview = penerima.preview(staged)
    assert snapshot() == before
    json.dumps(preview)
    assert rows_of(preview, "matched") == [4, 5, 6] and preview["counts"]["new"] == 3
    assert preview["warnings"] == [] and preview["rejected"] == []
    assert preview["period"] == {"id": None, "label": "Tahap 2 2025", "year": 2025, "amount": 900000,
                                 "start_date": None, "end_date": None, "default_channel": "pos", "closed": False,
                                 "new": True}
    result = penerima.apply(staged, username="operator")
    assert result["period_created"] and result["counts"] == {"new": 3, "changed": 0, "unchanged": 0, "rejected": 0}
    assert listed("Tahap 2 2025", "BLT-KESRA") == {kk: ("belum", None, None, "", "pos", 900000)
                                                   for kk in (KK1, KK2, KK3)}
    batch = ImportBatch.get_by_id(result["batch_id"])
    assert (batch.kind, batch.state, batch.version_label) == ("penerima", "applied", "BLT-KESRA — Tahap 2 2025")
    events = AuditEvent.select().where(AuditEvent.import_batch == batch)
    assert sorted((e.action, e.entity) for e in events) == sorted(
        [("import.apply", "import_batch"), ("periode.dibuat", "period")] + [("import.create", "disbursement")] * 3)
    assert {e.username for e in events} == {"operator"}


def test_siks_ng_bnba_with_only_nik_and_nama_finds_families_through_the_nik(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO", "NIK", "NAMA"], ["1", nik(2, True), "SITI AMINAH"], ["2", nik(4), "DEDI KURNIA"]]
    preview = penerima.preview(stage(tmp_path, rows, program="SEMBAKO"))
    assert rows_of(preview, "by_nik") == [2, 3] and preview["warnings"] == []
    assert [item["household_id"] for item in preview["categories"]["by_nik"]] == [
        Household.get(no_kk=KK1).id, Household.get(no_kk=KK2).id]
    penerima.apply(stage(tmp_path, rows, program="SEMBAKO"))
    assert set(listed(code="SEMBAKO")) == {KK1, KK2}
    assert Disbursement.select().where(Disbursement.person.is_null(False)).count() == 0


def test_name_variants_are_applied_with_both_names_as_a_warning(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "NIK PENGURUS", "NAMA PENGURUS"], [KK1, nik(2, True), "SITI AMINA"],
            [KK2, nik(5, True), " siti   AMINAH "], [KK3, "", "Rahmat Hidayat"]]
    preview = penerima.preview(stage(tmp_path, rows))
    assert rows_of(preview, "name_differs") == [2, 4] and rows_of(preview, "matched") == [3]
    first, third = preview["categories"]["name_differs"]
    assert (first["nama"], first["data_name"]) == ("SITI AMINA", "Siti Aminah")
    assert (third["nama"], third["data_name"]) == ("Rahmat Hidayat", "Asep Saepudin")
    assert [w["text"] for w in preview["warnings"]] == [
        'Baris 2, kolom "NAMA PENGURUS": nama di berkas "SITI AMINA", di data "Siti Aminah"; NIK yang menentukan, '
        "baris tetap diterapkan",
        'Baris 4, kolom "NAMA PENGURUS": nama di berkas "Rahmat Hidayat" tidak ada di KK ini (kepala keluarga di '
        'data: "Asep Saepudin"); No KK yang menentukan, baris tetap diterapkan']
    assert preview["counts"]["new"] == 3 and preview["rejected"] == []


def test_unknown_recipients_are_left_out_with_their_reason_and_kept_with_the_batch(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "NIK", "NAMA"], [KK1, "", "Budi Santoso"], [UNKNOWN_KK, nik(90), "Ujang Sobari"],
            ["", nik(91), "Cucu Komariah"]]
    preview = penerima.preview(stage(tmp_path, rows))
    assert rows_of(preview, "matched") == [2] and rows_of(preview, "not_found") == [3, 4]
    assert [m for r in preview["rejected"] for m in r["messages"]] == [
        f'Baris 3, kolom "NO KK": No KK {UNKNOWN_KK} dan NIK {nik(90)} tidak ada di data desa',
        f'Baris 4, kolom "NIK": NIK {nik(91)} tidak ada di data desa; tanpa No KK tidak dapat dicatat sebagai KK '
        "di luar data DTSEN"]
    assert preview["counts"]["acceptable"] == 1
    result = penerima.apply(stage(tmp_path, rows))
    assert result["counts"] == {"new": 1, "changed": 0, "unchanged": 0, "rejected": 2}
    kept = ImportRejection.of_batch(result["batch_id"])
    assert [(r["row"], r["values"]["NAMA"]) for r in kept] == [(3, "Ujang Sobari"), (4, "Cucu Komariah")]
    assert Household.select().count() == 3


def test_accepted_unmatched_rows_become_households_outside_dtsen(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "NIK", "NAMA"], [UNKNOWN_KK, nik(90), "Ujang Sobari"], [OTHER_KK, "", ""],
            ["", nik(91), "Cucu Komariah"]]
    preview = penerima.preview(stage(tmp_path, rows), accept_unmatched=True)
    counts = preview["counts"]
    assert (counts["accepted"], counts["households_new"], counts["persons_new"], counts["rejected"]) == (2, 2, 1, 1)
    result = penerima.apply(stage(tmp_path, rows), accept_unmatched=True)
    assert result["households_created"] == 2 and result["counts"]["rejected"] == 1
    assert result["version_label"] == "PKH — Tahap 2 2026 (termasuk KK di luar DTSEN)"
    outside = Household.get(no_kk=UNKNOWN_KK)
    assert (outside.in_dtsen, Household.get(no_kk=OTHER_KK).in_dtsen, Household.get(no_kk=KK1).in_dtsen) == (
        False, False, True)
    ujang = Person.get(nik=nik(90))
    assert (ujang.household_id, ujang.nama, ujang.hubungan) == (outside.id, "Ujang Sobari", "kepala")
    assert set(listed()) == {UNKNOWN_KK, OTHER_KK}
    created = {(e.entity, e.field) for e in AuditEvent.select().where(AuditEvent.action == "import.create")}
    assert created >= {("household", "no_kk"), ("person", "nik"), ("disbursement", "status")}


def test_the_same_recipient_twice_in_a_file_rejects_every_such_row(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "NIK", "NAMA"], [KK1, "", "Budi Santoso"], ["", nik(2, True), "Siti Aminah"],
            [KK2, "", "Dedi Kurnia"],
            [KK2, "", "Dedi Kurnia"], [KK3, "", "Asep Saepudin"], [UNKNOWN_KK, "", "X"], [UNKNOWN_KK, "", "X"]]
    preview = penerima.preview(stage(tmp_path, rows), accept_unmatched=True)
    assert rows_of(preview, "duplicate") == [2, 3, 4, 5, 7, 8] and rows_of(preview, "matched") == [6]
    messages = [m for r in preview["rejected"] for m in r["messages"]]
    assert messages[:2] == ['Baris 2, kolom "NO KK": penerima ganda di berkas (sama dengan baris 3); semua barisnya '
                            "ditolak",
                            'Baris 3, kolom "NIK": penerima ganda di berkas (sama dengan baris 2); semua barisnya '
                            "ditolak"]
    assert len(messages) == 6 and preview["counts"]["new"] == 1


def test_reimporting_the_same_list_changes_nothing(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "STATUS", "TGL CAIR"], [KK1, "SUDAH SALUR", "02-05-2026"], [KK2, "BELUM", ""]]
    first = penerima.apply(stage(tmp_path, rows, "a.xlsx"))
    before = snapshot()
    again = penerima.apply(stage(tmp_path, rows, "a.xlsx"))
    assert again["already_applied"] is True and again["batch_id"] == first["batch_id"]
    assert penerima.preview(stage(tmp_path, rows, "a.xlsx"))["already_applied"]["batch_id"] == first["batch_id"]
    assert snapshot() == before
    preview = penerima.preview(stage(tmp_path, rows, "b.csv"))
    assert rows_of(preview, "already") == [2, 3] and preview["counts"]["unchanged"] == 2
    result = penerima.apply(stage(tmp_path, rows, "b.csv"))
    assert result["counts"] == {"new": 0, "changed": 0, "unchanged": 2, "rejected": 0}
    assert snapshot()["disbursement"] == before["disbursement"]
    assert AuditEvent.select().where(AuditEvent.entity == "disbursement").count() == 2


def test_same_file_into_another_period_is_a_new_list(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK"], [KK1], [KK2]]
    penerima.apply(stage(tmp_path, rows, program="BLT-DD", period="Januari 2026"))
    result = penerima.apply(stage(tmp_path, rows, program="BLT-DD", period="Februari 2026"))
    assert result["already_applied"] is False and result["counts"]["new"] == 2
    assert listed("Februari 2026", "BLT-DD") == listed("Januari 2026", "BLT-DD")


def test_a_changed_status_date_or_reason_is_an_update_old_to_new(app, tmp_path):
    with app.app_context(), database.db.connection_context():
        village(tmp_path)
        penerima.apply(stage(tmp_path, [["NO KK", "STATUS"], [KK1, "PROSES"], [KK2, "PROSES"], [KK3, "PROSES"]]))
        user = User.get_by_id(add_user(app, "operator", "operator"))
        rows = [["NO KK", "STATUS", "TANGGAL SALUR", "ALASAN", "JALUR"], [KK1, "DIBAYAR", "15/05/2026", "", ""],
                [KK2, "RETUR", "20-05-2026", "REKENING TIDAK AKTIF", "KANTOR POS"], [KK3, "", "", "", ""]]
        staged = stage(tmp_path, rows, "status.xlsx")
        preview = penerima.preview(staged)
        assert rows_of(preview, "already") == [2, 3, 4] and preview["counts"]["updated"] == 2
        changes = {item["row"]: item["changes"] for item in preview["categories"]["already"]}
        assert changes == {2: {"status": ["belum", "cair"], "status_date": [None, "2026-05-15"]},
                           3: {"status": ["belum", "tidak_cair"], "status_date": [None, "2026-05-20"],
                               "reason": [None, "rekening"], "channel": ["bank", "pos"]},
                           4: {}}
        ids = {d.household.no_kk: d.id for d in Disbursement.select()}
        result = penerima.apply(staged, user=user)
        assert result["counts"] == {"new": 0, "changed": 2, "unchanged": 1, "rejected": 0}
        assert listed()[KK1] == ("cair", "2026-05-15", None, "", "bank", 750000)
        assert listed()[KK2] == ("tidak_cair", "2026-05-20", "rekening", "", "pos", 750000)
        rows_now = {d.id: d for d in Disbursement.select()}
        assert [rows_now[ids[kk]].version for kk in (KK1, KK2, KK3)] == [2, 2, 1]
        assert rows_now[ids[KK1]].updated_by_id == user.id
        audited = [(e.entity_id, e.field, e.old, e.new) for e in AuditEvent.select()
                   .where((AuditEvent.import_batch == result["batch_id"]) & (AuditEvent.action == "import.update"))
                   .order_by(AuditEvent.id)]
        assert audited == [(ids[KK1], "status", "belum", "cair"), (ids[KK1], "status_date", None, "2026-05-15"),
                           (ids[KK2], "status", "belum", "tidak_cair"), (ids[KK2], "status_date", None, "2026-05-20"),
                           (ids[KK2], "reason", None, "rekening"), (ids[KK2], "channel", "bank", "pos")]


def test_a_list_without_status_never_resets_statuses_already_learned(db_conn, tmp_path):
    village(tmp_path)
    penerima.apply(stage(tmp_path, [["NO KK"], [KK1], [KK2]], "a.xlsx"))
    row = Disbursement.get(Disbursement.household == Household.get(no_kk=KK1))
    ledger.change_status(row.id, 1, ledger.StatusChange.from_form({"status": "cair", "status_date": "2026-05-02"}),
                         None)
    named = [["NO KK", "NAMA"], [KK1, "Budi Santoso"], [KK2, "Dedi Kurnia"], [KK3, "Asep Saepudin"]]
    result = penerima.apply(stage(tmp_path, named, "b.xlsx"))
    assert result["counts"] == {"new": 1, "changed": 0, "unchanged": 2, "rejected": 0}
    assert listed()[KK1][:2] == ("cair", "2026-05-02") and listed()[KK3][0] == "belum"


@pytest.mark.parametrize("word, status", [
    ("sudah dibayar", "cair"), ("Sudah Salur", "cair"), ("SALUR", "cair"), ("dibayar", "cair"), ("cair", "cair"),
    ("Sudah cair", "cair"), ("belum", "belum"), ("BELUM SALUR", "belum"), ("belum dibayar", "belum"),
    ("proses", "belum"), ("MENUNGGU", "belum"), ("Belum cair", "belum"), ("gagal", "tidak_cair"),
    ("GAGAL SALUR", "tidak_cair"), ("retur", "tidak_cair"), ("dikembalikan", "tidak_cair"), ("DITOLAK", "tidak_cair"),
    ("tidak cair", "tidak_cair"), ("Tidak_cair", "tidak_cair"), ("ditunda", None), ("1", None),
])
def test_status_words_of_design_md(word, status):
    assert normalise.status_key(word) == status


@pytest.mark.parametrize("text, reason", [
    ("REKENING TIDAK AKTIF", "rekening"), ("rek tdk aktif", "rekening"), ("KKS terblokir", "rekening"),
    ("Rekening/KKS bermasalah", "rekening"), ("MENINGGAL", "meninggal"), ("KPM meninggal dunia", "meninggal"),
    ("PINDAH DOMISILI", "pindah"), ("TIDAK DITEMUKAN", "tidak_ditemukan"), ("NIK GANDA", "ganda"),
    ("SP2D belum turun", "sp2d_belum"), ("KKS BELUM DIBAGIKAN", "kks_belum"),
    ("Data tidak padan Dukcapil", "tidak_padan"), ("TIDAK PADAN", "tidak_padan"),
    ("NAMA BEDA dengan KTP", "nama_ttl_beda"), ("Nama/tanggal lahir berbeda", "nama_ttl_beda"),
    ("Tidak layak/dicoret", "tidak_layak"), ("lainnya", "lainnya"), ("tidak mau mengambil", None),
])
def test_reason_text_maps_onto_the_reason_list(text, reason):
    assert normalise.reason_key(text) == reason


@pytest.mark.parametrize("cell, channel", [
    ("BRI", "bank"), ("Bank Mandiri", "bank"), ("BNI", "bank"), ("BSI", "bank"), ("btn", "bank"), ("KKS", "bank"),
    ("Bank/KKS", "bank"), ("POS", "pos"), ("KANTOR POS", "pos"), ("PT Pos Indonesia", "pos"), ("Kantor Pos", "pos"),
    ("TUNAI", "tunai"), ("Desa", "tunai"), ("Kantor Desa", "tunai"), ("Tunai di desa", "tunai"), ("Lainnya", "lainnya"),
])
def test_channel_words(cell, channel):
    assert normalise.channel(cell) == channel


def test_unknown_channel_word_warns_and_takes_the_default():
    assert normalise.channel("GOPAY") == normalise.Warned(None, "jalur tidak dikenali (GOPAY): dipakai jalur bawaan "
                                                                "periode")
    assert normalise.channel("  ") is normalise.NOT_GIVEN


@pytest.mark.parametrize("cell, amount", [
    (600000.0, 600000), ("600.000", 600000), ("600,000", 600000), ("Rp 600.000,00", 600000), ("Rp600.000,-", 600000),
    ("1.500.000", 1500000), ("900000", 900000), ("", normalise.NOT_GIVEN), ("-", normalise.NOT_GIVEN),
])
def test_amounts(cell, amount):
    assert normalise.amount(cell) == amount


@pytest.mark.parametrize("cell", ["enam ratus ribu", -5.0, 600000.5, "200.000.000", True])
def test_bad_amounts_are_refused(cell):
    with pytest.raises(normalise.Invalid):
        normalise.amount(cell)


def test_statuses_and_reasons_from_a_crafted_file(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "STATUS PENYALURAN", "TGL CAIR", "ALASAN", "KETERANGAN"],
            [KK1, "SUDAH SALUR", "15-05-2026", "", "diambil istri"],
            [KK2, "gagal", "", "", "rek tdk aktif"],
            [KK3, "DITOLAK", "", "tidak mau mengambil", "dua kali dikunjungi"],
            [UNKNOWN_KK, "GAGAL SALUR", "", "", ""],
            [OTHER_KK, "SUDAH SALUR", "01-07-2026", "", ""]]
    staged = stage(tmp_path, rows)
    assert [m for r in staged["rejected"] for m in r["messages"]] == [
        'Baris 5, kolom "ALASAN": status tidak cair memerlukan alasan: isi kolom alasan atau keterangan',
        'Baris 6, kolom "TGL CAIR": tanggal di masa depan (01-07-2026)']
    assert [(r["status"], r.get("status_date"), r.get("reason"), r.get("note")) for r in staged["records"]] == [
        ("cair", "2026-05-15", None, "diambil istri"), ("tidak_cair", None, "rekening", None),
        ("tidak_cair", None, "lainnya", "tidak mau mengambil; dua kali dikunjungi")]
    penerima.apply(staged)
    assert listed() == {KK1: ("cair", "2026-05-15", None, "diambil istri", "bank", 750000),
                        KK2: ("tidak_cair", None, "rekening", "", "bank", 750000),
                        KK3: ("tidak_cair", None, "lainnya", "tidak mau mengambil; dua kali dikunjungi", "bank",
                              750000)}


def test_unknown_status_words_are_listed_and_must_be_mapped(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "STATUS"], [KK1, "DITUNDA"], [KK2, "ditunda "], [KK3, "Sudah cair"]]
    staged = stage(tmp_path, rows)
    assert [(w["word"], w["rows"]) for w in staged["unknown_statuses"]] == [("DITUNDA", [2, 3])]
    preview = penerima.preview(staged)
    assert preview["refused"].startswith('Kata status "DITUNDA" tidak dikenal.')
    assert rows_of(preview, "matched") == [2, 3, 4]
    with pytest.raises(Refused, match="DITUNDA"):
        penerima.apply(staged)
    assert Disbursement.select().count() == 0
    mapped = stage(tmp_path, rows, status_map={"Ditunda": "belum"})
    assert mapped["unknown_statuses"] == [] and penerima.preview(mapped)["refused"] is None
    penerima.apply(mapped)
    assert [value[0] for value in listed().values()] == ["belum", "belum", "cair"]
    wrong = stage(tmp_path, rows, status_map={"DITUNDA": "nanti"})
    assert wrong["refused"] == ('Pemetaan status: pemetaan status "DITUNDA=nanti" tidak dikenal: pilih belum, cair '
                                "atau tidak_cair.")


def test_period_year_comes_from_the_argument_then_the_label_then_today(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK"], [KK1]]
    for label, year, expected in (("Tahap 1", 2025, 2025), ("Tahap 3 2025", None, 2025),
                                  ("Tahap Susulan", None, date.today().year)):
        preview = penerima.preview(stage(tmp_path, rows, f"{label}.xlsx", period=label, year=year))
        assert (preview["period"]["new"], preview["period"]["year"]) == (True, expected)
        penerima.apply(stage(tmp_path, rows, f"{label}.xlsx", period=label, year=year))
        assert Period.get(label=label).year == expected
    again = penerima.preview(stage(tmp_path, [["NO KK"], [KK2]], period="tahap 3  2025", year=2024))
    assert again["period"]["new"] is False and again["period"]["label"] == "Tahap 3 2025"
    assert "Periode Tahap 3 2025 sudah ada (tahun 2025); tahun 2024 diabaikan." in again["notices"]
    assert stage(tmp_path, rows, year=1999)["refused"] == ("Tahun 1999 tidak masuk akal: tulis tahun empat angka, "
                                                           "mis. 2026.")


def test_new_period_amount_and_channel_defaults(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK", "BANK", "NILAI"], [KK1, "BRI", ""], [KK2, "", "500.000"], [KK3, "GOPAY", ""]]
    staged = stage(tmp_path, rows, program="BLT-DD", period="Januari 2026", channel="tunai")
    assert [w["text"] for w in staged["warnings"]] == [
        'Baris 4, kolom "BANK": jalur tidak dikenali (GOPAY): dipakai jalur bawaan periode']
    penerima.apply(staged)
    assert Period.get(label="Januari 2026").default_channel == "tunai"
    assert {kk: value[4:] for kk, value in listed("Januari 2026", "BLT-DD").items()} == {
        KK1: ("bank", 900000), KK2: ("tunai", 500000), KK3: ("tunai", 900000)}
    nxt = penerima.preview(stage(tmp_path, [["NO KK"], [KK1]], program="BLT-DD", period="Februari 2026"))
    assert (nxt["period"]["default_channel"], nxt["channel"]) == ("tunai", "tunai")


def test_programme_and_period_must_be_known_and_open(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NO KK"], [KK1]]
    assert stage(tmp_path, rows, program=None)["refused"].startswith("Sebutkan programnya")
    assert stage(tmp_path, rows, period=" ")["refused"].startswith("Sebutkan periodenya")
    unknown = penerima.preview(stage(tmp_path, rows, program="PKH-X"))
    assert unknown["refused"].startswith("Program PKH-X tidak ada.") and "PKH, SEMBAKO" in unknown["refused"]
    penerima.apply(stage(tmp_path, rows, "a.xlsx"))
    Period.update(closed=True).execute()
    staged = stage(tmp_path, [["NO KK"], [KK2]], "b.xlsx")
    assert penerima.preview(staged)["refused"].startswith("Periode Tahap 2 2026 (PKH) sudah ditutup")
    before = snapshot()
    with pytest.raises(Refused, match="sudah ditutup"):
        penerima.apply(staged)
    assert snapshot() == before


def test_jiwa_programmes_list_persons_found_by_nik(db_conn, tmp_path):
    village(tmp_path)
    rows = [["NIK", "NO KK", "NAMA"], [nik(3, True), KK1, "Rina"], [nik(6, True), KK1, "Rina"], ["", KK2, "Dedi"],
            [nik(92), KK1, "Yayan"], [nik(93), "", "Yuyun"]]
    preview = penerima.preview(stage(tmp_path, rows, program="PIP"), accept_unmatched=True)
    assert rows_of(preview, "matched") == [2, 3] and rows_of(preview, "not_found") == [4, 5, 6]
    assert [w["text"] for w in preview["warnings"]] == [
        f'Baris 3, kolom "NO KK": NIK ini terdaftar di KK lain (No KK {KK2} di data desa); NIK yang menentukan']
    assert [m for r in preview["rejected"] for m in r["messages"]] == [
        'Baris 4, kolom "NO KK": program sasaran jiwa: NIK penerima kosong',
        f'Baris 6, kolom "NIK": NIK {nik(93)} tidak ada di data desa; tanpa No KK tidak dapat dicatat di luar data '
        "DTSEN"]
    penerima.apply(stage(tmp_path, rows, program="PIP"), accept_unmatched=True)
    persons = [d.person.nik for d in Disbursement.select().order_by(Disbursement.id)]
    assert persons == [nik(3, True), nik(6, True), nik(92)]
    yayan = Person.get(nik=nik(92))
    assert (yayan.household.no_kk, yayan.hubungan, yayan.household.in_dtsen) == (KK1, "lainnya", True)


def test_double_aid_is_warned_in_the_preview(app, tmp_path):
    with app.app_context(), database.db.connection_context():
        village(tmp_path)
        penerima.apply(stage(tmp_path, [["NO KK"], [KK1], [KK2]], "bltdd.xlsx", program="BLT-DD",
                             period="Januari 2026"))
        penerima.apply(stage(tmp_path, [["NO KK"], [KK3]], "bltdd-lama.xlsx", program="BLT-DD", period="Juni 2025"))
        pkh = Program.get(code="PKH")
        Period.create(program=pkh, label="Tahap 1 2026", year=2026, start_date=date(2026, 1, 1),
                      end_date=date(2026, 3, 31))
        Period.create(program=pkh, label="Tahap 1b 2026", year=2026, start_date=date(2026, 3, 1),
                      end_date=date(2026, 4, 30))
        penerima.apply(stage(tmp_path, [["NO KK"], [KK2]], "pkh1.xlsx", period="Tahap 1 2026"))
        staged = stage(tmp_path, [["NO KK"], [KK1], [KK2], [KK3]], "pkh1b.xlsx", period="Tahap 1b 2026")
        preview = penerima.preview(staged)
        assert [(item["row"], item["messages"]) for item in preview["double_aid"]] == [
            (2, ["PKH (Tahap 1b 2026) tidak boleh bersamaan dengan BLT-DD (Januari 2026)"]),
            (3, ["PKH (Tahap 1b 2026) tidak boleh bersamaan dengan BLT-DD (Januari 2026)",
                 "PKH juga diterima pada Tahap 1 2026, yang waktunya bertumpuk dengan Tahap 1b 2026"])]
        assert preview["counts"]["double_aid"] == 2 and preview["counts"]["new"] == 3
        assert [w["text"] for w in preview["warnings"]] == [
            'Baris 2, 3, kolom "NO KK": bantuan ganda: PKH (Tahap 1b 2026) tidak boleh bersamaan dengan BLT-DD '
            "(Januari 2026)",
            'Baris 3, kolom "NO KK": bantuan ganda: PKH juga diterima pada Tahap 1 2026, yang waktunya bertumpuk '
            "dengan Tahap 1b 2026"]
        assert penerima.preview(staged, exclusive={})["double_aid"][0]["row"] == 3
        penerima.apply(staged)
        household = Household.get(no_kk=KK1)
        assert ledger.double_aid([household.id], app.config["EXCLUSIVE_PROGRAMS"])[household.id]


class Boom(Exception):
    """Failure injected into an apply."""


def test_failure_mid_apply_leaves_the_database_exactly_as_it_was(db_conn, tmp_path, monkeypatch):
    village(tmp_path)
    penerima.apply(stage(tmp_path, [["NO KK"], [KK1]], "a.xlsx", program="BLT-DD", period="Januari 2026"))
    before = snapshot()
    rows = [["NO KK", "NIK", "NAMA", "STATUS"], [KK1, "", "Budi", "cair"], [KK2, "", "Dedi", "belum"],
            [UNKNOWN_KK, nik(90), "Ujang", "belum"]]
    staged = penerima.stage(write_xlsx(tmp_path / "b.xlsx", rows), program=None, period=None, today=TODAY)
    assert staged["refused"]
    staged = stage(tmp_path, rows, "b.xlsx", program="BLT-DD", period="Januari 2026")
    other = stage(tmp_path, rows, "c.xlsx", program="PKH", period="Tahap 9 2026")

    def failing_audit(self, events):
        raise Boom()

    monkeypatch.setattr(applying.Writer, "audit", failing_audit)
    for attempt in (staged, other):
        with pytest.raises(Boom):
            penerima.apply(attempt, accept_unmatched=True)
        assert snapshot() == before
    monkeypatch.undo()
    seen = []
    penerima.apply(other, accept_unmatched=True, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5) and Period.get(label="Tahap 9 2026").year == 2026


def test_staged_list_survives_a_json_round_trip(db_conn, tmp_path):
    village(tmp_path)
    staged = stage(tmp_path, [["NO KK", "STATUS", "TGL CAIR"], [KK1, "cair", "01-05-2026"]])
    staging.save(staged, tmp_path / "staged.json")
    result = penerima.apply(staging.load(tmp_path / "staged.json"))
    assert result["counts"]["new"] == 1 and listed()[KK1][:2] == ("cair", "2026-05-01")


def add_sheet(book, name, rows):
    """A worksheet with str cells as text and numbers as numbers."""
    sheet = book.add_worksheet(name)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if isinstance(cell, str):
                sheet.write_string(r, c, cell)
            elif cell is not None:
                sheet.write_number(r, c, cell)


def opensid_file(path, peserta, sasaran=1, nama="Bantuan Sosial Tunai", start="2026-04-01", end="2026-06-30",
                 asal="1"):
    """OpenSID's programme-participant workbook: sheet Program (key, value rows) and sheet Peserta."""
    book = xlsxwriter.Workbook(str(path))
    add_sheet(book, "Program", [["ID Program", "7"], ["Nama Program", nama], ["Sasaran Program", sasaran],
                                ["Keterangan", "Bantuan Kementerian Sosial"], ["Asal Dana", asal],
                                ["Rentang Waktu (Awal)", start], ["Rentang Waktu (Akhir)", end], ["###", ""],
                                ["Catatan:", ""], ["2. Sasaran : 1 = Penduduk, 2 = Keluarga", ""]])
    add_sheet(book, "Peserta", [["Peserta", "No. Peserta", "NIK", "Nama", "Tempat Lahir", "Tanggal Lahir", "Alamat"],
                                *peserta, ["###", "", "", "", "", "", ""], ["Catatan:"],
                                ["1. Sesuaikan kolom peserta (A) berdasarkan sasaran"]])
    book.close()
    return path


def test_opensid_programme_file_built_here_creates_programme_and_period(db_conn, tmp_path):
    village(tmp_path)
    peserta = [[nik(1), "1", nik(1), "BUDI SANTOSO", "GARUT", "1980-05-20", "RT 001"],
               [nik(7), "2", nik(7), "ASEP SAEPUDIN", "GARUT", "1980-05-20", "RT 001"]]
    path = opensid_file(tmp_path / "bst.xlsx", peserta)
    staged = penerima.stage(path, today=TODAY)
    assert staged["refused"] is None and staged["sheet"] == "Peserta"
    assert staged["opensid"] == {"nama": "Bantuan Sosial Tunai", "sasaran": "jiwa", "sumber_dana": "Pusat",
                                 "start_date": "2026-04-01", "end_date": "2026-06-30"}
    preview = penerima.preview(staged)
    assert preview["program"] == {"id": None, "code": "BST", "nama": "Bantuan Sosial Tunai", "sasaran": "jiwa",
                                  "sumber_dana": "Pusat", "new": True}
    assert (preview["period"]["label"], preview["period"]["year"], preview["period"]["new"]) == (
        "1 April 2026 – 30 Juni 2026", 2026, True)
    assert rows_of(preview, "matched") == [2, 3]
    result = penerima.apply(staged)
    assert result["program_created"] and result["period_created"]
    program = Program.get(code="BST")
    period = Period.get(program=program)
    assert (program.sasaran, program.sumber_dana, period.start_date, period.end_date) == (
        "jiwa", "Pusat", date(2026, 4, 1), date(2026, 6, 30))
    assert [d.person.nik for d in Disbursement.select().order_by(Disbursement.id)] == [nik(1), nik(7)]
    assert {e.action for e in AuditEvent.select().where(AuditEvent.import_batch == result["batch_id"])} >= {
        "program.dibuat", "periode.dibuat"}
    again = penerima.preview(penerima.stage(opensid_file(tmp_path / "bst2.xlsx", peserta[:1]), today=TODAY))
    assert again["program"]["new"] is False and again["period"]["new"] is False
    assert rows_of(again, "already") == [2]


def test_opensid_keluarga_file_takes_the_no_kk_from_peserta(db_conn, tmp_path):
    village(tmp_path)
    Program.create(code="BANSOS-DESA", nama="Bantuan  desa", sasaran="keluarga", default_amount=250000,
                   sumber_dana="Dana Desa")
    peserta = [[KK1, "1", nik(1), "BUDI SANTOSO", "", "", ""], [KK2, "2", nik(5, True), "Siti Aminah", "", "", ""]]
    staged = penerima.stage(opensid_file(tmp_path / "desa.xlsx", peserta, sasaran=2, nama="BANTUAN DESA", asal=4),
                            today=TODAY)
    preview = penerima.preview(staged)
    assert preview["program"]["code"] == "BANSOS-DESA" and preview["program"]["new"] is False
    assert rows_of(preview, "matched") == [2, 3] and preview["period"]["amount"] == 250000
    assert staged["opensid"]["sumber_dana"] == "Dana Desa"


@pytest.mark.parametrize("sasaran, message", [
    (3, "sasaran rumah tangga dan kelompok belum didukung"), (9, "sasaran 9 tidak dikenal"),
])
def test_opensid_rumah_tangga_and_kelompok_are_refused(tmp_path, sasaran, message):
    staged = penerima.stage(opensid_file(tmp_path / "rt.xlsx", [[nik(1), "1", nik(1), "A", "", "", ""]], sasaran),
                            today=TODAY)
    assert staged["refused"].startswith('Lembar "Program", baris 3 (Sasaran Program)') and message in staged["refused"]


def test_opensid_without_dates_needs_a_period(tmp_path):
    path = opensid_file(tmp_path / "x.xlsx", [[nik(1), "1", nik(1), "A", "", "", ""]], start="", end="")
    assert penerima.stage(path, today=TODAY)["refused"].startswith('Lembar "Program" tidak berisi Rentang Waktu')
    assert penerima.stage(path, period="Tahap 1 2026", today=TODAY)["refused"] is None
    bad = opensid_file(tmp_path / "y.xlsx", [], start="31-31-2026")
    assert penerima.stage(bad, today=TODAY)["refused"] == (
        'Lembar "Program", baris 6 (Rentang Waktu (Awal)): tanggal tidak ada (31-31-2026).')


@pytest.mark.skipif(not (OPENSID / "format_impor_program_bantuan.xlsx").exists(),
                    reason="../shared/fixtures/opensid/ is absent: OpenSID's sample files are not on this machine")
def test_opensid_sample_programme_file_matches_after_its_population_file(db_conn):
    dtsen.apply(dtsen.stage(OPENSID / "contoh_penduduk.xlsx", today=TODAY), "OpenSID contoh")
    staged = penerima.stage(OPENSID / "format_impor_program_bantuan.xlsx", today=TODAY)
    assert staged["refused"] is None and staged["rejected"] == []
    preview = penerima.preview(staged)
    assert rows_of(preview, "matched") == [2, 3] and preview["warnings"] == []
    assert (preview["program"]["nama"], preview["program"]["sasaran"], preview["program"]["new"]) == (
        "Bantuan Sosial Tunai", "jiwa", True)
    assert (preview["period"]["label"], preview["period"]["year"]) == ("1 April 2020 – 31 Desember 2020", 2020)
    penerima.apply(staged)
    assert sorted(d.person.nama for d in Disbursement.select()) == ["AHLUL", "AHMAD HABIB"]


def counts(app):
    """(households, disbursements, batches, periods) in the app's database."""
    with app.app_context(), database.db.connection_context():
        return (Household.select().count(), Disbursement.select().count(), ImportBatch.select().count(),
                Period.select().count())


def run(runner, *args):
    """Invoke flask import-penerima with arguments."""
    return runner.invoke(args=["import-penerima", *map(str, args)])


@pytest.fixture
def desa(app, tmp_path):
    """The app with the three DTSEN families."""
    with app.app_context(), database.db.connection_context():
        village(tmp_path)
    return app


def test_cli_applies_a_clean_list_with_status_0_and_says_the_period_was_created(desa, runner, tmp_path):
    path = write_xlsx(tmp_path / "pos.xlsx", [["NO KK", "NAMA"], [KK1, "Budi Santoso"], [KK2, "Dedi Kurnia"]])
    dry = run(runner, path, "--program", "blt-kesra", "--period", "Tahap 2 2025", "--channel", "pos", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Periode: Tahap 2 2025 (tahun 2025), belum ada: akan dibuat (nominal Rp900.000, jalur bawaan Kantor Pos)" \
        in dry.output
    assert "Uji coba (--dry-run): tidak ada yang ditulis." in dry.output and counts(desa) == (3, 0, 1, 0)
    result = run(runner, path, "--program", "BLT-KESRA", "--period", "Tahap 2 2025", "--channel", "pos")
    assert result.exit_code == 0, result.output
    assert ("Baris data: 2 (2 cocok, 0 cocok lewat NIK saja, 0 nama berbeda, 0 tidak ada di data desa, 0 ganda di "
            "berkas, 0 sudah ada di daftar periode ini, 0 ditolak karena isi selnya)") in result.output
    assert result.output.splitlines()[-2:] == ['Periode "Tahap 2 2025" (tahun 2025) dibuat.',
                                               'Diterapkan: batch #2 "BLT-KESRA — Tahap 2 2025".']
    assert counts(desa) == (3, 2, 2, 1)
    again = run(runner, path, "--program", "BLT-KESRA", "--period", "Tahap 2 2025")
    assert again.exit_code == 0 and "sudah pernah diimpor (batch #2" in again.output and counts(desa) == (3, 2, 2, 1)


def test_cli_left_out_rows_give_status_3_and_are_listed(desa, runner, tmp_path):
    rows = [["NO KK", "NIK", "NAMA", "STATUS"], [KK1, nik(2, True), "SITI AMINA", "SALUR"], [UNKNOWN_KK, "", "X", ""],
            [KK2, "", "Dedi Kurnia", "GAGAL"]]
    path = write_xlsx(tmp_path / "daftar.xlsx", rows)
    dry = run(runner, path, "--program", "PKH", "--period", "Tahap 2 2026", "--dry-run")
    assert dry.exit_code == 3, dry.output
    assert counts(desa) == (3, 0, 1, 0)
    result = run(runner, path, "--program", "PKH", "--period", "Tahap 2 2026")
    assert result.exit_code == 3
    assert ("Baris dibiarkan (2):\n"
            f'  Baris 3, kolom "NO KK": No KK {UNKNOWN_KK} tidak ada di data desa\n'
            '  Baris 4, kolom "STATUS": status tidak cair memerlukan alasan: isi kolom alasan atau keterangan') \
        in result.output
    assert ('Peringatan (1):\n  Baris 2, kolom "NAMA": nama di berkas "SITI AMINA", di data "Siti Aminah"; NIK yang '
            "menentukan, baris tetap diterapkan") in result.output
    assert ("1 baris yang tidak ada di data desa dapat dicatat sebagai KK di luar data DTSEN dengan "
            "--accept-unmatched.") in result.output
    assert counts(desa) == (3, 1, 2, 1)
    accepted = run(runner, path, "--program", "PKH", "--period", "Tahap 2 2026", "--accept-unmatched")
    assert accepted.exit_code == 3 and "1 KK di luar data DTSEN dicatat." in accepted.output
    assert counts(desa) == (4, 2, 3, 1)


@pytest.mark.parametrize("args, message", [
    (["--program", "PKH"], "Sebutkan periodenya"),
    (["--period", "Tahap 1 2026"], "Sebutkan programnya"),
    (["--program", "XYZ", "--period", "Tahap 1 2026"], "Program XYZ tidak ada."),
    (["--program", "PKH", "--period", "Tahap 1 2026", "--status-map", "X=nanti"], 'pemetaan status "X=nanti"'),
])
def test_cli_refused_gives_status_2_and_writes_nothing(desa, runner, tmp_path, args, message):
    path = write_xlsx(tmp_path / "daftar.xlsx", [["NO KK", "STATUS"], [KK1, "DITUNDA"]])
    for extra in (["--dry-run"], []):
        result = run(runner, path, *args, *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert counts(desa) == (3, 0, 1, 0)


def test_cli_unknown_status_words_need_status_map(desa, runner, tmp_path):
    path = write_xlsx(tmp_path / "daftar.xlsx", [["NO KK", "STATUS"], [KK1, "DITUNDA"], [KK2, "cair"]])
    refused = run(runner, path, "--program", "PKH", "--period", "Tahap 1 2026")
    assert refused.exit_code == 2
    assert 'Kata status tidak dikenal (1):\n  Baris 2, kolom "STATUS": kata status "DITUNDA" tidak dikenal' \
        in refused.output
    mapped = run(runner, path, "--program", "PKH", "--period", "Tahap 1 2026", "--status-map", "ditunda=belum")
    assert mapped.exit_code == 0, mapped.output
    assert counts(desa) == (3, 2, 2, 1)
    bad = run(runner, path, "--program", "PKH", "--period", "Tahap 1 2026", "--status-map", "ditunda")
    assert bad.exit_code == 2 and '"ditunda" harus berbentuk "KATA=status"' in bad.output


def test_cli_shows_updates_old_to_new(desa, runner, tmp_path):
    run(runner, write_xlsx(tmp_path / "a.xlsx", [["NO KK"], [KK1]]), "--program", "PKH", "--period", "Tahap 1 2026")
    path = write_xlsx(tmp_path / "b.xlsx", [["NO KK", "STATUS", "TGL CAIR"], [KK1, "SUDAH DIBAYAR", "02-05-2026"]])
    result = run(runner, path, "--program", "PKH", "--period", "Tahap 1 2026")
    assert result.exit_code == 0, result.output
    assert ("Diperbarui (1):\n  Baris 2: Status Belum cair → Sudah cair; Tanggal status – → 2026-05-02"
            in result.output)
