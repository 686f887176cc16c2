"""Fixtures: a fresh app and database per test, clients signed in per role.

Set TEST_DATABASE_URL to run the same tests on PostgreSQL; every test then
gets its own schema, dropped afterwards.
"""
from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.demo import seed_demo
from app.extensions import db, limiter

DEMO_PASSWORD = "test-pass-1234"
PG_URL = os.environ.get("TEST_DATABASE_URL")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def database_url(tmp_path):
    """A database of this test's own: a SQLite file, or a PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def app(database_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, DEMO_PASSWORD=DEMO_PASSWORD)
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_PASSWORD)
        db.session.remove()
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class SignedIn:
    """A test client signed in as one user, which knows its CSRF token."""

    def __init__(self, client, username: str):
        self.client = client
        self.username = username
        page = client.get("/login")
        token = CSRF_META.search(page.get_data(as_text=True)).group(1)
        response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302, f"sign-in as {username} failed"
        self.csrf = self.fresh_csrf()

    def fresh_csrf(self) -> str:
        page = self.client.get("/", follow_redirects=True)
        return CSRF_META.search(page.get_data(as_text=True)).group(1)

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, url, data=None, htmx=False, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("X-CSRFToken", self.csrf)
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data=data, headers=headers, **kwargs)

    def sync(self, events, **kwargs):
        return self.post("/api/v1/sync", json={"device_id": "test-device", "events": events},
                         **kwargs)

    def pull(self, since: str = "", limit: int | None = None):
        query = f"?since={since}" + (f"&limit={limit}" if limit else "")
        return self.get(f"/api/v1/events{query}")


@pytest.fixture
def sign_in(app):
    """sign_in('lobby1') -> a SignedIn client of its own."""

    def make(username: str) -> SignedIn:
        return SignedIn(app.test_client(), username)

    return make


@pytest.fixture
def lobby1(sign_in):
    return sign_in("lobby1")


_seq = iter(range(1, 10**9))


def make_event(type: str, subject_id: str | None = None, payload: dict | None = None, *,
               branch: str = "demo", occurred_at: str = "2026-11-29T09:03:12.481+08:00",
               device_id: str = "device-a", seq: int | None = None, id: str | None = None) -> dict:
    """An event envelope as a tablet would send it."""
    return {
        "id": id or str(uuid.uuid4()),
        "type": type,
        "occurred_at": occurred_at,
        "subject_id": subject_id or str(uuid.uuid4()),
        "branch": branch,
        "device_id": device_id,
        "seq": seq if seq is not None else next(_seq),
        "payload": payload if payload is not None else {},
    }


def greeted(visit_id: str | None = None, **kwargs) -> dict:
    payload = kwargs.pop("payload", {"purpose": "cash"})
    return make_event("visit.greeted", visit_id or str(uuid.uuid4()), payload, **kwargs)
