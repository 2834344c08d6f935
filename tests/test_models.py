"""Constraints that protect the data, whatever code writes it."""
from datetime import date

import pytest
from peewee import IntegrityError

from webapp.models import AuditEvent
from webapp.models import Desa
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program
from webapp.models import utcnow

KK = "3205221203150001"
NIK = "3205224512800003"


def household(no_kk=KK, **fields):
    return Household.create(no_kk=no_kk, desa=Desa.current(), **fields)


def person(hh, nik=NIK, nama="Siti Aminah", **fields):
    return Person.create(nik=nik, household=hh, nama=nama, **fields)


def period(code="PKH", label="Tahap 1 2026"):
    return Period.create(program=Program.get(code=code), label=label, year=2026)


def test_national_programmes_are_seeded(db_conn):
    programs = {p.code: p for p in Program.select()}
    assert set(programs) == {"PKH", "SEMBAKO", "BLT-KESRA", "PBI-JK", "BLT-DD", "PIP", "YAPI"}
    assert programs["PBI-JK"].sasaran == "jiwa"
    assert programs["PKH"].sasaran == "keluarga"
    assert programs["BLT-KESRA"].desil_max == 4


def test_desa_comes_from_settings(db_conn):
    desa = Desa.current()
    assert (desa.kode, desa.nama, desa.kecamatan) == ("3205222003", "Mekarsari", "Cikajang")


def test_active_no_kk_is_unique_but_a_soft_deleted_one_may_return(db_conn):
    first = household()
    with pytest.raises(IntegrityError), db_conn.atomic():
        household()
    Household.update(deleted_at=utcnow()).where(Household.id == first.id).execute()
    assert household().id != first.id


def test_active_nik_is_unique(db_conn):
    hh = household()
    person(hh)
    with pytest.raises(IntegrityError), db_conn.atomic():
        person(hh, nama="Someone else")


@pytest.mark.parametrize("bad", ["320522120315000", "32052212031500011", "0205221203150001",
                                 "3205221203I50001", "3.20522E+15", 3205221203150001])
def test_no_kk_must_be_sixteen_digit_text(db_conn, bad):
    with pytest.raises(IntegrityError), db_conn.atomic():
        household(no_kk=str(bad) + (".0" if isinstance(bad, int) else ""))


@pytest.mark.parametrize("bad", ["12", "0205224512800003", "32052245128000O3", ""])
def test_nik_must_be_sixteen_digit_text(db_conn, bad):
    hh = household()
    with pytest.raises(IntegrityError), db_conn.atomic():
        person(hh, nik=bad)


@pytest.mark.parametrize("fields", [{"desil": 0}, {"desil": 11}])
def test_desil_is_one_to_ten_or_empty(db_conn, fields):
    with pytest.raises(IntegrityError), db_conn.atomic():
        household(**fields)
    assert household(desil=None).desil is None


@pytest.mark.parametrize("fields", [{"hubungan": "tetangga"}, {"keberadaan": "hilang"}, {"jenis_kelamin": "X"}])
def test_person_codes_are_checked(db_conn, fields):
    hh = household()
    with pytest.raises(IntegrityError), db_conn.atomic():
        person(hh, **fields)


def test_person_needs_an_existing_household(db_conn):
    with pytest.raises(IntegrityError), db_conn.atomic():
        Person.create(nik=NIK, household=999, nama="X")


@pytest.mark.parametrize("fields", [{"status": "lunas"}, {"channel": "transfer"},
                                    {"status": "tidak_cair"}, {"status": "tidak_cair", "reason": "entah"}])
def test_disbursement_values_are_checked(db_conn, fields):
    hh, pe = household(), period()
    with pytest.raises(IntegrityError), db_conn.atomic():
        Disbursement.create(period=pe, household=hh, **fields)


def test_tidak_cair_with_a_reason_is_accepted(db_conn):
    d = Disbursement.create(period=period(), household=household(), status="tidak_cair", reason="rekening")
    assert d.reason == "rekening"


def test_one_disbursement_per_household_per_period(db_conn):
    hh, pe = household(), period()
    Disbursement.create(period=pe, household=hh)
    with pytest.raises(IntegrityError), db_conn.atomic():
        Disbursement.create(period=pe, household=hh)
    Disbursement.create(period=period(label="Tahap 2 2026"), household=hh)


def test_one_disbursement_per_person_per_period_for_jiwa_programmes(db_conn):
    hh = household()
    a = person(hh)
    b = person(hh, nik="3205221203800005", nama="Budi")
    pe = period("PBI-JK", "Tahun 2026")
    Disbursement.create(period=pe, household=hh, person=a)
    Disbursement.create(period=pe, household=hh, person=b)
    with pytest.raises(IntegrityError), db_conn.atomic():
        Disbursement.create(period=pe, household=hh, person=a)


def test_audit_log_is_append_only(db_conn):
    event = AuditEvent.create(action="test", entity="household", entity_id=1)
    with pytest.raises(IntegrityError), db_conn.atomic():
        AuditEvent.update(action="changed").where(AuditEvent.id == event.id).execute()
    with pytest.raises(IntegrityError), db_conn.atomic():
        AuditEvent.delete().where(AuditEvent.id == event.id).execute()
    assert AuditEvent.get_by_id(event.id).action == "test"


def test_age_is_whole_years(db_conn):
    p = person(household(), tanggal_lahir=date(2000, 12, 5))
    assert p.umur(date(2026, 12, 4)) == 25
    assert p.umur(date(2026, 12, 5)) == 26
