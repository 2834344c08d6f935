"""In a real browser: the kecamatan opens the recap, filters it in place, follows a number, copies the summary."""
import re

import pytest

from .browser import browser_page
from .browser import live_server
from .browser import log_in
from .browser import screenshot
from .conftest import PASSWORD
from .conftest import add_user

pytestmark = pytest.mark.browser


def number(text):
    return int(re.sub(r"[^\d]", "", text))


def test_kecamatan_reads_filters_drills_and_copies(demo_app):
    add_user(demo_app, "camat", "kecamatan")
    with live_server(demo_app) as base, browser_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page.goto(base + "/masuk")
        page.fill("input[name=username]", "camat")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/rekap")
        page.locator("tr.program-row").first.wait_for()
        assert page.locator("tr.program-row").count() > 1
        screenshot(page, "recap")
        page.evaluate("window.__noReload = true")

        page.check("input[name=program][value=PKH]")
        page.wait_for_url("**/rekap?program=PKH**")
        page.wait_for_function("document.querySelectorAll('tr.program-row').length === 1")
        assert page.locator("tr.program-row th").inner_text().startswith("PKH")
        assert page.evaluate("window.__noReload") is True

        link = page.locator("tr.program-row td a").first
        shown = number(link.inner_text())
        link.click()
        page.wait_for_url("**/rekap/daftar**")
        assert number(page.locator(".list-count").inner_text()) == shown
        assert "program PKH" in page.locator("h1").inner_text()
        screenshot(page, "recap-list")

        page.go_back()
        page.locator("#ringkasan-teks").wait_for()
        page.click("text=Salin ringkasan")
        page.locator(".copy-status", has_text="Tersalin").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.locator("#ringkasan-teks").input_value()
        assert "Rekap Bansos Desa Mekarsari" in copied and "PKH:" in copied
        assert page.console_errors == []


def test_operator_reaches_the_recap_from_the_menu_and_rt_rows_line_up(demo_app):
    add_user(demo_app, "ops", "operator")
    with live_server(demo_app) as base, browser_page() as page:
        log_in(page, base, "ops", PASSWORD)
        page.click("nav a:text-is('Rekap')")
        page.wait_for_url(base + "/rekap")
        page.locator("tr.detail-row summary").first.click()
        page.locator("tr.rt-row").first.wait_for()
        screenshot(page, "recap-rt-rows")
        edges = "els => els.map(e => Math.round(e.getBoundingClientRect().right))"
        headings = page.locator("table.wilayah > thead th").evaluate_all(edges)
        for row in ("tr.dusun-row", "tr.rw-row", "tr.rt-row"):
            assert page.locator(row).first.locator("th, td").evaluate_all(edges) == headings, row
        assert page.console_errors == []
