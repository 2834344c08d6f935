"""The verification checks against a crafted village with every problem planted a known number of times.

Everything is synthetic. The village's dates sit in 2026 and the checks run "on" 20 November 2026, so
the stale-data checks do not depend on the day the tests run. The lists behind recap figures (no aid,
exclusion, inclusion) are also compared with the recap itself on the demo village.
"""
from datetime import date
from datetime import datetime

import pytest

from webapp import checks
from webapp import db as database
from webapp import recap
from webapp.models import Desa
from webapp.models import Disbursement
from webapp.models import FindingReview
from webapp.models import Household
from webapp.models import ImportBatch
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program
from webapp.models import User

TODAY = date(2026, 11, 20)
OLD = datetime(2026, 10, 5, 9, 0)
RECENT = datetime(2026, 11, 18, 9, 0)

# Every check with the subjects planted for it (household / person names as the village below writes them).
EXPECTED = {
    "nik_not_16_digits": {"p:H19 kepala", "p:H19 istri"},
    "no_kk_not_16_digits": {"h:H19"},
    "nik_birthdate_mismatch": {"p:H18 kepala", "p:H18 anak tanpa tanggal"},
    "nik_sex_mismatch": {"p:H18 istri", "p:H18 anak laki"},
    "nik_on_two_households": {"p:H22 kepala"},
    "duplicate_person": {"p:Siti Aminah"},
    "household_no_living_member": {"h:H8", "h:H9"},
    "household_without_head": {"h:H10"},
    "household_several_heads": {"h:H11"},
    "aid_to_absent_person": {"p:H12 ibu:PBI-JK", "p:H13 anak:PIP"},
    "aid_to_empty_household": {"h:H8:PKH"},
    "inclusion_above_ceiling": {"h:H2:PKH", "h:H3:PKH", "h:H3:SEMBAKO"},
    "double_aid": {"h:H15"},
    "outside_dtsen": {"h:H16"},
    "exclusion_below_ceiling": {"h:H4:PKH", "h:H9:PKH", "h:H4:SEMBAKO", "h:H5:SEMBAKO", "h:H8:SEMBAKO",
                                "h:H9:SEMBAKO", "h:H4:PBI-JK", "h:H5:PBI-JK", "h:H8:PBI-JK", "h:H9:PBI-JK"},
    "no_aid": {"h:H4", "h:H5", "h:H9"},
    "dtsen_outdated": {"desa"},
    "tidak_cair_no_follow_up": {"d:H17 SEMBAKO Tahap 4 2026"},
    "belum_after_period_end": {"d:H17 PKH Tahap 3 2026"},
}


def nik(born, sex, serial, area="320522"):
    """A well-formed synthetic NIK: area, birth date (day + 40 for women), serial."""
    day = born.day + (40 if sex == "P" else 0)
    return f"{area}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


class Village:
    """Builds the crafted village and names its rows, so findings can be told apart by name."""

    def __init__(self):
        self.desa = Desa.current()
        self.programs = {p.code: p for p in Program.select()}
        self.serial = 0
        self.periods = {}
        self.households = {}
        self.persons = {}
        self.rows = {}

    def period(self, code, label, start, end, closed=False):
        """A period of a programme."""
        period = Period.create(program=self.programs[code], label=label, year=start.year, start_date=start,
                               end_date=end, amount=self.programs[code].default_amount, closed=closed)
        self.periods[f"{code} {label}"] = period
        return period

    def household(self, name, desil, in_dtsen=True, no_kk=None):
        """A household; its No KK is made up from a serial unless given."""
        self.serial += 1
        household = Household.create(no_kk=no_kk or f"32052212031{self.serial:05d}", desa=self.desa,
                                     dusun="Babakan" if self.serial % 2 else "Cikoneng", rw="001",
                                     rt=f"{self.serial % 5 + 1:03d}", desil=desil, in_dtsen=in_dtsen)
        self.households[name] = household
        return household

    def person(self, household, name, hubungan="kepala", sex="L", born=date(1980, 3, 12), keberadaan="tinggal",
               nik_value=None, nama=None):
        """A member with a NIK that agrees with the birth date and sex unless one is given."""
        self.serial += 1
        person = Person.create(nik=nik_value or nik(born or date(1980, 1, 1), sex, self.serial), household=household,
                               nama=nama or name, hubungan=hubungan, jenis_kelamin=sex, tanggal_lahir=born,
                               keberadaan=keberadaan)
        self.persons[name] = person
        return person

    def aid(self, household, period_key, person=None, status="cair", status_date=None, reason=None,
            updated_at=RECENT, name=None):
        """A disbursement row."""
        row = Disbursement.create(period=self.periods[period_key], household=household, person=person,
                                  status=status, status_date=status_date, reason=reason, amount=100000,
                                  created_at=updated_at, updated_at=updated_at)
        if name:
            self.rows[name] = row
        return row


def build_village():
    """The crafted village: problems planted a known number of times, plus look-alikes that are not problems."""
    v = Village()
    ImportBatch.create(kind="dtsen", filename="dtsen-contoh.xlsx", sha256="0" * 64, state="applied",
                       version_label="DTSEN Triwulan II 2026", applied_at=datetime(2026, 7, 1, 8, 0))
    v.period("PKH", "Tahap 3 2026", date(2026, 7, 1), date(2026, 9, 30))
    v.period("PKH", "Tahap 4 2026", date(2026, 10, 1), date(2026, 12, 31))
    v.period("SEMBAKO", "Tahap 4 2026", date(2026, 10, 1), date(2026, 12, 31))
    v.period("BLT-DD", "Tahap 4 2026", date(2026, 10, 1), date(2026, 12, 31))
    v.period("PBI-JK", "Tahun 2026", date(2026, 1, 1), date(2026, 12, 31))
    v.period("PIP", "Tahap 1 2026", date(2026, 7, 1), date(2026, 9, 30))
    v.period("PBI-JK", "Tahun 2025", date(2025, 1, 1), date(2025, 12, 31), closed=True)
    v.period("PKH", "Tahap 4 2025", date(2025, 10, 1), date(2025, 12, 31), closed=True)

    # H1: poor and fully served; an old tidak cair that was followed up lately, and closed-period leftovers.
    h = v.household("H1", 2)
    head = v.person(h, "H1 kepala")
    wife = v.person(h, "H1 istri", "istri", "P", date(1984, 7, 30))
    v.aid(h, "PKH Tahap 3 2026")
    v.aid(h, "PKH Tahap 4 2026", status="belum")
    v.aid(h, "SEMBAKO Tahap 4 2026", status="tidak_cair", status_date=date(2026, 10, 5), reason="rekening")
    v.aid(h, "PBI-JK Tahun 2026", head)
    v.aid(h, "PBI-JK Tahun 2026", wife)
    v.aid(h, "PKH Tahap 4 2025", status="belum", updated_at=datetime(2025, 10, 2))
    # H2, H3: above the ceilings (inclusion).
    h = v.household("H2", 6)
    v.person(h, "H2 kepala")
    v.aid(h, "PKH Tahap 4 2026")
    h = v.household("H3", 9)
    v.person(h, "H3 kepala")
    v.aid(h, "PKH Tahap 4 2026")
    v.aid(h, "SEMBAKO Tahap 4 2026")
    # H4, H5: poor with nothing (no aid, exclusion); H6, H7: richer or without desil, nothing (no finding).
    for name, desil in (("H4", 3), ("H5", 5), ("H6", 7), ("H7", None)):
        v.person(v.household(name, desil), f"{name} kepala")
    # H8: every member gone, still on PKH; H9: no member recorded at all.
    h = v.household("H8", 1)
    v.person(h, "H8 kepala", keberadaan="meninggal")
    v.person(h, "H8 istri", "istri", "P", date(1982, 2, 2), keberadaan="pindah")
    v.aid(h, "PKH Tahap 4 2026")
    v.household("H9", 4)
    # H10: the kepala died; H11: two living kepala.
    h = v.household("H10", 8)
    v.person(h, "H10 kepala", keberadaan="meninggal")
    v.person(h, "H10 istri", "istri", "P", date(1983, 4, 4))
    h = v.household("H11", 8)
    v.person(h, "H11 kepala")
    v.person(h, "H11 kepala kedua", sex="P", born=date(1985, 5, 5))
    # H12: a dead mother still on PBI-JK; H13: a child who moved, still on PIP; H14: dead, PBI-JK last year only.
    h = v.household("H12", 2)
    head = v.person(h, "H12 kepala")
    mother = v.person(h, "H12 ibu", "orang_tua", "P", date(1950, 6, 6), keberadaan="meninggal")
    v.aid(h, "PKH Tahap 4 2026")
    v.aid(h, "SEMBAKO Tahap 4 2026")
    v.aid(h, "PBI-JK Tahun 2026", head)
    v.aid(h, "PBI-JK Tahun 2026", mother, status="tidak_cair", status_date=date(2026, 11, 10), reason="meninggal")
    v.aid(h, "PBI-JK Tahun 2025", mother)
    h = v.household("H13", 3)
    head = v.person(h, "H13 kepala")
    child = v.person(h, "H13 anak", "anak", "L", date(2012, 8, 8), keberadaan="pindah")
    v.aid(h, "PKH Tahap 4 2026")
    v.aid(h, "SEMBAKO Tahap 4 2026")
    v.aid(h, "PBI-JK Tahun 2026", head)
    v.aid(h, "PIP Tahap 1 2026", child)
    h = v.household("H14", 8)
    v.person(h, "H14 kepala")
    gone = v.person(h, "H14 anak", "anak", "P", date(2001, 9, 9), keberadaan="meninggal")
    v.aid(h, "PBI-JK Tahun 2025", gone)
    # H15: BLT Dana Desa together with PKH and Sembako in the same quarter (double aid).
    h = v.household("H15", 4)
    head = v.person(h, "H15 kepala")
    for key in ("PKH Tahap 4 2026", "SEMBAKO Tahap 4 2026", "BLT-DD Tahap 4 2026"):
        v.aid(h, key)
    v.aid(h, "PBI-JK Tahun 2026", head)
    # H16: a recipient accepted at import from outside DTSEN.
    h = v.household("H16", None, in_dtsen=False)
    v.person(h, "H16 kepala")
    v.aid(h, "PKH Tahap 4 2026")
    # H17: belum after a period long over, and tidak cair left alone since early October.
    h = v.household("H17", 2)
    head = v.person(h, "H17 kepala")
    v.aid(h, "PKH Tahap 3 2026", status="belum", updated_at=OLD, name="H17 PKH Tahap 3 2026")
    v.aid(h, "SEMBAKO Tahap 4 2026", status="tidak_cair", status_date=date(2026, 10, 5), reason="kks_belum",
          updated_at=OLD, name="H17 SEMBAKO Tahap 4 2026")
    v.aid(h, "PBI-JK Tahun 2026", head)
    # H18: NIKs that disagree with birth date or sex.
    h = v.household("H18", 8)
    v.person(h, "H18 kepala", nik_value=nik(date(1980, 1, 1), "L", 9001), born=date(1981, 1, 1))
    v.person(h, "H18 istri", "istri", "P", date(1986, 2, 14), nik_value=nik(date(1986, 2, 14), "L", 9002))
    v.person(h, "H18 anak tanpa tanggal", "anak", "L", None, nik_value="3205221213109003")
    v.person(h, "H18 anak laki", "anak", "L", date(2015, 3, 3), nik_value=nik(date(2015, 3, 3), "P", 9004))
    v.person(h, "H18 anak tanpa tanggal baik", "anak", "P", None, nik_value=nik(date(2016, 4, 4), "P", 9005))
    # H19: a damaged No KK and damaged NIKs (the CHECK constraints are bypassed, as an old file might have).
    database.db.execute_sql("PRAGMA ignore_check_constraints = 1")
    try:
        h = v.household("H19", 8, no_kk="32052212031500AB")
        v.person(h, "H19 kepala", nik_value="320522120380001")
        v.person(h, "H19 istri", "istri", "P", date(1985, 1, 1), nik_value="0205224101850002")
    finally:
        database.db.execute_sql("PRAGMA ignore_check_constraints = 0")
    # H20, H21: the same woman twice under different NIKs; her namesake daughter is someone else.
    v.person(v.household("H20", 8), "Siti Aminah", sex="P", born=date(1990, 5, 5))
    h = v.household("H21", 8)
    v.person(h, "SITI AMINAH. (H21)", sex="P", born=date(1990, 5, 5), nama="SITI  AMINAH.")
    v.person(h, "H21 anak", "anak", "P", date(2010, 1, 1), nama="Siti Aminah")
    # H22, H23: one NIK on two households (the unique index is dropped to let an old database hold it).
    database.db.execute_sql("DROP INDEX person_nik")
    shared = v.person(v.household("H22", 8), "H22 kepala", born=date(1970, 7, 7))
    v.person(v.household("H23", 8), "H23 kepala", born=date(1970, 7, 7), nik_value=shared.nik)
    # Soft-deleted rows never count: a poor household with nothing, and a duplicate of Siti Aminah.
    h = v.household("H24", 3)
    v.person(h, "H24 kepala")
    Household.update(deleted_at=datetime(2026, 9, 1)).where(Household.id == h.id).execute()
    deleted = v.person(v.households["H20"], "Siti Aminah (dihapus)", "lainnya", "P", date(1990, 5, 5),
                       nama="Siti Aminah")
    Person.update(deleted_at=datetime(2026, 9, 1)).where(Person.id == deleted.id).execute()
    return v


@pytest.fixture
def village(app):
    """The crafted village in the app's database, with an open connection."""
    with app.app_context(), database.db.connection_context():
        yield build_village()


def names(village, finding):
    """A finding's subject as EXPECTED writes it."""
    households = {h.id: name for name, h in village.households.items()}
    persons = {p.id: name for name, p in village.persons.items()}
    rows = {r.id: name for name, r in village.rows.items()}
    key = finding.key
    suffix = f":{finding.program}" if ":" in key and not key.startswith("dtsen") else ""
    if key.startswith("dtsen"):
        return "desa"
    if key.startswith("d"):
        return f"d:{rows[int(key[1:])]}"
    if key.startswith("p"):
        return f"p:{persons[finding.person_id]}{suffix}"
    return f"h:{households[finding.household_id]}{suffix}"


def run_all():
    """Every check's Result on the village's day."""
    return {r.check.id: r for r in checks.run_checks(run=checks.Run(today=TODAY))}


def test_every_check_finds_exactly_what_was_planted(village):
    results = run_all()
    assert set(results) == set(EXPECTED), "every registered check is tested"
    for check_id, expected in EXPECTED.items():
        found = [names(village, f) for f in results[check_id].findings]
        assert sorted(found) == sorted(expected), check_id
        assert results[check_id].open == len(expected)
    assert checks.open_count(list(results.values())) == sum(len(e) for e in EXPECTED.values())


def test_registry_ids_titles_and_why_lines(app):
    for c in checks.CHECKS.values():
        assert c.id.isascii() and c.id == c.id.lower() and " " not in c.id
        assert c.title and c.why.endswith(".") and c.section in dict(checks.SECTIONS)
        assert c.level in checks.LEVELS
        assert c.states[0] == ("diperiksa", "Sudah diperiksa")
    assert {"inclusion_above_ceiling", "nik_birthdate_mismatch"} <= set(checks.CHECKS)


def test_findings_carry_what_the_list_shows(village):
    results = run_all()
    group = results["duplicate_person"].findings[0]
    assert group.others and len(group.key.split(",")) == 2
    assert "1 orang lain" in group.detail
    empty = next(f for f in results["household_no_living_member"].findings if names(village, f) == "h:H9")
    assert empty.detail == "Belum ada anggota keluarga yang tercatat."
    gone = next(f for f in results["household_no_living_member"].findings if names(village, f) == "h:H8")
    assert "1 meninggal" in gone.detail and "1 pindah" in gone.detail
    stale = results["tidak_cair_no_follow_up"].findings[0]
    assert "KKS belum diterima" in stale.detail and "5 Oktober 2026" in stale.detail
    assert "30 September 2026" in results["belum_after_period_end"].findings[0].detail
    assert "142 hari" in results["dtsen_outdated"].findings[0].detail
    row = checks.rows_for(results["double_aid"], results["double_aid"].findings)[0]
    assert "BLT-DD (Tahap 4 2026) tidak boleh bersamaan dengan PKH (Tahap 4 2026)." in row.finding.detail
    assert row.person.nama == "H15 kepala" and row.household.no_kk == village.households["H15"].no_kk


def test_the_recap_lists_and_figures_agree_on_the_crafted_village(village):
    built = recap.build(recap.Scope())
    results = run_all()
    for program in built.programs:
        code = program.program.code
        if program.inklusi is not None:
            assert program.inklusi.kk == sum(f.program == code for f in results["inclusion_above_ceiling"].findings)
        if program.eksklusi is not None:
            assert program.eksklusi.kk == sum(f.program == code for f in results["exclusion_below_ceiling"].findings)
    assert built.no_aid.kk == results["no_aid"].total


def test_the_recap_lists_and_figures_agree_on_the_demo_village(demo_db):
    built = recap.build(recap.Scope())
    results = {r.check.id: r for r in checks.run_checks()}
    compared = 0
    for program in built.programs:
        code = program.program.code
        if program.inklusi is not None:
            assert program.inklusi.kk == sum(f.program == code for f in results["inclusion_above_ceiling"].findings)
            compared += 1
        if program.eksklusi is not None:
            assert program.eksklusi.kk == sum(f.program == code for f in results["exclusion_below_ceiling"].findings)
            compared += 1
    assert compared >= 4
    assert built.no_aid.kk == results["no_aid"].total > 0
    for entry in checks.run_checks({"no_aid"}):
        assert {f.household_id for f in entry.findings} == {
            h.id for h in recap.drill_query(recap.resolve(recap.Scope()),
                                             recap.Drill(desil=f"1-{built.scope.desil_max}", menerima=False))}


def review(village, check_id, subject, state="diperiksa", note="Sudah dicek ke rumahnya."):
    """Review the finding of a check whose subject (as EXPECTED writes it) is given, as the operator."""
    result = checks.run_one(check_id, checks.Run(today=TODAY))
    finding = next(f for f in result.findings if names(village, f) == subject)
    user = User.get_or_none(User.username == "operator") or User.create(
        username="operator", password_hash="x", role="operator")
    wanted = checks.ReviewRequest(state, note)
    return checks.review(check_id, finding.key, finding.fingerprint, wanted, user)


def open_of(check_id):
    """The open count of one check on the village's day."""
    return checks.run_one(check_id, checks.Run(today=TODAY)).open


def test_a_review_closes_a_finding_until_its_data_changes(village):
    assert open_of("inclusion_above_ceiling") == 3
    review(village, "inclusion_above_ceiling", "h:H2:PKH", "usul_pencoretan", "Punya mobil dan toko.")
    assert open_of("inclusion_above_ceiling") == 2
    stored = FindingReview.get((FindingReview.check == "inclusion_above_ceiling"))
    assert (stored.state, stored.note, stored.username) == ("usul_pencoretan", "Punya mobil dan toko.", "operator")

    # An import (or any edit) bumps the household's version: the finding is open again, the review shown as earlier.
    h2 = village.households["H2"]
    Household.update(alamat="Kp. Babakan", version=Household.version + 1).where(Household.id == h2.id).execute()
    result = checks.run_one("inclusion_above_ceiling", checks.Run(today=TODAY))
    assert result.open == 3
    finding = next(f for f in result.findings if f.household_id == h2.id)
    assert result.earlier_review(finding).note == "Punya mobil dan toko." and result.review_of(finding) is None


def test_group_and_row_findings_reopen_when_any_row_under_them_changes(village):
    review(village, "duplicate_person", "p:Siti Aminah")
    review(village, "belum_after_period_end", "d:H17 PKH Tahap 3 2026")
    assert open_of("duplicate_person") == 0 and open_of("belum_after_period_end") == 0
    twin = village.persons["SITI AMINAH. (H21)"]
    Person.update(nama="Siti Aminah", version=Person.version + 1).where(Person.id == twin.id).execute()
    assert open_of("duplicate_person") == 1, "still the same pair, but its data changed"
    row = village.rows["H17 PKH Tahap 3 2026"]
    Disbursement.update(note="Ditanyakan ke pendamping", version=Disbursement.version + 1).where(
        Disbursement.id == row.id).execute()
    assert open_of("belum_after_period_end") == 1


def test_a_finding_that_goes_away_takes_its_count_with_it(village):
    review(village, "no_aid", "h:H4", "usul_baru", "Usulkan PKH dan Sembako.")
    assert open_of("no_aid") == 2
    Disbursement.create(period=village.periods["SEMBAKO Tahap 4 2026"], household=village.households["H5"],
                        amount=1)
    result = checks.run_one("no_aid", checks.Run(today=TODAY))
    assert result.total == 2 and result.open == 1


def test_a_review_at_a_stale_fingerprint_or_without_a_note_is_refused(village):
    result = checks.run_one("household_without_head", checks.Run(today=TODAY))
    finding = result.findings[0]
    user = User.create(username="operator", password_hash="x", role="operator")
    with pytest.raises(checks.ReviewError):
        checks.review("household_without_head", finding.key, finding.fingerprint, checks.ReviewRequest.from_form(
            {"state": "diperiksa", "note": " "}, result.check), user)
    with pytest.raises(checks.ReviewError):
        checks.review("household_without_head", finding.key, finding.fingerprint, checks.ReviewRequest.from_form(
            {"state": "usul_baru", "note": "x"}, result.check), user)
    with pytest.raises(checks.Stale):
        checks.review("household_without_head", finding.key, finding.fingerprint + "x",
                      checks.ReviewRequest("diperiksa", "Kepala baru: istri."), user)
    assert FindingReview.select().count() == 0


def test_reopening_withdraws_the_review_and_both_are_audited(village):
    from webapp.models import AuditEvent
    review(village, "double_aid", "h:H15", "usul_pencoretan", "Coret dari BLT-DD.")
    assert open_of("double_aid") == 0
    key = FindingReview.get().key
    result, finding = checks.reopen("double_aid", key)
    assert finding is not None and result.open == 1 and FindingReview.select().count() == 0
    events = [(e.action, e.new) for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert events == [("verifikasi.tinjau", "usul_pencoretan: Coret dari BLT-DD."), ("verifikasi.buka", None)]


def test_the_json_structure_lists_every_check_with_an_open_count(village):
    data = checks.as_json(checks.run_checks(run=checks.Run(today=TODAY)))
    assert [d["check"] for d in data] == list(checks.CHECKS)
    by_id = {d["check"]: d for d in data}
    assert by_id["nik_birthdate_mismatch"]["count"] == 2
    assert by_id["inclusion_above_ceiling"]["title"] == "Penerima di atas batas desil program (inklusi)"
    assert all({"check", "title", "count", "total", "section", "level"} <= set(d) for d in data)


def test_checks_for_recap_name_the_recap_checks_with_urls(app, village):
    with app.test_request_context():
        entries = {e["check"]: e for e in checks.checks_for_recap()}
    assert set(entries) == {"aid_to_absent_person", "aid_to_empty_household", "inclusion_above_ceiling",
                            "outside_dtsen", "exclusion_below_ceiling", "no_aid"}
    assert entries["no_aid"]["url"] == "/verifikasi/no_aid" and entries["no_aid"]["open"] == 3
    assert entries["exclusion_below_ceiling"]["programs"]["SEMBAKO"] == {
        "open": 4, "total": 4, "url": "/verifikasi/exclusion_below_ceiling?program=SEMBAKO"}


def test_an_empty_database_has_no_findings(db_conn):
    results = checks.run_checks()
    assert checks.open_count(results) == 0 and all(r.total == 0 for r in results)


def test_normalised_names_ignore_case_spaces_and_punctuation():
    assert checks.normalised_name("Siti  Aminah.") == checks.normalised_name("SITI AMINAH") == "SITIAMINAH"
    assert checks.normalised_name("Nu'man, S.Pd") == "NUMANSPD"
