"""In a real browser: search as you type, then open a household."""
import pytest

from .browser import browser_page
from .browser import live_server
from .browser import screenshot

pytestmark = pytest.mark.browser


def test_search_as_you_type_then_open_a_household(demo_app):
    with live_server(demo_app) as base, browser_page() as page:
        page.goto(base + "/")
        assert page.locator("h1").inner_text().startswith("Desa Mekarsari")
        screenshot(page, "home")
        # A marker on window survives only if no full page load happens.
        page.evaluate("window.__noReload = true")
        page.locator("input[name=q]").first.press_sequentially("3205", delay=40)
        rows = page.locator("#results table.results tbody tr")
        rows.first.wait_for()
        assert rows.count() == 20
        assert page.evaluate("window.__noReload") is True
        page.wait_for_url("**/cari?q=3205")
        screenshot(page, "search")

        name = rows.first.locator("td a").first.inner_text()
        rows.first.locator("td a").first.click()
        page.wait_for_url("**/keluarga/*")
        assert page.locator("h2#anggota").is_visible()
        assert name in page.locator("#anggota + div table").inner_text()
        screenshot(page, "household")
        assert page.console_errors == []
