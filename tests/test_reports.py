"""The recap pages: figures from the recap module, every number a link to a list of that size,
filters in the URL, JSON, summary, print view and exports."""
import io
import json
import re

import openpyxl
from bs4 import BeautifulSoup

from webapp import recap
from webapp.models import AuditEvent

from .conftest import logged_in


def build(app, **scope):
    with app.test_request_context():
        app.preprocess_request()
        return recap.build(recap.Scope(**scope))


def number(text):
    return int(re.sub(r"[^\d]", "", text))


def test_recap_page_shows_the_modules_figures(demo_app, demo_client):
    data = build(demo_app)
    soup = BeautifulSoup(demo_client.get("/rekap").data, "html.parser")
    cards = {c.select_one(".figure-label").get_text(strip=True): c for c in soup.select(".figure")}
    no_aid = cards[f"Desil 1–{data.scope.desil_max} belum menerima bantuan"]
    assert number(no_aid.select_one(".figure-value a").get_text()) == data.no_aid.kk
    assert number(no_aid.select_one(".figure-sub a").get_text()) == data.no_aid.jiwa
    assert number(cards["Dalam data"].select_one(".figure-value a").get_text()) == data.totals.data.kk
    text = soup.get_text(" ", strip=True)
    assert data.scope.text() in text and "Demo DTSEN" in text and "Definisi" in text
    shown = soup.select_one("#ringkasan-teks").get_text().splitlines()
    assert shown[:-1] == recap.summary_text(data).splitlines()[:-1], "the last line carries the time"


def test_every_number_links_to_a_list_of_that_size(demo_client):
    soup = BeautifulSoup(demo_client.get("/rekap?year=2026").data, "html.parser")
    links = [a for a in soup.select("#recap-body a[href^='/rekap/daftar']") if "Rp" not in a.get_text()]
    assert len(links) > 150
    for a in links[::3]:
        page = BeautifulSoup(demo_client.get(a["href"]).data, "html.parser")
        assert number(page.select_one(".list-count").get_text()) == number(a.get_text()), a["href"]


def test_filters_live_in_the_url_and_htmx_gets_only_the_figures(demo_app, demo_client):
    data = build(demo_app, programs=("PKH",))
    fragment = demo_client.get("/rekap?program=PKH", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data
    soup = BeautifulSoup(fragment.data, "html.parser")
    assert [row.th.get_text(" ", strip=True).split()[0] for row in soup.select("tr.program-row")] == ["PKH"]
    assert number(soup.select_one("tr.program-row td a").get_text()) == data.programs[0].penerima.kk
    page = demo_client.get("/rekap?program=PKH").data.decode()
    assert 'value="PKH" checked' in page
    bad = demo_client.get("/rekap?program=TIDAKADA")
    assert bad.status_code == 400 and "Program tidak dikenal" in bad.data.decode()


def test_json_matches_the_module(demo_app, demo_client):
    served = demo_client.get("/rekap.json?program=PKH&program=SEMBAKO").get_json()
    expected = recap.as_json(build(demo_app, programs=("PKH", "SEMBAKO")))
    served.pop("generated_at"), expected.pop("generated_at")
    assert served == json.loads(json.dumps(expected))
    assert {"desa", "scope", "dtsen_version", "totals", "programs", "desil", "no_aid", "tidak_cair", "wilayah"} <= set(served)


def test_print_view_has_letterhead_tables_definitions_and_signatures(demo_client):
    html = demo_client.get("/rekap/cetak").data.decode()
    text = BeautifulSoup(html, "html.parser").get_text(" ", strip=True)
    for needle in ("PEMERINTAH KABUPATEN GARUT", "KECAMATAN CIKAJANG", "DESA MEKARSARI", "32.05.22.2003",
                   "REKAPITULASI BANTUAN SOSIAL", "Definisi", "Operator DTSEN Desa", "Kepala Desa Mekarsari"):
        assert needle in text
    assert "print.css" in html and 'class="site"' not in html


def test_recap_xlsx_has_a_sheet_per_table_with_numbers(demo_app, demo_client):
    data = build(demo_app)
    book = openpyxl.load_workbook(io.BytesIO(demo_client.get("/rekap/ekspor.xlsx").data))
    assert {"Ringkasan", "Program dan periode", "Desil", "Tidak cair", "Wilayah", "Definisi"} <= set(book.sheetnames)
    rows = {r[0]: r for r in book["Ringkasan"].iter_rows(values_only=True) if r and r[0]}
    assert rows["Dalam data"][1:3] == (data.totals.data.kk, data.totals.data.jiwa)
    assert rows[f"Desil 1–{data.scope.desil_max} belum menerima bantuan"][1] == data.no_aid.kk
    assert "Cakupan" in book["Ringkasan"]["A3"].value
    program_rows = [r for r in book["Program dan periode"].iter_rows(values_only=True) if r and r[1] == "(semua periode)"]
    assert [(r[0], r[2], r[3]) for r in program_rows] == [(p.program.code, p.penerima.kk, p.penerima.jiwa)
                                                          for p in data.programs]


def test_drill_list_export_is_for_operators_and_audited(demo_app, demo_client):
    url = "/rekap/daftar.xlsx?daftar=kk&d_desil=1-5&d_menerima=tidak"
    sheet = openpyxl.load_workbook(io.BytesIO(demo_client.get(url).data)).active
    data = [r for r in sheet.iter_rows(min_row=7, values_only=True) if r[0]]
    assert len(data) == build(demo_app).no_aid.kk
    assert all(isinstance(r[0], str) and len(r[0]) == 16 for r in data)
    assert logged_in(demo_app, "kecamatan").get(url).status_code == 403
    with demo_app.app_context():
        from webapp import db as database
        with database.db.connection_context():
            assert AuditEvent.select().where(AuditEvent.action == "ekspor.daftar_rekap").count() == 1


def test_kecamatan_lands_on_the_recap_and_sees_lists_without_names(demo_app, demo_db):
    from webapp.models import Person
    from .conftest import PASSWORD, add_user
    add_user(demo_app, "camat", "kecamatan")
    client = demo_app.test_client()
    token = BeautifulSoup(client.get("/masuk").data, "html.parser").select_one("input[name=csrf_token]")["value"]
    response = client.post("/masuk", data={"username": "camat", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/rekap"
    page = client.get("/rekap/daftar?daftar=penyaluran&d_status=tidak_cair").data.decode()
    niks = {p.nik for p in Person.select()} | {p.nama for p in Person.select()}
    assert [n for n in niks if re.search(r"\b" + re.escape(n) + r"\b", page)] == []
    assert "tanpa nama, NIK dan No KK" in page
    assert client.get("/rekap/belum-menerima").status_code == 403


def test_named_field_lists(demo_app, demo_client):
    data = build(demo_app)
    no_aid = BeautifulSoup(demo_client.get("/rekap/belum-menerima").data, "html.parser")
    assert len(no_aid.select("table.field-list tbody tr")) == data.no_aid.kk
    tidak = BeautifulSoup(demo_client.get("/rekap/tidak-cair").data, "html.parser")
    assert len(tidak.select("table.field-list tbody tr")) == data.tidak_cair.total.n


def test_wilayah_rows_load_on_demand(demo_app, demo_client):
    data = build(demo_app)
    dusun = data.wilayah[0]
    fragment = demo_client.get(f"/rekap/wilayah?wilayah={dusun.dusun}", headers={"HX-Request": "true"})
    soup = BeautifulSoup(fragment.data, "html.parser")
    assert len(soup.select("tr.rw-row")) == len(dusun.children)
    assert len(soup.select("tr.rt-row")) == sum(len(rw.children) for rw in dusun.children)
    assert demo_client.get("/rekap/wilayah?wilayah=Tidak Ada").status_code == 404


def test_checks_behind_the_figures_load_after_the_page(demo_app, demo_client):
    page = demo_client.get("/rekap").data.decode()
    assert 'hx-get="/rekap/periksa"' in page
    fragment = BeautifulSoup(demo_client.get("/rekap/periksa", headers={"HX-Request": "true"}).data, "html.parser")
    links = fragment.select("a[href^='/verifikasi']")
    assert links and all(re.search(r"\(\d", a.next_sibling or "") for a in links)
    assert logged_in(demo_app, "kecamatan").get("/rekap/periksa").status_code == 403
