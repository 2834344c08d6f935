"""The demo village: deterministic, believable, and telling the seed's story."""
from datetime import date

from webapp import db as database
from webapp import demo
from webapp.models import KEBERADAAN_JIWA
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program

from .conftest import DEMO_YEAR
from .conftest import make_app


def snapshot(path, households, seed, year=DEMO_YEAR):
    """Seed a fresh database and return its people and payments (without timestamps)."""
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        demo.seed(households=households, seed=seed, year=year)
        return (
            list(Household.select(Household.no_kk, Household.dusun, Household.rt, Household.desil).tuples()),
            list(Person.select(Person.nik, Person.nama, Person.hubungan, Person.tanggal_lahir).tuples()),
            list(Disbursement.select(Disbursement.period, Disbursement.household, Disbursement.person,
                                     Disbursement.status, Disbursement.reason, Disbursement.amount).tuples()),
        )


def test_same_seed_same_village_other_seed_other_village(tmp_path):
    a = snapshot(tmp_path / "a.db", 120, seed=5)
    b = snapshot(tmp_path / "b.db", 120, seed=5)
    c = snapshot(tmp_path / "c.db", 120, seed=6)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_families_and_people_look_real(demo_db):
    households = list(Household.select())
    persons = list(Person.select())
    assert len(households) == 300
    living = [p for p in persons if p.keberadaan in KEBERADAAN_JIWA]
    assert 2.9 <= len(living) / len(households) <= 3.8
    assert {p.keberadaan for p in persons} >= {"tinggal", "meninggal", "pindah"}
    heads = [p for p in persons if p.hubungan == "kepala"]
    assert len(heads) == len(households)
    assert {p.hubungan for p in persons} >= {"kepala", "istri", "anak"}
    assert len({h.dusun for h in households}) >= 3
    assert all(len(h.rt) == 3 and len(h.rw) == 3 for h in households)


def test_nik_encodes_region_birth_date_and_sex(demo_db):
    for p in Person.select():
        assert len(p.nik) == 16 and p.nik.isdigit() and p.nik[0] != "0"
        day = int(p.nik[6:8])
        if p.jenis_kelamin == "P":
            day -= 40
        assert (day, int(p.nik[8:10]), int(p.nik[10:12])) == (
            p.tanggal_lahir.day, p.tanggal_lahir.month, p.tanggal_lahir.year % 100)
        assert p.tanggal_lahir <= date.today()
    assert all(h.no_kk.startswith("320522") for h in Household.select())


def test_desil_distribution(demo_db):
    desil = [h.desil for h in Household.select()]
    low = sum(1 for d in desil if d is not None and d <= 4)
    assert 0.25 <= low / len(desil) <= 0.42
    assert 0 < desil.count(None) < len(desil) * 0.15


def rows(code, label=None):
    query = Disbursement.select().join(Period).join(Program).where(Program.code == code)
    if label:
        query = query.where(Period.label == label)
    return list(query)


def test_blt_kesra_story(demo_db):
    prev = DEMO_YEAR - 1
    tahap1 = rows("BLT-KESRA", f"Tahap 1 {prev}")
    tahap2 = rows("BLT-KESRA", f"Tahap 2 {prev}")
    assert tahap1 and tahap2
    assert {d.channel for d in tahap1} == {"bank"}
    assert {d.channel for d in tahap2} == {"pos"}
    assert {d.amount for d in tahap1 + tahap2} == {900000}
    assert all(d.household.desil is not None and d.household.desil <= 4 for d in tahap1 + tahap2)
    pos_households = {d.household_id for d in tahap2}
    regular = {d.household_id for d in rows("PKH") + rows("SEMBAKO") if d.period.year == prev}
    assert not pos_households & regular


def test_statuses_mix_and_reasons(demo_db):
    statuses = {d.status for d in Disbursement.select()}
    assert statuses == {"cair", "belum", "tidak_cair"}
    failed = list(Disbursement.select().where(Disbursement.status == "tidak_cair"))
    assert failed and all(d.reason for d in failed)
    assert len({d.reason for d in failed}) >= 4
    assert {p.year for p in Period.select()} == {DEMO_YEAR - 1, DEMO_YEAR}
    assert all(d.person_id for d in rows("PBI-JK"))
    assert {d.channel for d in rows("BLT-DD")} == {"tunai"}


def test_some_poor_families_get_nothing_and_some_richer_ones_get_aid(demo_db):
    aided = {d.household_id for d in Disbursement.select().join(Period).where(Period.year == DEMO_YEAR)}
    poor = [h for h in Household.select() if h.desil is not None and h.desil <= 5]
    assert any(h.id not in aided for h in poor)
    regular = {d.household_id for d in rows("PKH") + rows("SEMBAKO")}
    assert any(h.desil is not None and h.desil > 5 and h.id in regular for h in Household.select())


def test_seed_demo_command_fills_only_an_empty_database(runner):
    result = runner.invoke(args=["seed-demo", "--households", "40", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "40 KK" in result.output
    again = runner.invoke(args=["seed-demo", "--households", "40"])
    assert again.exit_code != 0
    assert "sudah berisi 40 KK" in again.output
    kept = runner.invoke(args=["seed-demo", "--if-empty"])
    assert kept.exit_code == 0 and "tidak dimuat" in kept.output
