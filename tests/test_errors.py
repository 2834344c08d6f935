"""Error pages and fragments, and the protective headers on every response."""
import re
from pathlib import Path

from webapp.access import public

TEMPLATES = Path(__file__).resolve().parent.parent / "webapp" / "templates"


def test_unknown_page_is_an_indonesian_404(client):
    response = client.get("/tidak-ada")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.data.decode()
    assert b"<html" in response.data


def test_wrong_method_is_405(client):
    response = client.post("/cari")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_htmx_errors_are_fragments_retargeted_to_flash(client):
    response = client.get("/keluarga/12345", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert b"<html" not in response.data
    assert response.headers["HX-Retarget"] == "#flash"


def test_unexpected_error_is_500_without_details(app, client, caplog):
    @app.get("/boom")
    @public
    def boom():
        nik = "3205221505" + "800001"
        raise RuntimeError(f"NIK {nik} leaked")

    response = client.get("/boom")
    assert response.status_code == 500
    assert b"3205221505800001" not in response.data
    assert "3205221505800001" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_security_headers_on_every_response(client):
    for url in ["/", "/cari?q=x", "/tidak-ada", "/static/css/app.css"]:
        with client.get(url) as response:
            headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_style_or_handlers():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\sstyle\s*=", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path
        assert "hx-on" not in text, path
        assert not re.search(r"https?://", text), path
