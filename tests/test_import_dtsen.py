"""DTSEN import against the database: preview, apply, audit, idempotence, atomicity, OpenSID, exports."""
import io
import json
from pathlib import Path

import openpyxl
import pytest

from webapp import db as database
from webapp import models
from webapp.importing import Refused
from webapp.importing import applying
from webapp.importing import dtsen
from webapp.importing import export
from webapp.importing import staging
from webapp.models import AuditEvent
from webapp.models import Household
from webapp.models import ImportBatch
from webapp.models import ImportRejection
from webapp.models import Person
from webapp.models import utcnow

from .test_import_reading import HEADER
from .test_import_reading import KK1
from .test_import_reading import KK2
from .test_import_reading import TODAY
from .test_import_reading import family
from .test_import_reading import nik
from .test_import_reading import person
from .test_import_reading import write_xlsx

OPENSID = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "opensid"
KK3 = "3205221203150003"
TABLES = ("household", "person", "audit_event", "import_batch", "import_rejection")


def stage(tmp_path, rows, name="dtsen.xlsx", **kwargs):
    """Write rows as .xlsx and stage them."""
    return dtsen.stage(write_xlsx(tmp_path / name, rows), today=TODAY, **kwargs)


def imported(tmp_path, rows, name="dtsen.xlsx", label="DTSEN Triwulan III 2025"):
    """Stage and apply rows; return the apply result."""
    return dtsen.apply(stage(tmp_path, rows, name), label)


def snapshot():
    """Every row of the tables an import writes, the name index's answers and the triggers."""
    rows = {table: database.db.execute_sql(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}
    rows["fts"] = database.db.execute_sql(
        "SELECT rowid FROM person_fts WHERE person_fts MATCH 'budi* OR siti* OR rina*' ORDER BY rowid").fetchall()
    rows["triggers"] = database.db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").fetchall()
    return rows


def stored_and_counted_jiwa():
    """({no_kk: stored jiwa}, {no_kk: living members counted one by one})."""
    households = list(Household.select())
    return ({h.no_kk: h.jiwa for h in households},
            {h.no_kk: sum(1 for p in h.persons if p.deleted_at is None and p.keberadaan in ("tinggal", "baru"))
             for h in households})


def test_new_file_previewed_then_applied(db_conn, tmp_path):
    staged = stage(tmp_path, [HEADER, *family(), *family(KK2, 4, desil="")])
    before = snapshot()
    preview = dtsen.preview(staged)
    assert snapshot() == before
    assert {k: preview["counts"][k] for k in ("rows", "rows_new", "households_new", "persons_new", "rejected")} == {
        "rows": 6, "rows_new": 6, "households_new": 2, "persons_new": 6, "rejected": 0}
    assert [h["no_kk"] for h in preview["households"]["new"]] == [KK1, KK2]
    json.dumps(preview)

    result = dtsen.apply(staged, "DTSEN Triwulan III 2025")
    assert result["already_applied"] is False and result["counts"] == {"new": 6, "changed": 0, "unchanged": 0,
                                                                        "rejected": 0}
    batch = ImportBatch.get_by_id(result["batch_id"])
    assert (batch.kind, batch.state, batch.version_label, batch.sha256) == ("dtsen", "applied",
                                                                           "DTSEN Triwulan III 2025", staged["sha256"])
    assert batch.applied_at is not None and ImportBatch.latest_dtsen() == batch
    household = Household.get(Household.no_kk == KK1)
    assert (household.desil, household.rt, household.rw, household.dusun, household.import_batch_id) == (
        3, "001", "002", "Sukamaju", batch.id)
    assert Household.get(Household.no_kk == KK2).desil is None
    kepala, istri, anak = household.members()
    assert (kepala.nik, kepala.nama, kepala.hubungan, kepala.jenis_kelamin, str(kepala.tanggal_lahir),
            kepala.keberadaan) == (nik(1), "Budi Santoso", "kepala", "L", "1980-05-20", "tinggal")
    assert (istri.hubungan, anak.hubungan, anak.nama) == ("istri", "anak", "Rina")
    assert [r.household.no_kk for r in models.search("rina").results] == [KK1, KK2]
    stored, counted = stored_and_counted_jiwa()
    assert stored == counted == {KK1: 3, KK2: 3}
    events = list(AuditEvent.select().where(AuditEvent.import_batch == batch))
    assert sorted((e.action, e.entity) for e in events) == sorted(
        [("import.apply", "import_batch")] + [("import.create", "household")] * 2 + [("import.create", "person")] * 6)


def test_changes_shown_old_to_new_and_applied_with_version_bump_and_audit(db_conn, tmp_path):
    imported(tmp_path, [HEADER, *family(desil="5"), *family(KK2, 4), person(KK3, 7, "Ujang")], "v1.xlsx")
    before = {p.nik: p for p in Person.select()}
    rows = [HEADER, person(desil="3", jk="", nama="Budi  Santoso"),
            person(KK1, 2, "Siti Aminah", "Istri", "P", keberadaan="Meninggal", desil="3"),
            person(KK2, 3, "Rina", "Anak", "P", "02-03-2010"),
            *family(KK2, 4), person(KK2, 10, "Bayi Baru", "Anak", "L", "01-01-2026", keberadaan="Anggota baru")]
    staged = stage(tmp_path, rows, "v2.xlsx")
    preview = dtsen.preview(staged)
    counts = preview["counts"]
    assert (counts["households_new"], counts["households_changed"], counts["households_unchanged"]) == (0, 1, 1)
    assert (counts["persons_new"], counts["persons_changed"], counts["persons_moved"],
            counts["persons_unchanged"]) == (1, 2, 1, 4)
    assert (counts["rows_new"], counts["rows_changed"], counts["rows_unchanged"]) == (1, 3, 3)
    assert preview["households"]["changed"] == [{"id": Household.get(no_kk=KK1).id, "no_kk": KK1, "row": 2,
                                                 "changes": {"desil": [5, 3]}}]
    changed = {p["nik"]: p for p in preview["persons"]["changed"]}
    assert changed[nik(2, True)]["changes"] == {"keberadaan": ["tinggal", "meninggal"]}
    assert changed[nik(3, True)]["move"] == [KK1, KK2] and changed[nik(3, True)]["changes"] == {"no_kk": [KK1, KK2]}
    assert preview["missing"] == {"households": [{"id": Household.get(no_kk=KK3).id, "no_kk": KK3, "dusun": "Sukamaju",
                                                  "rw": "002", "rt": "001", "alamat": "", "desil": 3}],
                                  "persons": [{"id": before[nik(7)].id, "nik": nik(7), "nama": "Ujang", "no_kk": KK3}]}

    result = dtsen.apply(staged, "v2")
    assert result["counts"] == {"new": 1, "changed": 3, "unchanged": 3, "rejected": 0}
    budi = Person.get(Person.nik == nik(1))
    assert (budi.jenis_kelamin, budi.nama, budi.version) == ("L", "Budi Santoso", 1)
    siti = Person.get(Person.nik == nik(2, True))
    assert (siti.keberadaan, siti.version) == ("meninggal", 2) and siti.updated_at > before[siti.nik].updated_at
    rina = Person.get(Person.nik == nik(3, True))
    assert rina.household.no_kk == KK2 and rina.version == 2
    household = Household.get(no_kk=KK1)
    assert (household.desil, household.version) == (3, 2)
    assert Person.get(Person.nik == nik(7)).deleted_at is None
    # Siti died and Rina moved to KK2, where a baby was born: the stored jiwa follow.
    stored, counted = stored_and_counted_jiwa()
    assert stored == counted and (stored[KK1], stored[KK2]) == (1, 5)
    batch = result["batch_id"]
    events = {(e.action, e.entity, e.entity_id, e.field, e.old, e.new)
              for e in AuditEvent.select().where(AuditEvent.import_batch == batch)}
    assert events == {
        ("import.apply", "import_batch", batch, "", None, "v2"),
        ("import.update", "household", household.id, "desil", "5", "3"),
        ("import.update", "person", siti.id, "keberadaan", "tinggal", "meninggal"),
        ("import.move", "person", rina.id, "no_kk", KK1, KK2),
        ("import.create", "person", Person.get(Person.nik == nik(10)).id, "nik", None, nik(10)),
    }


def test_rejected_rows_kept_with_the_batch_and_downloadable(db_conn, tmp_path):
    rows = [HEADER, person(), person(KK2, 2, "=HYPERLINK(\"x\")", NIK="3205-2220-0580-002"),
            person(KK2, 3, DESIL="11")]
    result = imported(tmp_path, rows)
    assert result["counts"] == {"new": 1, "changed": 0, "unchanged": 0, "rejected": 2}
    rejected = ImportRejection.of_batch(result["batch_id"])
    assert [(r["row"], r["messages"]) for r in rejected] == [
        (3, ['Baris 3, kolom "NIK": harus 16 angka (terbaca 15 angka)']),
        (4, ['Baris 4, kolom "DESIL": desil harus 1–10 (terbaca 11)'])]
    book = openpyxl.load_workbook(io.BytesIO(export.rejected_workbook(rejected)))
    sheet = book.active
    assert [c.value for c in sheet[1]] == [*HEADER, "BARIS ASAL", "ALASAN DITOLAK"]
    assert [c.value for c in sheet[2]][:3] == [KK2, "3205-2220-0580-002", "'=HYPERLINK(\"x\")"]
    assert sheet["A3"].value == KK2 and sheet["A3"].data_type == "s" and sheet["A3"].number_format == "@"
    assert sheet["M3"].value == 'Baris 4, kolom "DESIL": desil harus 1–10 (terbaca 11)'

    sheet["B2"].value, sheet["J3"].value = nik(2), "4"
    fixed = tmp_path / "perbaikan.xlsx"
    book.save(fixed)
    again = dtsen.apply(dtsen.stage(fixed, today=TODAY), "perbaikan")
    assert again["counts"] == {"new": 2, "changed": 0, "unchanged": 0, "rejected": 0}
    assert Person.get(Person.nik == nik(2)).nama == '=HYPERLINK("x")'


def test_same_file_again_changes_nothing(db_conn, tmp_path):
    rows = [HEADER, *family()]
    staged = stage(tmp_path, rows)
    first = dtsen.apply(staged, "v1")
    before = snapshot()
    preview = dtsen.preview(stage(tmp_path, rows))
    assert preview["already_applied"]["batch_id"] == first["batch_id"]
    again = dtsen.apply(staged, "v1 lagi")
    assert again["already_applied"] is True and again["batch_id"] == first["batch_id"]
    assert snapshot() == before


def test_same_data_in_another_file_is_all_unchanged(db_conn, tmp_path):
    imported(tmp_path, [HEADER, *family(), *family(KK2, 4)], "a.xlsx")
    before = snapshot()
    staged = dtsen.stage(write_xlsx(tmp_path / "b.csv.xlsx", [["Judul lain"], HEADER, *family(), *family(KK2, 4)]),
                         today=TODAY)
    preview = dtsen.preview(staged)
    assert preview["already_applied"] is None
    assert (preview["counts"]["rows_unchanged"], preview["counts"]["households_unchanged"],
            preview["counts"]["persons_unchanged"]) == (6, 2, 6)
    result = dtsen.apply(staged, "b")
    assert result["counts"] == {"new": 0, "changed": 0, "unchanged": 6, "rejected": 0}
    after = snapshot()
    for table in ("household", "person", "import_rejection"):
        assert after[table] == before[table]
    assert [row[4] for row in after["audit_event"][len(before["audit_event"]):]] == ["import.apply"]


def test_blank_optional_cells_keep_stored_values_but_blank_desil_clears_it(db_conn, tmp_path):
    imported(tmp_path, [HEADER, person(desil="4")], "a.xlsx")
    rows = [HEADER, person(jk="", lahir="", rt="", rw="-", dusun="", hubungan="", keberadaan="", desil="")]
    result = imported(tmp_path, rows, "b.xlsx")
    assert result["counts"]["changed"] == 1
    household = Household.get(no_kk=KK1)
    budi = Person.get(Person.nik == nik(1))
    assert (household.desil, household.rt, household.rw, household.dusun) == (None, "001", "002", "Sukamaju")
    assert (budi.jenis_kelamin, str(budi.tanggal_lahir), budi.hubungan, budi.keberadaan) == (
        "L", "1980-05-20", "kepala", "tinggal")


def test_soft_deleted_matches_come_back_as_new_with_a_warning(db_conn, tmp_path):
    imported(tmp_path, [HEADER, person()], "a.xlsx")
    Person.update(deleted_at=utcnow()).execute()
    Household.update(deleted_at=utcnow()).execute()
    staged = stage(tmp_path, [["Impor ulang"], HEADER, person()], "b.xlsx")
    preview = dtsen.preview(staged)
    assert [w["text"] for w in preview["warnings"]] == [
        'Baris 3, kolom "NO KK": No KK ini pernah dihapus dari data; akan dicatat sebagai KK baru',
        'Baris 3, kolom "NIK": NIK ini pernah dihapus dari data; akan dicatat sebagai orang baru']
    dtsen.apply(staged, "b")
    assert Person.select().where(Person.nik == nik(1)).count() == 2


def test_apply_rereads_the_database_inside_its_transaction(db_conn, tmp_path):
    imported(tmp_path, [HEADER, person(desil="5")], "a.xlsx")
    staged = stage(tmp_path, [HEADER, person(desil="3")], "b.xlsx")
    assert dtsen.preview(staged)["counts"]["households_changed"] == 1
    Household.update(desil=3).execute()
    assert dtsen.apply(staged, "b")["counts"] == {"new": 0, "changed": 0, "unchanged": 1, "rejected": 0}


def test_staged_file_survives_a_json_round_trip(db_conn, tmp_path):
    staged = stage(tmp_path, [HEADER, *family()])
    staging.save(staged, tmp_path / "staged.json")
    assert not list(tmp_path.glob(".*.tmp"))
    result = dtsen.apply(staging.load(tmp_path / "staged.json"), "v1")
    assert result["counts"]["new"] == 3 and Person.select().count() == 3


def test_refused_file_cannot_be_applied(db_conn, tmp_path):
    staged = stage(tmp_path, [HEADER, person(NIK="1")])
    before = snapshot()
    assert dtsen.preview(staged)["refused"].startswith("Tidak ada baris yang sah")
    with pytest.raises(Refused, match="Tidak ada baris yang sah"):
        dtsen.apply(staged, "x")
    assert snapshot() == before


class Boom(Exception):
    """Failure injected into an apply."""


def test_failure_mid_apply_leaves_the_database_exactly_as_it_was(db_conn, tmp_path, monkeypatch):
    monkeypatch.setattr(applying, "CHUNK", 2)
    imported(tmp_path, [HEADER, *family(desil="5")], "a.xlsx")
    before = snapshot()
    staged = stage(tmp_path, [HEADER, *family(desil="2"), *family(KK2, 4), person(KK3, 8, "Asep")], "b.xlsx")
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 5:
            raise Boom()

    with pytest.raises(Boom):
        dtsen.apply(staged, "b", progress=progress)
    assert seen[0] == (2, 7) and snapshot() == before

    def failing_audit(self, events):
        raise Boom()

    monkeypatch.setattr(applying.Writer, "audit", failing_audit)
    with pytest.raises(Boom):
        dtsen.apply(staged, "b")
    assert snapshot() == before
    monkeypatch.undo()
    dtsen.apply(staged, "b")
    assert [r.household.no_kk for r in models.search("asep").results] == [KK3]


def test_bulk_person_inserts_need_a_transaction(db_conn):
    with pytest.raises(RuntimeError):
        with database.bulk_person_inserts():
            pass


def test_bulk_person_inserts_do_the_work_of_the_insert_triggers(db_conn, tmp_path):
    imported(tmp_path, [HEADER, *family()])
    token = database.membership_token()
    triggers = snapshot()["triggers"]
    with database.db.atomic():
        with database.bulk_person_inserts():
            Person.create(nik=nik(20), household=Household.get(no_kk=KK1), nama="Asep Bungsu")
            Person.create(nik=nik(21), household=Household.get(no_kk=KK1), nama="Ujang", keberadaan="pindah")
    assert database.membership_token() != token and snapshot()["triggers"] == triggers
    stored, counted = stored_and_counted_jiwa()
    assert stored == counted == {KK1: 4}
    assert [r.household.no_kk for r in models.search("asep bung").results] == [KK1]
    # A caller that catches an error raised inside the block and commits what was inserted before it.
    with database.db.atomic():
        try:
            with database.bulk_person_inserts():
                Person.create(nik=nik(22), household=Household.get(no_kk=KK1), nama="Cucu Pertama")
                raise ValueError("baris rusak")
        except ValueError:
            pass
    stored, counted = stored_and_counted_jiwa()
    assert stored == counted == {KK1: 5} and snapshot()["triggers"] == triggers
    assert [r.household.no_kk for r in models.search("cucu pert").results] == [KK1]


def test_stage_and_apply_report_progress(db_conn, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "PROGRESS_EVERY", 2)
    read, written = [], []
    staged = dtsen.stage(write_xlsx(tmp_path / "a.xlsx", [HEADER, *family(), *family(KK2, 4)]),
                         progress=lambda done, total: read.append((done, total)))
    assert read == [(2, 6), (4, 6), (6, 6)]
    dtsen.apply(staged, "v", progress=lambda done, total: written.append((done, total)))
    assert written[-1] == (8, 8)


def test_template_headers_are_recognised_and_ids_are_text(tmp_path):
    path = tmp_path / "templat.xlsx"
    path.write_bytes(export.template_workbook("dtsen"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Data DTSEN", "Petunjuk"]
    sheet = book["Data DTSEN"]
    headers = [c.value for c in sheet[1]]
    staged = dtsen.stage(path)
    assert staged["refused"] == "Tidak ada baris data di bawah judul kolom (baris 1)."
    assert list(staged["columns"]) == headers and len(headers) == 12
    formats = {col: d.number_format for d in sheet.column_dimensions.values() for col in range(d.min, d.max + 1)}
    assert [col for col, number_format in sorted(formats.items()) if number_format == "@"] == [1, 2, 8, 9]
    sheet.append([KK1, nik(1), "Budi", "Kepala Keluarga", "L", "20-05-1980", "Jl. Mawar", "1", "2", "Sukamaju", "3",
                  "Tinggal bersama"])
    book.save(path)
    staged = dtsen.stage(path, today=TODAY)
    assert staged["refused"] is None and staged["persons"][0]["nik"] == nik(1)


def test_neutralise_guards_formula_starts():
    assert [export.neutralise(t) for t in ("=1+1", "+62", "-", "@x", "\tx", "\rx", "Budi", "")] == [
        "'=1+1", "'+62", "'-", "'@x", "'\tx", "'\rx", "Budi", ""]


def opensid_rows():
    """An OpenSID population sheet of two families, built here (coded columns plus ignored ones)."""
    head = ["alamat", "dusun", "rw", "rt", "nama", "no_kk", "nik", "sex", "tempatlahir", "tanggallahir", "agama_id",
            "kk_level", "status_dasar", "ayah_nik", "lat"]
    return [head,
            ["", "MANGSIT", "-", "004", "AHMAD", KK1, nik(1), "1", "MANGSIT", "1970-05-20", "1", "1", "1", "", ""],
            ["", "MANGSIT", "-", "004", "AISYAH", KK1, nik(2, True), "2", "MANGSIT", "1975-01-02", "1", "3", "2", "",
             ""],
            ["", "MANGSIT", "-", "004", "BAYU", KK1, nik(3), "1", "MANGSIT", "2001-03-04", "1", "4", "3", "", ""],
            ["", "MANGSIT", "-", "004", "CICI", KK1, nik(4, True), "2", "MANGSIT", "2003-03-04", "1", "6", "4", "", ""],
            ["", "LOCO", "-", "002", "DEDI", KK2, nik(5), "1", "LOCO", "1960-10-10", "1", "1", "1", "", ""],
            ["", "LOCO", "-", "002", "ENOK", KK2, nik(6, True), "2", "LOCO", "1940-10-10", "1", "8", "1", "", ""],
            ["", "LOCO", "-", "002", "FAJAR", KK2, nik(7), "1", "LOCO", "1990-10-10", "1", "11", "1", "", ""]]


def test_opensid_format_built_here(db_conn, tmp_path):
    staged = stage(tmp_path, opensid_rows(), "penduduk.xlsx")
    assert staged["rejected"] == [] and staged["warnings"] == []
    assert [(p["nama"], p["hubungan"], p["jenis_kelamin"], p["keberadaan"]) for p in staged["persons"]] == [
        ("AHMAD", "kepala", "L", "tinggal"), ("AISYAH", "istri", "P", "meninggal"), ("BAYU", "anak", "L", "pindah"),
        ("CICI", "cucu", "P", "tidak_ditemukan"), ("DEDI", "kepala", "L", "tinggal"),
        ("ENOK", "mertua", "P", "tinggal"), ("FAJAR", "lainnya", "L", "tinggal")]
    dtsen.apply(staged, "OpenSID")
    assert [(h.no_kk, h.dusun, h.rw, h.rt, h.desil) for h in Household.select().order_by(Household.no_kk)] == [
        (KK1, "MANGSIT", "", "004", None), (KK2, "LOCO", "", "002", None)]


@pytest.mark.skipif(not (OPENSID / "contoh_penduduk.xlsx").exists(),
                    reason="../shared/fixtures/opensid/ is absent: OpenSID's sample files are not on this machine")
def test_opensid_contoh_penduduk(db_conn):
    staged = dtsen.stage(OPENSID / "contoh_penduduk.xlsx", today=TODAY)
    assert staged["refused"] is None and staged["rejected"] == []
    assert "desil" not in staged["fields"]
    preview = dtsen.preview(staged)
    assert (preview["counts"]["households_new"], preview["counts"]["persons_new"]) == (37, 97)
    dtsen.apply(staged, "OpenSID contoh")
    assert (Household.select().count(), Person.select().count()) == (37, 97)
    assert Household.select().where(Household.desil.is_null(False)).count() == 0
    hubungan = dict(Person.select(Person.hubungan, models.fn.COUNT(Person.id)).group_by(Person.hubungan).tuples())
    assert hubungan == {"kepala": 37, "istri": 21, "anak": 37, "famili_lain": 2}
    assert {p.keberadaan for p in Person.select()} == {"tinggal"}
    assert {p.jenis_kelamin for p in Person.select()} == {"L", "P"}
    ahlul = Person.get(Person.nama == "AHLUL")
    assert (ahlul.hubungan, ahlul.household.dusun, ahlul.household.rt, str(ahlul.tanggal_lahir)) == (
        "kepala", "MANGSIT", "004", "1970-05-20")
