"""Accounts, roles, sessions, CSRF and throttling (issue: accounts, roles and the security baseline)."""
import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from flask.sessions import SecureCookieSessionInterface

from webapp import db as database
from webapp.access import rule_for
from webapp.models import AuditEvent
from webapp.models import Household
from webapp.models import LoginAttempt
from webapp.models import Person
from webapp.models import User

from .conftest import PASSWORD
from .conftest import add_user
from .conftest import logged_in
from .conftest import make_app

HX = {"HX-Request": "true"}


def csrf_token(client, url="/"):
    """The CSRF token a page hands to htmx (hx-headers on <body>)."""
    html = client.get(url).data.decode()
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def form_login(client, username, password=PASSWORD):
    """Log in through the form (fetching its CSRF token first)."""
    html = client.get("/masuk").data.decode()
    token = BeautifulSoup(html, "html.parser").select_one("input[name=csrf_token]")["value"]
    return client.post("/masuk", data={"username": username, "password": password, "csrf_token": token})


def test_every_route_declares_who_may_use_it(app):
    with app.test_request_context():
        missing = [r.endpoint for r in app.url_map.iter_rules() if rule_for(r.endpoint) is None]
    assert missing == []


MATRIX = [
    # url, anonymous, operator, staf, kecamatan
    ("/", 303, 200, 200, 200),
    ("/cari?q=siti", 303, 200, 200, 403),
    ("/keluarga/1", 303, 200, 200, 403),
    ("/admin/pengguna", 303, 403, 403, 403),
    ("/admin/audit", 303, 403, 403, 403),
    ("/akun/sandi", 303, 200, 200, 200),
    ("/masuk", 200, 200, 200, 200),
]


@pytest.mark.parametrize("url, anon, operator, staf, kecamatan", MATRIX)
def test_role_route_matrix(demo_app, url, anon, operator, staf, kecamatan):
    clients = {role: logged_in(demo_app, role) for role in ("operator", "staf", "kecamatan")}
    assert demo_app.test_client().get(url).status_code == anon
    for role, expected in (("operator", operator), ("staf", staf), ("kecamatan", kecamatan)):
        assert clients[role].get(url).status_code == expected, role
    assert logged_in(demo_app, "kecamatan", is_admin=True, username="camat-admin").get("/admin/audit").status_code == 200


def test_anonymous_goes_to_log_in_and_htmx_gets_hx_redirect(app):
    client = app.test_client()
    add_user(app, "op", "operator")
    page = client.get("/cari?q=siti")
    assert page.status_code == 303 and page.headers["Location"].startswith("/masuk?next=/cari")
    fragment = client.get("/cari?q=siti", headers=HX)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/masuk")


def test_kecamatan_and_staf_cannot_post_admin_or_operator_actions(demo_app):
    for role in ("kecamatan", "staf"):
        client = logged_in(demo_app, role)
        token = csrf_token(client, "/")
        response = client.post("/admin/pengguna", data={"username": "x", "role": "operator"},
                               headers={"X-CSRFToken": token})
        assert response.status_code == 403


def test_staf_never_receives_a_full_nik_or_no_kk(demo_app, demo_db):
    numbers = {p.nik for p in Person.select()} | {h.no_kk for h in Household.select()}
    sample = Person.select().order_by(Person.id).limit(5)
    urls = ["/", "/cari?q=3205", "/cari?q=" + sample[0].nama.split()[0], "/cari?q=" + sample[1].nik[:10]]
    urls += [f"/keluarga/{p.household_id}" for p in sample]
    staf, operator = logged_in(demo_app, "staf"), logged_in(demo_app, "operator")
    seen_by_operator = set()
    for url in urls:
        for client in (staf, operator):
            response = client.get(url)
            assert response.status_code == 200
            found = set(re.findall(r"\d{16}", response.data.decode())) & numbers
            if client is staf:
                assert found == set(), url
            else:
                seen_by_operator |= found
    assert seen_by_operator, "operators do see whole numbers"
    assert "••••••••" in staf.get(urls[-1]).data.decode()


def test_csrf_missing_or_wrong_token_is_rejected_and_a_good_one_accepted(app):
    client = logged_in(app, "operator")
    missing = client.post("/keluar")
    assert missing.status_code == 400
    assert "Muat ulang halaman" in missing.data.decode()
    assert client.post("/keluar", headers={"X-CSRFToken": "forged"}).status_code == 400
    good = client.post("/keluar", headers={"X-CSRFToken": csrf_token(client)})
    assert good.status_code == 303


def test_request_from_another_origin_is_refused(app):
    client = logged_in(app, "operator")
    token = csrf_token(client)
    response = client.post("/keluar", headers={"X-CSRFToken": token, "Origin": "http://evil.example"})
    assert response.status_code == 403


def test_log_in_clears_the_session_and_the_cookie_holds_no_personal_data(app):
    add_user(app, "siti", "staf")
    client = app.test_client()
    response = form_login(client, "siti")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    value = client.get_cookie("rekap_bansos").value
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(value)
    assert set(data) <= {"uid", "epoch", "csrf_token", "_permanent"}
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_with_a_message(app):
    add_user(app, "siti", "staf")
    response = form_login(app.test_client(), "siti", "salah-sekali")
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in response.data.decode()


def revoked(client):
    return client.get("/").status_code == 303


def test_disable_password_change_role_change_and_logout_end_sessions(app):
    admin = logged_in(app, "operator", is_admin=True, username="admin")
    victim_id = add_user(app, "budi", "staf")
    token = csrf_token(admin)

    def session_of_budi():
        client = app.test_client()
        assert form_login(client, "budi").status_code == 303
        assert not revoked(client)
        return client

    budi = session_of_budi()
    admin.post(f"/admin/pengguna/{victim_id}", data={"role": "kecamatan"}, headers={"X-CSRFToken": token})
    assert revoked(budi)

    budi = session_of_budi()
    admin.post(f"/admin/pengguna/{victim_id}", data={"active": "0"}, headers={"X-CSRFToken": token})
    assert revoked(budi)
    assert form_login(app.test_client(), "budi").status_code == 401
    admin.post(f"/admin/pengguna/{victim_id}", data={"active": "1"}, headers={"X-CSRFToken": token})

    budi = session_of_budi()
    other_device = app.test_client()
    form_login(other_device, "budi")
    new = "Teh-Manis-Hangat-9"
    changed = budi.post("/akun/sandi", data={"current": PASSWORD, "password": new, "password2": new},
                        headers={"X-CSRFToken": csrf_token(budi)})
    assert changed.status_code == 303
    assert not revoked(budi), "the device that changed the password stays logged in"
    assert revoked(other_device)

    cookie = budi.get_cookie("rekap_bansos").value
    budi.post("/keluar", headers={"X-CSRFToken": csrf_token(budi)})
    replay = app.test_client()
    replay.set_cookie("rekap_bansos", cookie)
    assert revoked(replay), "a cookie replayed after log-out is refused"


def test_throttling_is_shared_by_workers_and_never_permanent(tmp_path):
    worker_a = make_app(tmp_path / "shared.db")
    worker_b = make_app(tmp_path / "shared.db")
    add_user(worker_a, "siti", "operator")
    for _ in range(5):
        assert form_login(worker_a.test_client(), "siti", "tebak-tebakan").status_code == 401
    blocked = form_login(worker_b.test_client(), "siti")
    assert blocked.status_code == 401
    assert "Terlalu banyak percobaan gagal" in blocked.data.decode()
    with worker_b.app_context(), database.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "login.gagal").count() == 5
        # Time passes: the back-off is over.
        for attempt in LoginAttempt.select():
            LoginAttempt.update(ts=attempt.ts - timedelta(minutes=20)).where(LoginAttempt.id == attempt.id).execute()
    assert form_login(worker_b.test_client(), "siti").status_code == 303


@pytest.mark.parametrize("password, message", [
    ("pendek", "minimal 8"), ("password123", "mudah ditebak"), ("admin-pertama-99", "mudah ditebak"),
])
def test_first_run_setup_refuses_weak_passwords(anon_client, password, message):
    data = {"username": "admin", "password": password, "password2": password,
            "csrf_token": BeautifulSoup(anon_client.get("/siapkan").data, "html.parser")
            .select_one("input[name=csrf_token]")["value"]}
    data["username"] = "admin-pertama" if "admin-pertama" in password else "admin"
    response = anon_client.post("/siapkan", data=data)
    assert response.status_code == 422 and message in response.data.decode()


def test_first_run_setup_creates_the_first_operator_once(app):
    client = app.test_client()
    assert client.get("/").headers["Location"].startswith("/masuk")
    assert client.get("/masuk").headers["Location"] == "/siapkan"
    token = BeautifulSoup(client.get("/siapkan").data, "html.parser").select_one("input[name=csrf_token]")["value"]
    response = client.post("/siapkan", data={"username": "ratna", "password": PASSWORD, "password2": PASSWORD,
                                             "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    with app.app_context(), database.db.connection_context():
        user = User.get(User.username == "ratna")
        assert (user.role, user.is_admin) == ("operator", True)
    assert app.test_client().get("/siapkan").status_code == 404


def test_create_user_command_reads_the_password_from_stdin(runner, app):
    result = runner.invoke(args=["create-user", "dewi", "--role", "staf"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert form_login(app.test_client(), "dewi").status_code == 303
    weak = runner.invoke(args=["create-user", "eko", "--role", "staf"], input="12345678\n")
    assert weak.exit_code != 0 and "mudah ditebak" in weak.output
    no_argv = runner.invoke(args=["create-user", "eko", "--role", "staf", "--password", PASSWORD])
    assert no_argv.exit_code == 2 and "No such option" in no_argv.output


def test_admin_creates_a_user_with_a_one_time_password_that_must_be_changed(app):
    admin = logged_in(app, "operator", is_admin=True, username="admin")
    page = admin.post("/admin/pengguna", data={"username": "joko", "role": "staf"},
                      headers={"X-CSRFToken": csrf_token(admin)})
    one_time = BeautifulSoup(page.data, "html.parser").select_one(".one-time").get_text(strip=True)
    joko = app.test_client()
    assert form_login(joko, "joko", one_time).status_code == 303
    assert joko.get("/").headers["Location"] == "/akun/sandi"
    new = "Nasi-Liwet-Sunda-3"
    joko.post("/akun/sandi", data={"current": one_time, "password": new, "password2": new},
              headers={"X-CSRFToken": csrf_token(joko, "/akun/sandi")})
    assert joko.get("/").status_code == 200
    reset = admin.post("/admin/pengguna/2/reset", headers={"X-CSRFToken": csrf_token(admin)})
    fresh = BeautifulSoup(reset.data, "html.parser").select_one(".one-time").get_text(strip=True)
    assert fresh != one_time
    assert joko.get("/").status_code == 303, "a reset ends the user's sessions"
    assert form_login(app.test_client(), "joko", new).status_code == 401


def test_the_last_admin_cannot_be_removed(app):
    admin = logged_in(app, "operator", is_admin=True, username="admin")
    response = admin.post("/admin/pengguna/1", data={"is_admin": "0"}, headers={"X-CSRFToken": csrf_token(admin)})
    assert response.status_code == 422
    assert "minimal satu admin" in response.data.decode()


def test_audit_log_records_and_filters(app):
    add_user(app, "siti", "staf")
    form_login(app.test_client(), "siti", "keliru-sekali")
    form_login(app.test_client(), "siti")
    admin = logged_in(app, "operator", is_admin=True, username="admin")
    page = admin.get("/admin/audit?aksi=login.gagal").data.decode()
    assert "login.gagal" in page and "login.berhasil" not in page.split("<tbody>")[1]
    by_user = admin.get("/admin/audit?pengguna=siti").data.decode().split("<tbody>")[1]
    assert "login.berhasil" in by_user and "pengguna.dibuat" not in by_user
    assert "Tidak ada kejadian" in admin.get("/admin/audit?dari=2099-01-01").data.decode()


def test_default_password_hash_is_werkzeugs(tmp_path):
    app = make_app(tmp_path / "x.db", PASSWORD_HASH_METHOD=None)
    add_user(app, "siti", "staf")
    with app.app_context(), database.db.connection_context():
        assert User.get().password_hash.startswith("scrypt:")


def test_security_headers_on_denials_and_redirects(demo_app):
    for client, url in ((demo_app.test_client(), "/cari"), (logged_in(demo_app, "kecamatan"), "/cari")):
        headers = client.get(url).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
