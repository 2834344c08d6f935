"""The verification pages, reviews over HTTP (htmx and plain forms), exports, roles, the home page and the CLI."""
import io
import json
import re

import openpyxl
import pytest
from bs4 import BeautifulSoup

from webapp import checks
from webapp import db as database
from webapp.models import AuditEvent
from webapp.models import FindingReview
from webapp.models import Household
from webapp.models import Person

from .conftest import logged_in
from .test_checks import build_village

HX = {"HX-Request": "true"}


@pytest.fixture
def village(app):
    """The crafted village of test_checks, committed, with its households and persons by name."""
    with app.app_context(), database.db.connection_context():
        built = build_village()
        return {"households": {k: h.id for k, h in built.households.items()},
                "persons": {k: p.id for k, p in built.persons.items()}}


def token(client, url="/verifikasi/"):
    """The CSRF token a page hands to htmx."""
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get(url).data.decode()).group(1)


def finding_form(client, check_id, household_id, **args):
    """The review form's hidden fields of the row about a household on a check's list."""
    soup = BeautifulSoup(client.get(f"/verifikasi/{check_id}", query_string=args).data, "html.parser")
    link = soup.select_one(f'a[href="/keluarga/{household_id}"]')
    form = link.find_parent("tr").select_one("form.review-form")
    return {field["name"]: field["value"] for field in form.select("input[type=hidden]")}, link.find_parent("tr")


def open_count(app, check_id=None):
    """Open findings of one check, or of all."""
    with app.app_context(), database.db.connection_context():
        if check_id:
            return checks.run_one(check_id).open
        return checks.open_count()


def test_index_lists_every_check_with_its_counts_and_why(app, client, village):
    response = client.get("/verifikasi/")
    assert response.status_code == 200
    soup = BeautifulSoup(response.data, "html.parser")
    for check_id, found in checks.CHECKS.items():
        row = soup.select_one(f"tr#c-{check_id}")
        assert row is not None and found.title in row.text and found.why in row.text
    inclusion = soup.select_one("tr#c-inclusion_above_ceiling")
    assert [td.text.strip() for td in inclusion.select("td.num")] == ["3", "3"]
    assert inclusion.select_one('a[href="/verifikasi/inclusion_above_ceiling?program=PKH"]').text == "PKH: 2"
    assert "Unduh semua usulan" in response.data.decode()


def test_a_check_list_shows_wilayah_names_ids_and_links_to_the_household(app, client, village):
    response = client.get("/verifikasi/nik_sex_mismatch")
    html = response.data.decode()
    assert response.status_code == 200 and "Jenis kelamin di NIK tidak cocok" in html
    soup = BeautifulSoup(html, "html.parser")
    rows = soup.select("table.findings tbody tr[id]")
    assert len(rows) == 2
    assert all(r.select_one(f'a[href="/keluarga/{village["households"]["H18"]}"]') for r in rows)
    assert {"H18 istri", "H18 anak laki"} == {r.select_one("a").text for r in rows}
    with app.app_context(), database.db.connection_context():
        full = Person.get_by_id(village["persons"]["H18 istri"]).nik
    assert full in html, "operators see whole NIKs"
    assert "NIK menunjukkan laki-laki, jenis kelamin tercatat perempuan." in html


def test_duplicate_groups_show_every_person_and_filters_narrow_the_list(client, village):
    html = client.get("/verifikasi/duplicate_person").data.decode()
    assert "Juga: SITI  AMINAH." in html
    soup = BeautifulSoup(client.get("/verifikasi/exclusion_below_ceiling?program=PKH").data, "html.parser")
    assert len(soup.select("table.findings tbody tr[id]")) == 2
    assert soup.select_one("select[name=program] option[selected]")["value"] == "PKH"
    empty = client.get("/verifikasi/exclusion_below_ceiling?tampil=ditinjau").data.decode()
    assert "Tidak ada temuan sudah ditinjau." in empty
    assert client.get("/verifikasi/tidak_ada").status_code == 404


def test_review_over_htmx_returns_the_row_and_fresh_counts(app, client, village):
    fields, _ = finding_form(client, "inclusion_above_ceiling", village["households"]["H2"])
    before_all = open_count(app)
    response = client.post("/verifikasi/inclusion_above_ceiling/tinjau", headers={"X-CSRFToken": token(client), **HX},
                           data={**fields, "state": "usul_pencoretan", "note": "Punya toko besar."})
    assert response.status_code == 200
    html = response.data.decode()
    assert "<html" not in html and 'id="check-counts"' in html and 'hx-swap-oob="true"' in html
    soup = BeautifulSoup(html, "html.parser")
    assert "Usulkan pencoretan" in soup.select_one("tr").text and "Punya toko besar." in html
    assert [p.text for p in soup.select("#check-counts .figure-value")] == ["2", "1", "3"]
    assert open_count(app) == before_all - 1
    with app.app_context(), database.db.connection_context():
        review = FindingReview.get()
        assert (review.check, review.key, review.state, review.username) == (
            "inclusion_above_ceiling", fields["key"], "usul_pencoretan", "operator")
        assert AuditEvent.select().where(AuditEvent.action == "verifikasi.tinjau").count() == 1


def test_review_with_a_plain_form_redirects_back_to_the_list(client, village):
    fields, _ = finding_form(client, "no_aid", village["households"]["H4"], tampil="semua")
    assert fields["tampil"] == "semua", "the list's filters travel with the form"
    response = client.post("/verifikasi/no_aid/tinjau",
                           data={**fields, "csrf_token": token(client), "state": "usul_baru", "note": ""})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/verifikasi/no_aid?tampil=semua#f-h{village['households']['H4']}"
    page = client.get(response.headers["Location"]).data.decode()
    assert "Temuan ditandai “Usulkan baru”." in page
    assert "Usulkan baru" in BeautifulSoup(page, "html.parser").select_one(f"tr#f-h{village['households']['H4']}").text


def test_review_without_a_note_or_at_a_stale_version_is_refused(app, client, village):
    fields, _ = finding_form(client, "household_without_head", village["households"]["H10"])
    headers = {"X-CSRFToken": token(client), **HX}
    refused = client.post("/verifikasi/household_without_head/tinjau", headers=headers,
                          data={**fields, "state": "diperiksa", "note": ""})
    assert refused.status_code == 422
    soup = BeautifulSoup(refused.data, "html.parser")
    assert soup.select_one("details[open]") and "Tuliskan catatan" in soup.text
    with app.app_context(), database.db.connection_context():
        Household.update(version=Household.version + 1).where(
            Household.id == village["households"]["H10"]).execute()
    stale = client.post("/verifikasi/household_without_head/tinjau", headers=headers,
                        data={**fields, "state": "diperiksa", "note": "Istri jadi kepala."})
    assert stale.status_code == 409 and "baru saja berubah" in stale.data.decode()
    fresh = BeautifulSoup(stale.data, "html.parser").select_one("input[name=fingerprint]")["value"]
    assert fresh != fields["fingerprint"]
    ok = client.post("/verifikasi/household_without_head/tinjau", headers=headers,
                     data={**fields, "fingerprint": fresh, "state": "diperiksa", "note": "Istri jadi kepala."})
    assert ok.status_code == 200 and open_count(app, "household_without_head") == 0


def test_reopen_brings_the_finding_back(app, client, village):
    fields, _ = finding_form(client, "double_aid", village["households"]["H15"])
    headers = {"X-CSRFToken": token(client), **HX}
    client.post("/verifikasi/double_aid/tinjau", headers=headers,
                data={**fields, "state": "usul_pencoretan", "note": "Coret BLT-DD."})
    assert open_count(app, "double_aid") == 0
    response = client.post("/verifikasi/double_aid/buka", headers=headers, data={"key": fields["key"]})
    assert response.status_code == 200 and "Terbuka" in response.data.decode()
    assert open_count(app, "double_aid") == 1


def test_a_finding_gone_meanwhile_answers_with_a_notice_row(app, client, village):
    fields, _ = finding_form(client, "no_aid", village["households"]["H5"])
    with app.app_context(), database.db.connection_context():
        Household.update(desil=7, version=Household.version + 1).where(
            Household.id == village["households"]["H5"]).execute()
    response = client.post("/verifikasi/no_aid/tinjau", headers={"X-CSRFToken": token(client), **HX},
                           data={**fields, "state": "usul_baru", "note": "x"})
    assert response.status_code == 409 and "sudah tidak ada" in response.data.decode()


def test_roles_staf_reads_masked_kecamatan_is_refused(app, village):
    staf, kecamatan = logged_in(app, "staf"), logged_in(app, "kecamatan")
    with app.app_context(), database.db.connection_context():
        numbers = {p.nik for p in Person.select()} | {h.no_kk for h in Household.select()}
    for url in ("/verifikasi/", "/verifikasi/nik_sex_mismatch", "/verifikasi/duplicate_person",
                "/verifikasi/exclusion_below_ceiling", "/"):
        response = staf.get(url)
        assert response.status_code == 200
        assert set(re.findall(r"\d{16}", response.data.decode())) & numbers == set(), url
        assert kecamatan.get(url).status_code == (200 if url == "/" else 403)
    page = staf.get("/verifikasi/duplicate_person").data.decode()
    assert "••••" in page and "review-form" not in page and "Unduh" not in page
    staf_token = token(staf)
    for url in ("/verifikasi/no_aid/tinjau", "/verifikasi/no_aid/buka"):
        assert staf.post(url, headers={"X-CSRFToken": staf_token}, data={"key": "h1"}).status_code == 403
    assert staf.get("/verifikasi/no_aid/ekspor.xlsx").status_code == 403
    assert staf.get("/verifikasi/usulan.xlsx").status_code == 403
    assert app.test_client().get("/verifikasi/").status_code == 303


def test_home_page_and_navigation_show_the_open_count_to_operator_and_staf(app, client, village):
    expected = open_count(app)
    soup = BeautifulSoup(client.get("/").data, "html.parser")
    link = soup.select_one('.figure a[href="/verifikasi/"]')
    assert link is not None and link.text == f"{expected:,}".replace(",", ".")
    assert soup.select_one('nav a[href="/verifikasi/"]').text == "Verifikasi"
    home = logged_in(app, "kecamatan").get("/").data.decode()
    assert "Temuan verifikasi" not in home and 'href="/verifikasi/"' not in home


def test_pages_carry_no_inline_script_style_or_handlers(client, village):
    for url in ("/verifikasi/", "/verifikasi/double_aid", "/"):
        soup = BeautifulSoup(client.get(url).data, "html.parser")
        assert not soup.select("script:not([src])") and not soup.select("[style]") and not soup.select("style")
        assert not [tag for tag in soup.find_all(True) if any(a.startswith("on") for a in tag.attrs)]


def read_sheet(data):
    """Rows of an exported workbook's first sheet as lists, plus the sheet."""
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)], sheet


def header_index(rows, first):
    """The index of the column header row (its first cell is `first`)."""
    return next(i for i, row in enumerate(rows) if row and row[0] == first)


def test_export_of_a_list_reads_back_with_text_ids(app, client, village):
    response = client.get("/verifikasi/duplicate_person/ekspor.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert "verifikasi-duplicate-person.xlsx" in response.headers["Content-Disposition"]
    rows, sheet = read_sheet(response.data)
    assert rows[0][0] == "Verifikasi data: Kemungkinan orang yang sama dengan NIK berbeda"
    at = header_index(rows, "No")
    assert rows[at] == ["No", "Dusun", "RW", "RT", "Nama", "NIK", "No KK", "Program", "Temuan", "Hasil pemeriksaan",
                        "Catatan operator", "Diperiksa oleh", "Waktu periksa"]
    body = rows[at + 1:]
    assert [r[4] for r in body] == ["Siti Aminah", "SITI  AMINAH."], "one line per person of the group"
    with app.app_context(), database.db.connection_context():
        niks = [Person.get_by_id(village["persons"][n]).nik for n in ("Siti Aminah", "SITI AMINAH. (H21)")]
    assert [r[5] for r in body] == niks
    assert all(sheet.cell(row=at + 2 + i, column=6).data_type == "s" for i in range(2))
    assert body[0][9] == "Terbuka"
    with app.app_context(), database.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "ekspor.verifikasi").count() == 1


def test_export_of_all_proposals_for_the_musyawarah_desa(app, client, village):
    headers = {"X-CSRFToken": token(client), **HX}
    for check_id, name, state, note in (("no_aid", "H4", "usul_baru", "=Usulkan PKH"),
                                        ("inclusion_above_ceiling", "H2", "usul_pencoretan", "Punya mobil."),
                                        ("household_several_heads", "H11", "diperiksa", "Sudah dipisah KK-nya.")):
        fields, _ = finding_form(client, check_id, village["households"][name])
        assert client.post(f"/verifikasi/{check_id}/tinjau", headers=headers,
                           data={**fields, "state": state, "note": note}).status_code == 200
    response = client.get("/verifikasi/usulan.xlsx")
    rows, sheet = read_sheet(response.data)
    at = header_index(rows, "No")
    assert rows[at][:8] == ["No", "Usulan", "Dusun", "RW", "RT", "Nama", "NIK", "No KK"]
    body = rows[at + 1:]
    assert [(r[1], r[5], r[8]) for r in body] == [("Usulkan pencoretan", "H2 kepala", "PKH"),
                                                   ("Usulkan baru", "H4 kepala", None)]
    assert body[1][11] == "=Usulkan PKH", "text that looks like a formula stays text"
    assert sheet.cell(row=at + 3, column=12).data_type == "s"
    assert sheet.cell(row=at + 2, column=8).data_type == "s" and len(body[0][7]) == 16
    with app.app_context(), database.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "ekspor.usulan").count() == 1


def test_cli_prints_every_check_and_json_for_tools(app, village):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["verifikasi", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["check"] for d in data] == list(checks.CHECKS)
    by_id = {d["check"]: d for d in data}
    assert by_id["inclusion_above_ceiling"] == {**by_id["inclusion_above_ceiling"], "count": 3,
                                                "title": "Penerima di atas batas desil program (inklusi)"}
    assert by_id["nik_birthdate_mismatch"]["count"] == 2
    text = runner.invoke(args=["verifikasi"])
    assert text.exit_code == 0
    assert "VERIFIKASI DATA" in text.output and "[inclusion_above_ceiling]" in text.output
