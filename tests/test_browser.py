"""In a real browser: search as you type, then open a household."""
import pytest

from .browser import browser_page
from .browser import live_server
from .browser import log_in
from .browser import screenshot
from .conftest import PASSWORD
from .conftest import add_user

pytestmark = pytest.mark.browser


def test_search_as_you_type_then_open_a_household(demo_app):
    add_user(demo_app, "operator", "operator")
    with live_server(demo_app) as base, browser_page() as page:
        log_in(page, base, "operator", PASSWORD)
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


def test_each_role_sees_what_it_may_see(demo_app, demo_db):
    from webapp.models import Person
    person = Person.select().where(Person.hubungan == "kepala").order_by(Person.id).first()
    for role in ("operator", "staf", "kecamatan"):
        add_user(demo_app, role, role)
    with live_server(demo_app) as base, browser_page() as page:
        page.goto(base + "/")
        assert "/masuk" in page.url
        screenshot(page, "login")
        for role in ("operator", "staf", "kecamatan"):
            log_in(page, base, role, PASSWORD)
            assert page.locator("details.dropdown summary").inner_text() == role
            if role == "kecamatan":
                assert page.locator("input[name=q]").count() == 0
                assert page.locator(".figure").count() >= 4
                page.goto(base + f"/keluarga/{person.household_id}")
                assert "Tidak diizinkan" in page.locator("main").inner_text()
                page.console_errors.remove("Failed to load resource: the server responded with a status of 403 (FORBIDDEN)")
            else:
                page.locator("input[name=q]").first.press_sequentially(person.nik[:12], delay=30)
                page.locator("#results table.results tbody tr").first.wait_for()
                text = page.locator("#results").inner_text()
                if role == "operator":
                    assert person.nik in text
                else:
                    assert person.nik not in text and person.nik[:4] + "••••••••" + person.nik[-4:] in text
                screenshot(page, f"search-{role}")
            page.locator("details.dropdown summary").click()
            page.locator("button.link-button", has_text="Keluar").click()
            page.wait_for_url("**/masuk")
        assert page.console_errors == []
