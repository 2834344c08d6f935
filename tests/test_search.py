"""Active search: by name (word prefixes), NIK or No KK; fragment for htmx, page otherwise."""
from bs4 import BeautifulSoup

from webapp import models
from webapp.models import Desa
from webapp.models import Household
from webapp.models import Person
from webapp.models import utcnow

HX = {"HX-Request": "true"}


def add_family(no_kk, people):
    hh = Household.create(no_kk=no_kk, desa=Desa.current(), dusun="Cikoneng", rw="001", rt="002", desil=3)
    for nik, nama, hubungan in people:
        Person.create(nik=nik, household=hh, nama=nama, hubungan=hubungan)
    return hh


def hits(response):
    soup = BeautifulSoup(response.data, "html.parser")
    return [a.get_text(strip=True) for a in soup.select("table.results tbody td:first-child a")]


def test_name_word_prefixes_in_any_order_and_case(db_conn, client):
    add_family("3205221203150001", [("3205221505800001", "Siti Aminah Rahayu", "kepala")])
    add_family("3205221203150002", [("3205221505800002", "Aminah Siti", "kepala"),
                                    ("3205221505800003", "Budi Santoso", "anak")])
    assert sorted(hits(client.get("/cari?q=siti", headers=HX))) == ["Aminah Siti", "Siti Aminah Rahayu"]
    assert hits(client.get("/cari?q=SIT RAHA", headers=HX)) == ["Siti Aminah Rahayu"]
    assert hits(client.get("/cari?q=san", headers=HX)) == ["Budi Santoso"]
    assert hits(client.get("/cari?q=ntoso", headers=HX)) == []


def test_nik_and_no_kk_prefixes_with_separators(db_conn, client):
    add_family("3205221203150001", [("3205221505800001", "Siti Aminah", "kepala")])
    add_family("3273011203150002", [("3273014505800002", "Dewi Lestari", "kepala")])
    assert hits(client.get("/cari?q=3205 2215", headers=HX)) == ["Siti Aminah"]
    page = client.get("/cari?q=32.73.01", headers=HX)
    assert "Dewi Lestari" in hits(page)
    assert b"3273011203150002" in page.data
    assert hits(client.get("/cari?q=9999", headers=HX)) == []


def test_results_show_household_wilayah_desil_and_programmes(demo_db, demo_client):
    d = demo_db.execute_sql(
        "SELECT p.nik, h.no_kk, h.dusun FROM disbursement d JOIN household h ON h.id = d.household_id "
        "JOIN person p ON p.household_id = h.id JOIN period pe ON pe.id = d.period_id "
        "JOIN program pr ON pr.id = pe.program_id WHERE pr.code = 'PKH' AND pe.year = 2026 LIMIT 1").fetchone()
    nik, no_kk, dusun = d
    html = demo_client.get(f"/cari?q={nik}", headers=HX).data.decode()
    assert no_kk in html and dusun in html and "Desil" in html and ">PKH<" in html


def test_soft_deleted_people_are_not_found(db_conn, client):
    add_family("3205221203150001", [("3205221505800001", "Siti Aminah", "kepala")])
    Person.update(deleted_at=utcnow()).execute()
    assert hits(client.get("/cari?q=siti", headers=HX)) == []


def test_htmx_gets_the_fragment_and_a_direct_load_the_whole_page(db_conn, client):
    add_family("3205221203150001", [("3205221505800001", "Siti Aminah", "kepala")])
    fragment = client.get("/cari?q=siti", headers=HX)
    page = client.get("/cari?q=siti")
    assert b"<html" not in fragment.data and b"Siti Aminah" in fragment.data
    assert b"<html" in page.data and b"Siti Aminah" in page.data
    assert 'value="siti"' in page.data.decode()
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_results_are_paginated(demo_client):
    first = demo_client.get("/cari?q=3205", headers=HX)
    second = demo_client.get("/cari?q=3205&page=2", headers=HX)
    assert len(hits(first)) == 20 and len(hits(second)) == 20
    assert b"halaman 1 dari" in first.data and b"halaman 2 dari" in second.data
    assert hits(first) != hits(second)
    assert b"page=2" in first.data
    beyond = demo_client.get("/cari?q=3205&page=9999", headers=HX)
    assert len(hits(beyond)) > 0


def test_nothing_found_says_how_to_search(db_conn, client):
    response = client.get("/cari?q=zzzz", headers=HX)
    assert "Tidak ada yang cocok" in response.data.decode()
    assert client.get("/cari").status_code == 200


def plan(db, query):
    sql, params = query.sql()
    return " | ".join(row[3] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def test_prefix_searches_use_indexes_not_table_scans(demo_db):
    kk, nik = [plan(demo_db, q) for q in models.search_branches("3205 22")]
    (name,) = [plan(demo_db, q) for q in models.search_branches("siti am")]
    assert "USING INDEX household_no_kk" in kk and "SCAN" not in kk
    assert "USING INDEX person_nik" in nik and "SCAN t1" not in nik
    assert "person_fts VIRTUAL TABLE" in name and "SCAN t1" not in name
