"""Fixtures: a fresh app and database per test, clients signed in per role.

On SQLite the seeded database (the current models' tables, then the demo data)
is built once per test run (per xdist worker), and every test gets a copy of
the file. Set TEST_DATABASE_URL to run the same tests on PostgreSQL; every test
then gets its own schema, dropped afterwards, with the tables and the demo data
made in it (cloning a template schema saved little: its DDL, which a clone
needs too, is most of the cost).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.demo import seed_demo
from app.extensions import db, limiter

# Shared with the benchmarks; the tests import them from here.
from testbed.clients import CSRF_META, DEMO_PASSWORD, SignedIn, greeted, make_event  # noqa: F401

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


def _seed(app) -> None:
    """The tables of the current models and the demo data."""
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_PASSWORD)
        db.session.remove()


def _test_app(database_url: str):
    return create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, DEMO_PASSWORD=DEMO_PASSWORD)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A seeded SQLite file, made once per run (per xdist worker), to be copied."""
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite3"
    app = _test_app(f"sqlite:///{path}")
    _seed(app)
    with app.app_context():
        db.engine.dispose()
    # Closing the last connection checkpointed the WAL into the file and removed
    # it, so the one file is the whole database.
    assert not os.path.exists(f"{path}-wal")
    return path


@pytest.fixture
def app(database_url, request):
    if not PG_URL:
        shutil.copyfile(
            request.getfixturevalue("sqlite_template"), database_url.removeprefix("sqlite:///")
        )
    app = _test_app(database_url)
    if PG_URL:
        _seed(app)
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sign_in(app):
    """sign_in('lobby1') -> a SignedIn client of its own."""

    def make(username: str) -> SignedIn:
        return SignedIn(app.test_client(), username)

    return make


@pytest.fixture
def lobby1(sign_in):
    return sign_in("lobby1")
