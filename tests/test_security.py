"""Sessions that really end, and the headers every answer carries."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from flask import request
from sqlalchemy import select, update

from app import create_app
from app.demo import seed_demo
from app.extensions import db
from app.models import SignIn, User

from .conftest import CSRF_META, DEMO_PASSWORD, greeted


def sign_in_of(app, username: str) -> SignIn:
    with app.app_context():
        return db.session.scalars(
            select(SignIn)
            .join(User)
            .where(User.username == username)
            .order_by(SignIn.started_at.desc())
        ).first()


def age_sign_in(app, sign_in_id: str, **delta) -> None:
    """Move a sign-in's clocks back, as if time had passed."""
    with app.app_context():
        row = db.session.get(SignIn, sign_in_id)
        row.started_at -= timedelta(**delta)
        row.last_seen_at -= timedelta(**delta)
        db.session.commit()


def copy_of_cookie(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


# --- sign-ins ----------------------------------------------------------------


def test_sign_in_is_recorded_with_its_device(app, lobby1):
    row = sign_in_of(app, "lobby1")
    assert row is not None and row.ended_at is None
    assert row.ip_address == "127.0.0.1"
    assert len(row.id) >= 40  # unguessable


def test_a_copied_cookie_stops_working_at_sign_out(app, lobby1):
    thief = copy_of_cookie(app, lobby1.client)
    assert thief.get("/lobby").status_code == 200
    lobby1.post("/logout")
    assert thief.get("/lobby").status_code == 302
    answer = thief.get("/api/v1/session")
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    assert sign_in_of(app, "lobby1").ended_reason == "signed_out"


def test_idle_tablet_is_signed_out(app, lobby1):
    row = sign_in_of(app, "lobby1")
    age_sign_in(app, row.id, minutes=61)
    answer = lobby1.sync([greeted()])
    assert answer.status_code == 401  # the outbox keeps its queue and asks to sign in
    assert sign_in_of(app, "lobby1").ended_reason == "idle"
    assert lobby1.get("/lobby").status_code == 302


def test_work_keeps_the_session_alive_and_polls_do_not(app, lobby1):
    row = sign_in_of(app, "lobby1")
    age_sign_in(app, row.id, minutes=30)
    before = sign_in_of(app, "lobby1").last_seen_at
    lobby1.get("/lobby/board", headers={"HX-Request": "true", "X-Datang-Background": "1"})
    lobby1.get("/api/v1/events", headers={"X-Datang-Background": "1"})
    assert sign_in_of(app, "lobby1").last_seen_at == before
    assert lobby1.sync([greeted()]).status_code == 200
    assert sign_in_of(app, "lobby1").last_seen_at > before + timedelta(minutes=29)


def test_no_write_for_each_request(app, lobby1):
    """The idle clock is written at most once a minute: reads stay reads."""
    lobby1.get("/lobby")
    first = sign_in_of(app, "lobby1").last_seen_at
    lobby1.get("/lobby")
    assert sign_in_of(app, "lobby1").last_seen_at == first


def test_a_sign_in_ends_after_its_lifetime_however_busy(app, lobby1):
    row = sign_in_of(app, "lobby1")
    with app.app_context():
        # Busy all along: seen a moment ago, started longer ago than a sign-in lasts.
        started = row.started_at - app.config["PERMANENT_SESSION_LIFETIME"]
        db.session.execute(update(SignIn).where(SignIn.id == row.id).values(started_at=started))
        db.session.commit()
    assert lobby1.get("/lobby").status_code == 302
    assert sign_in_of(app, "lobby1").ended_reason == "expired"


def test_idle_timeout_and_lifetime_are_configurable(database_url, monkeypatch):
    monkeypatch.setenv("DATANG_IDLE_MINUTES", "5")
    monkeypatch.setenv("DATANG_SESSION_MINUTES", "90")
    import importlib

    import config

    importlib.reload(config)
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
        assert app.config["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=5)
        assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=90)
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_signing_in_again_after_idle_works(app, client, lobby1):
    age_sign_in(app, sign_in_of(app, "lobby1").id, minutes=61)
    assert lobby1.get("/lobby").status_code == 302
    again = type(lobby1)(lobby1.client, "lobby1")
    assert again.sync([greeted()]).status_code == 200


# --- headers -------------------------------------------------------------------

PAGES = ["/lobby", "/checklist", "/checklist/history", "/sw.js", "/offline"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_has_the_security_headers(lobby1, path):
    response = lobby1.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in response.headers  # no version banner


@pytest.mark.parametrize("path", ["/api/v1/session", "/api/v1/events", "/manifest.webmanifest"])
def test_data_answers_may_load_nothing(lobby1, path):
    response = lobby1.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_carry_only_what_applies_to_them(client):
    """A policy on a script is ignored by browsers: static files skip it and stay small."""
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers and "Server" not in response.headers


def test_text_goes_out_compressed(lobby1):
    for path in ("/lobby", "/static/vendor/htmx/htmx.min.js", "/api/v1/openapi.json"):
        response = lobby1.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == "br", path
        assert "Accept-Encoding" in response.headers["Vary"]


@pytest.mark.parametrize("path, status", [("/login", 200), ("/no-such-page", 404), ("/lobby", 302)])
def test_anonymous_and_error_answers_have_them_too(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Server" not in response.headers


def test_development_cookies_are_httponly_and_samesite(client):
    response = client.post("/login", data={"username": "x"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_are_secure(database_url, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-for-this-test")
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEMO_PASSWORD=DEMO_PASSWORD,
        RATELIMIT_ENABLED=False,
    )
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_PASSWORD)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    token = CSRF_META.search(page.get_data(as_text=True)).group(1)
    form = {"username": "lobby1", "password": DEMO_PASSWORD, "csrf_token": token}
    # Over HTTPS the CSRF check also wants the post to come from this site.
    assert client.post("/login", base_url="https://localhost", data=form).status_code == 400
    response = client.post(
        "/login",
        base_url="https://localhost",
        data=form,
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_production_refuses_to_start_without_a_secret_key(database_url, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", SQLALCHEMY_DATABASE_URI=database_url)


def test_forwarded_headers_are_believed_only_behind_a_configured_proxy(database_url):
    """Throttling and the audit log key on the address: a client must not pick its own."""
    spoofed = {"X-Forwarded-For": "10.9.8.7", "X-Forwarded-Proto": "https"}

    def seen_by(app) -> dict:
        seen = {}

        @app.before_request
        def capture():
            seen.update(addr=request.remote_addr, secure=request.is_secure)

        with app.app_context():
            db.create_all()
        app.test_client().get("/healthz", headers=spoofed)
        with app.app_context():
            db.engine.dispose()
        return seen

    direct = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    assert seen_by(direct) == {"addr": "127.0.0.1", "secure": False}
    proxied = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, TRUSTED_PROXIES=1)
    assert seen_by(proxied) == {"addr": "10.9.8.7", "secure": True}


def test_sign_in_throttling_is_shared_by_workers_through_redis(database_url):
    """With memory:// each gunicorn worker counts alone; in Redis every worker sees one count."""
    import redis

    storage = "redis://127.0.0.1:6379/15"
    try:
        store = redis.Redis.from_url(storage)
        store.flushdb()
    except redis.ConnectionError:
        # CI (.ci/run) installs and starts Redis: there a missing Redis is a failure.
        if os.environ.get("CI") == "true":
            pytest.fail("no Redis on 127.0.0.1:6379, and CI=true: .ci/run should start it")
        pytest.skip("no Redis on 127.0.0.1:6379 (a developer's machine; CI runs this test)")
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        RATELIMIT_STORAGE_URI=storage,
        LOGIN_RATE_LIMIT="4 per minute",
    )
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_PASSWORD)
    client = app.test_client()
    statuses = []
    for _ in range(6):
        token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
        statuses.append(
            client.post(
                "/login", data={"username": "lobby1", "password": "wrong", "csrf_token": token}
            ).status_code
        )
        assert store.keys("*"), "the count lives in Redis, outside the worker"
    assert statuses == [401] * 4 + [429] * 2
    store.flushdb()
    with app.app_context():
        db.engine.dispose()


def test_scripts_are_minified_on_the_way_out(client):
    import brotli

    with open("app/static/js/outbox.js", "rb") as f:
        source = f.read()
    response = client.get("/static/js/outbox.js", headers={"Accept-Encoding": "br"})
    served = brotli.decompress(response.data)
    assert b"// Datang's outbox" not in served and len(served) < 0.8 * len(source)
    assert client.get("/static/js/outbox.js").data == source  # no compression: as written
