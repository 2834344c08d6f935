"""Harness for browser tests: the app on a local port, driven by Playwright in Debian's Chromium."""
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def live_server(app):
    """Serve app on 127.0.0.1 on a free port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def browser_page():
    """A fresh Chromium page that records console errors (CSP violations among them)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium tidak ditemukan: jalankan `make test`, yang memasangnya dengan apt.")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="id-ID")
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        try:
            yield page
        finally:
            browser.close()


def screenshot(page, name):
    """Save a screenshot when SCREENSHOT_DIR is set (for people to look at)."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # caret="initial": hiding the caret injects a style, which the CSP (rightly) blocks.
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True, caret="initial")


def log_in(page, base, username, password):
    """Log in through the form, as a person would."""
    page.goto(base + "/masuk")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/masuk" not in url)
