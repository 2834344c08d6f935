"""In a real browser: from the home page's open count to a finding, marked reviewed in place, and the count drops."""
import pytest

from .browser import browser_page
from .browser import live_server
from .browser import log_in
from .browser import screenshot
from .conftest import PASSWORD
from .conftest import add_user

pytestmark = pytest.mark.browser


def number(locator):
    """A figure's value as an integer ('1.234' → 1234)."""
    return int(locator.inner_text().replace(".", ""))


def test_operator_walks_from_home_count_to_a_finding_and_marks_it_reviewed(demo_app):
    add_user(demo_app, "operator", "operator")
    with live_server(demo_app) as base, browser_page() as page:
        log_in(page, base, "operator", PASSWORD)
        home_figure = page.locator(".figure", has=page.locator(".figure-label", has_text="Temuan verifikasi terbuka"))
        before = number(home_figure.locator(".figure-value"))
        assert before > 0
        home_figure.locator("a").click()
        page.wait_for_url(base + "/verifikasi/")
        screenshot(page, "verification-index")

        page.locator("#c-inclusion_above_ceiling a", has_text="inklusi").click()
        page.wait_for_url(base + "/verifikasi/inclusion_above_ceiling")
        page.evaluate("window.__noReload = true")
        open_figure = page.locator("#check-counts .figure").first.locator(".figure-value")
        open_before = number(open_figure)
        row = page.locator("table.findings tbody tr[id]").first
        row_id = row.get_attribute("id")
        row.locator("summary", has_text="Tinjau").click()
        form = page.locator(f"#{row_id} form.review-form")
        form.locator("select[name=state]").select_option("diperiksa")
        form.locator("input[name=note]").fill("Sudah dicek ke rumah: memang layak, desil belum diperbarui.")
        form.locator("button", has_text="Simpan").click()
        page.locator(f"#{row_id} .badge", has_text="Sudah diperiksa").wait_for()
        assert "desil belum diperbarui" in page.locator(f"#{row_id}").inner_text()
        assert number(open_figure) == open_before - 1
        assert page.evaluate("window.__noReload") is True, "the row was swapped in place, no reload"
        screenshot(page, "verification-reviewed")

        page.locator("header nav a", has_text="Beranda").click()
        page.wait_for_url(base + "/")
        assert number(home_figure.locator(".figure-value")) == before - 1
        assert page.console_errors == []
