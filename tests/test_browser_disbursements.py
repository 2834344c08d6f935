"""In a real browser: the operator updates statuses inline and the counts follow without a reload."""
import pytest

from webapp import db as database
from webapp.models import Disbursement
from webapp.models import Period
from webapp.models import Program

from .browser import browser_page
from .browser import live_server
from .browser import log_in
from .browser import screenshot
from .conftest import PASSWORD
from .conftest import add_user

pytestmark = pytest.mark.browser


def count(page, label):
    figure = page.locator("#period-counts .figure", has=page.locator(".figure-label", has_text=label))
    return int(figure.locator(".figure-value").inner_text().replace(".", ""))


def test_operator_marks_cair_and_tidak_cair_inline(demo_app):
    with demo_app.app_context(), database.db.connection_context():
        period = (Period.select().join(Program).where((Program.code == "PKH") & (Period.label == "Tahap 4 2026"))
                  .get())
        belum = Disbursement.select().where((Disbursement.period == period) & (Disbursement.status == "belum")).count()
    add_user(demo_app, "operator", "operator")
    with live_server(demo_app) as base, browser_page() as page:
        log_in(page, base, "operator", PASSWORD)
        page.goto(f"{base}/periode/{period.id}?status=belum")
        page.evaluate("window.__noReload = true")
        assert count(page, "Belum cair") == belum
        cair_before = count(page, "Sudah cair")

        rows = page.locator("table.ledger tbody tr[id]")
        first_id = rows.nth(0).get_attribute("id")
        rows.nth(0).locator("button", has_text="Cair").click()
        page.locator(f"#{first_id} .status-cair").wait_for()
        assert count(page, "Belum cair") == belum - 1
        assert count(page, "Sudah cair") == cair_before + 1

        second = rows.nth(1)
        second_id = second.get_attribute("id")
        second.locator("a", has_text="Ubah").click()
        form = page.locator(f"#{second_id} form.status-form")
        form.locator("select[name=status]").select_option("tidak_cair")
        form.locator("button[type=submit]").click()
        page.locator(f"#{second_id} .notice.error").wait_for()
        assert "memerlukan alasan" in page.locator(f"#{second_id}").inner_text()
        page.console_errors.remove("Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)")
        form = page.locator(f"#{second_id} form.status-form")
        form.locator("select[name=reason]").select_option("rekening")
        form.locator("input[name=note]").fill("Rekening pasif")
        # Keyboard: Enter in the note field submits the form.
        form.locator("input[name=note]").press("Enter")
        page.locator(f"#{second_id} .status-tidak_cair").wait_for()
        assert "Rekening/KKS bermasalah" in page.locator(f"#{second_id}").inner_text()
        assert count(page, "Belum cair") == belum - 2
        assert page.evaluate("window.__noReload") is True
        screenshot(page, "period-list")
        assert page.console_errors == []
