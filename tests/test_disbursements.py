"""Programmes, periods and the recipient list: inline status changes, locking, bulk, closing, export."""
import io
import re
from datetime import date

import openpyxl
import pytest
from bs4 import BeautifulSoup

from webapp import db as database
from webapp import ledger
from webapp.models import AuditEvent
from webapp.models import Desa
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Period
from webapp.models import Person
from webapp.models import Program

from .conftest import logged_in

HX = {"HX-Request": "true"}


@pytest.fixture
def village(app):
    """Three households on one PKH period; returns their disbursement ids and the period id."""
    with app.app_context(), database.db.connection_context():
        period = Period.create(program=Program.get(code="PKH"), label="Tahap 1 2026", year=2026, amount=750000,
                               start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
        ids = []
        for i, (dusun, desil) in enumerate([("Babakan", 2), ("Babakan", 4), ("Cikoneng", None)]):
            hh = Household.create(no_kk=f"320522120315000{i + 1}", desa=Desa.current(), dusun=dusun, rw="001",
                                  rt=f"00{i + 1}", desil=desil)
            Person.create(nik=f"320522150580000{i + 1}", household=hh, nama=f"Kepala {dusun} {i + 1}",
                          hubungan="kepala")
            ids.append(Disbursement.create(period=period, household=hh, amount=750000).id)
        return {"period": period.id, "rows": ids}


def token(client, url):
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get(url).data.decode()).group(1)


def post_status(client, village, row, data, version=1, htmx=True):
    url = f"/periode/{village['period']}"
    headers = {"X-CSRFToken": token(client, url), **(HX if htmx else {})}
    return client.post(f"/penyaluran/{row}/status", data={"version": version, **data}, headers=headers)


def stored(app, row_id):
    with app.app_context(), database.db.connection_context():
        d = Disbursement.get_by_id(row_id)
        d.editor = d.updated_by.username if d.updated_by else None
        return d


def test_mark_cair_inline_returns_the_row_and_fresh_counts(app, client, village):
    row = village["rows"][0]
    response = post_status(client, village, row, {"status": "cair"})
    assert response.status_code == 200
    html = response.data.decode()
    assert "<html" not in html and f'id="d-{row}"' in html and "Sudah cair" in html
    assert 'id="period-counts"' in html and 'hx-swap-oob="true"' in html
    d = stored(app, row)
    assert (d.status, d.status_date, d.version) == ("cair", ledger.today_wib(), 2)
    assert d.editor == "operator"


def test_an_empty_date_means_today_for_a_new_status_and_the_old_date_for_the_same(app, client, village):
    row = village["rows"][0]
    assert post_status(client, village, row, {"status": "cair", "status_date": "2026-11-07"}).status_code == 200
    form = client.get(f"/penyaluran/{row}/ubah", headers=HX).data.decode()
    assert 'name="status_date" value=""' in form and "sekarang 7 November 2026" in form
    post_status(client, village, row, {"status": "tidak_cair", "reason": "rekening"}, version=2)
    assert stored(app, row).status_date == ledger.today_wib(), "not the date it was paid"
    with app.app_context(), database.db.connection_context():
        Disbursement.update(status_date=date(2026, 11, 20)).where(Disbursement.id == row).execute()
    post_status(client, village, row, {"status": "tidak_cair", "reason": "kks_belum"}, version=3)
    d = stored(app, row)
    assert (d.reason, d.status_date) == ("kks_belum", date(2026, 11, 20))


def test_tidak_cair_needs_a_reason_and_lainnya_needs_a_note(app, client, village):
    row = village["rows"][0]
    refused = post_status(client, village, row, {"status": "tidak_cair"})
    assert refused.status_code == 422 and "memerlukan alasan" in refused.data.decode()
    assert "<form" in refused.data.decode(), "the form comes back with the message"
    vague = post_status(client, village, row, {"status": "tidak_cair", "reason": "lainnya"})
    assert vague.status_code == 422 and "tuliskan keterangannya" in vague.data.decode()
    future = post_status(client, village, row, {"status": "cair", "status_date": "2999-01-01"})
    assert future.status_code == 422
    assert stored(app, row).version == 1, "refused changes write nothing"
    ok = post_status(client, village, row, {"status": "tidak_cair", "reason": "rekening", "note": "KKS terblokir"})
    assert ok.status_code == 200
    d = stored(app, row)
    assert (d.status, d.reason, d.note) == ("tidak_cair", "rekening", "KKS terblokir")
    back = post_status(client, village, row, {"status": "belum"}, version=2)
    assert back.status_code == 200
    d = stored(app, row)
    assert (d.status, d.reason, d.status_date) == ("belum", None, None)


def test_stale_version_gets_409_with_the_fresh_row_never_an_overwrite(app, client, village):
    other = logged_in(app, "operator", username="rina")
    row = village["rows"][1]
    assert post_status(other, village, row, {"status": "cair"}).status_code == 200
    stale = post_status(client, village, row, {"status": "tidak_cair", "reason": "pindah"}, version=1)
    assert stale.status_code == 409
    html = stale.data.decode()
    assert "baru saja diubah oleh rina" in html and "Sudah cair" in html
    assert stored(app, row).status == "cair"


def test_every_change_is_audited_and_shown_in_the_history(app, client, village):
    row = village["rows"][0]
    post_status(client, village, row, {"status": "tidak_cair", "reason": "meninggal"})
    with app.app_context(), database.db.connection_context():
        events = list(AuditEvent.select().where((AuditEvent.entity == "disbursement") & (AuditEvent.entity_id == row)))
    assert {(e.field, e.old, e.new) for e in events} >= {("status", "belum", "tidak_cair"), ("reason", None, "meninggal")}
    assert all(e.username == "operator" for e in events)
    history = client.get(f"/penyaluran/{row}/riwayat").data.decode()
    assert "Tidak cair" in history and "Meninggal" in history and "operator" in history


def test_plain_form_fallback_redirects_back_to_the_list(app, client, village):
    row = village["rows"][2]
    response = post_status(client, village, row, {"status": "cair"}, htmx=False)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"#d-{row}")
    page = client.get(f"/penyaluran/{row}/ubah")
    assert page.status_code == 200 and b"<html" in page.data and b'name="reason"' in page.data


def test_only_operators_change_statuses(app, village):
    staf = logged_in(app, "staf")
    assert staf.get(f"/periode/{village['period']}").status_code == 200
    assert post_status(staf, village, village["rows"][0], {"status": "cair"}).status_code == 403
    assert logged_in(app, "kecamatan").get(f"/periode/{village['period']}").status_code == 403


def test_closed_period_is_read_only_and_reopening_is_for_admins(app, client, village):
    period = village["period"]
    url = f"/periode/{period}"
    closed = client.post(f"{url}/tutup", headers={"X-CSRFToken": token(client, url), **HX})
    assert closed.status_code == 204 and closed.headers["HX-Redirect"] == url
    assert b"Ditutup" in client.get(url).data
    refused = post_status(client, village, village["rows"][0], {"status": "cair"})
    assert refused.status_code == 422 and "sudah ditutup" in refused.data.decode()
    assert client.post(f"{url}/buka", headers={"X-CSRFToken": token(client, url)}).status_code == 403
    admin = logged_in(app, "operator", is_admin=True, username="admin")
    assert admin.post(f"{url}/buka", headers={"X-CSRFToken": token(admin, url)}).status_code == 303
    with app.app_context(), database.db.connection_context():
        assert not Period.get_by_id(period).closed
        assert AuditEvent.select().where(AuditEvent.action == "periode.dibuka").count() == 1


def test_bulk_change_selected_rows_and_all_matching_a_filter(app, client, village):
    url = f"/periode/{village['period']}"
    first, second, third = village["rows"]
    response = client.post(f"{url}/massal", headers={"X-CSRFToken": token(client, url)},
                           data={"ids": [first, second], "status": "cair", "status_date": "2026-02-03"})
    assert response.status_code == 303
    assert [stored(app, r).status for r in village["rows"]] == ["cair", "cair", "belum"]
    assert stored(app, first).status_date == date(2026, 2, 3)
    client.post(f"{url}/massal", headers={"X-CSRFToken": token(client, url)},
                data={"scope": "filter", "f_dusun": "Babakan", "status": "tidak_cair", "reason": "sp2d_belum"})
    assert [stored(app, r).status for r in village["rows"]] == ["tidak_cair", "tidak_cair", "belum"]
    with app.app_context(), database.db.connection_context():
        status_events = AuditEvent.select().where(AuditEvent.field == "status").count()
    assert status_events == 4
    refused = client.post(f"{url}/massal", headers={"X-CSRFToken": token(client, url)},
                          data={"ids": [third], "status": "tidak_cair"})
    assert refused.status_code == 303 and stored(app, third).status == "belum"
    assert "memerlukan alasan" in client.get(url).data.decode()


def test_filters_live_in_the_url_and_facet_counts_match(client, village):
    url = f"/periode/{village['period']}"
    page = BeautifulSoup(client.get(url + "?dusun=Babakan").data, "html.parser")
    assert len(page.select("table.ledger tbody tr[id]")) == 2
    options = [o.get_text(strip=True) for o in page.select("select[name=dusun] option")]
    assert "Babakan (2)" in options and "Cikoneng (1)" in options
    desil = [o.get_text(strip=True) for o in page.select("select[name=desil] option")]
    assert "Desil 2 (1)" in desil and "Desil 4 (1)" in desil
    none = BeautifulSoup(client.get(url + "?desil=none").data, "html.parser")
    assert [tr["id"] for tr in none.select("table.ledger tbody tr[id]")] == [f"d-{village['rows'][2]}"]
    found = BeautifulSoup(client.get(url + "?q=kepala cikon").data, "html.parser")
    assert len(found.select("table.ledger tbody tr[id]")) == 1


def test_export_is_exactly_as_filtered_with_text_ids_and_safe_cells(app, client, village):
    with app.app_context(), database.db.connection_context():
        Disbursement.update(note="=HYPERLINK(\"http://x\")").where(Disbursement.id == village["rows"][0]).execute()
    response = client.get(f"/periode/{village['period']}/ekspor.xlsx?dusun=Babakan")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Daftar penerima PKH — Tahap 1 2026"
    assert "Mekarsari" in rows[1][0] and "dusun Babakan" in rows[2][0]
    header = rows[5]
    data = [r for r in rows[6:] if r[0] is not None]
    assert len(data) == 2
    assert data[0][header.index("No KK")] == "3205221203150001"
    cell = sheet.cell(row=7, column=header.index("Keterangan") + 1)
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s" and cell.quotePrefix
    with app.app_context(), database.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "ekspor.daftar_penerima").count() == 1


def test_new_period_can_start_from_the_previous_list(app, client, village):
    post_status(client, village, village["rows"][0], {"status": "cair"})
    response = client.post("/program/PKH/periode", headers={"X-CSRFToken": token(client, "/program/PKH")},
                           data={"label": "Tahap 2 2026", "copy_from": village["period"], "amount": "750.000"})
    assert response.status_code == 303
    with app.app_context(), database.db.connection_context():
        new = Period.get(Period.label == "Tahap 2 2026")
        rows = list(Disbursement.select().where(Disbursement.period == new))
    assert new.year == 2026 and new.amount == 750000
    assert len(rows) == 3 and {d.status for d in rows} == {"belum"}
    duplicate = client.post("/program/PKH/periode", headers={"X-CSRFToken": token(client, "/program/PKH")},
                            data={"label": "Tahap 2 2026"})
    assert duplicate.status_code == 422 and "sudah ada" in duplicate.data.decode()


def test_operator_adds_a_programme(app, client):
    response = client.post("/program", headers={"X-CSRFToken": token(client, "/program")},
                           data={"code": "bantuan-desa", "nama": "Bantuan Lansia Desa", "sasaran": "jiwa",
                                 "desil_max": "5", "default_amount": "Rp300.000", "sumber_dana": "Dana Desa"})
    assert response.status_code == 303 and response.headers["Location"] == "/program/BANTUAN-DESA"
    with app.app_context(), database.db.connection_context():
        program = Program.get(code="BANTUAN-DESA")
    assert (program.sasaran, program.desil_max, program.default_amount) == ("jiwa", 5, 300000)
    bad = client.post("/program", headers={"X-CSRFToken": token(client, "/program")},
                      data={"code": "PKH", "nama": "x", "sasaran": "keluarga"})
    assert bad.status_code == 422 and "sudah ada" in bad.data.decode()


def test_household_page_warns_about_double_aid(app, client, village):
    with app.app_context(), database.db.connection_context():
        hh = Disbursement.get_by_id(village["rows"][0]).household
        bltdd = Period.create(program=Program.get(code="BLT-DD"), label="Tahap 1 2026", year=2026,
                              start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
        Disbursement.create(period=bltdd, household=hh, channel="tunai")
        later = Period.create(program=Program.get(code="BLT-DD"), label="Tahap 3 2026", year=2026,
                              start_date=date(2026, 7, 1), end_date=date(2026, 9, 30))
        Disbursement.create(period=later, household=hh, channel="tunai")
    html = client.get(f"/keluarga/{hh.id}").data.decode()
    assert html.count("Bantuan ganda") == 1
    assert "BLT-DD (Tahap 1 2026) tidak boleh bersamaan dengan PKH (Tahap 1 2026)" in html


def test_status_can_be_changed_from_the_household_page_too(app, client, village):
    row = village["rows"][0]
    with app.app_context(), database.db.connection_context():
        household_id = Disbursement.get_by_id(row).household_id
    page = client.get(f"/keluarga/{household_id}").data.decode()
    assert f"/penyaluran/{row}/ubah?v=keluarga" in page
    form = client.get(f"/penyaluran/{row}/ubah?v=keluarga", headers=HX).data.decode()
    assert 'colspan="7"' in form and 'name="v" value="keluarga"' in form
    response = post_status(client, village, row, {"status": "tidak_cair", "reason": "pindah", "v": "keluarga"})
    html = response.data.decode()
    assert response.status_code == 200 and "Tidak cair" in html and "period-counts" not in html
    assert "<td><span class=\"badge\">PKH</span></td>" in html
    # One click marks it paid from the household page as well, and the row stays a household-page row.
    page = client.get(f"/keluarga/{household_id}").data.decode()
    assert 'title="Tandai sudah cair hari ini"' in page
    paid = post_status(client, village, row, {"status": "cair", "v": "keluarga"}, version=2)
    assert paid.status_code == 200 and "Sudah cair" in paid.data.decode() and "Tandai sudah cair" not in paid.data.decode()
    assert stored(app, row).status_date == ledger.today_wib()
