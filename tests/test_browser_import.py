"""In a real browser: upload a DTSEN file, read the preview, confirm, and find the new people."""
import pytest

from .browser import browser_page
from .browser import live_server
from .browser import log_in
from .browser import screenshot
from .conftest import PASSWORD
from .conftest import add_user
from .test_imports_web import ROWS
from .test_imports_web import xlsx

pytestmark = pytest.mark.browser


def test_upload_preview_confirm_then_search(app, tmp_path):
    path = tmp_path / "dtsen-triwulan-iv.xlsx"
    path.write_bytes(xlsx(ROWS))
    add_user(app, "operator", "operator")
    with live_server(app) as base, browser_page() as page:
        log_in(page, base, "operator", PASSWORD)
        page.goto(base + "/impor/")
        page.set_input_files("input[type=file]", str(path))
        page.click("text=Unggah dan lihat pratinjau")
        page.locator("#konfirmasi").wait_for(timeout=20000)
        text = page.locator("main").inner_text()
        assert "Belum ada yang diubah" in text and "harus 16 angka" in text
        screenshot(page, "import-preview")
        page.fill("input[name=version_label]", "DTSEN Triwulan IV 2026")
        page.click("text=Terapkan impor")
        page.locator("text=Impor selesai").wait_for(timeout=20000)
        screenshot(page, "import-done")
        page.goto(base + "/cari")
        page.locator("input[name=q]").press_sequentially("siti am", delay=30)
        page.locator("#results table.results tbody tr").first.wait_for()
        assert "Siti Aminah" in page.locator("#results").inner_text()
        assert page.console_errors == []
