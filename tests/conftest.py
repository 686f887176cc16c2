"""Fixtures: a fresh app and database per test, clients signed in per role.

On SQLite the seeded database (the current models' tables, then the demo data)
is built once per test run (per xdist worker), and every test gets a copy of
the file. Set TEST_DATABASE_URL to run the same tests on PostgreSQL. A test
with the app then gets a schema made and seeded once per run (per worker) and
put back to the seeded state before the test: its rows emptied and the seed's
copied back, its sequences set where the seed left them. Making the tables for
each test cost ~0.4 s of DDL a test. A test that asks for `database_url` alone
(a migration, a live server) still gets an empty schema of its own.

A test with the app runs at 10:30 in the branches' zone on today's date
(`branch_daytime`), whatever the hour on the machine's clock; the browser and
reliability tests, whose servers run in processes of their own, keep the real one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from jinja2 import FileSystemBytecodeCache
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
def database_url(tmp_path, request):
    """A database of this test's own: a SQLite file, or a PostgreSQL schema
    (with the app: the seeded one, as the seed left it)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    if "app" in request.fixturenames:
        seeded = request.getfixturevalue("pg_seeded_schema")
        seeded.reset()
        yield seeded.url
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


class SeededSchema:
    """A PostgreSQL schema with the tables and the demo data, and a copy of its rows
    in `<schema>_seed` to put it back with."""

    def __init__(self, engine, schema: str):
        self.engine, self.schema = engine, schema
        self.url = _pg_schema_url(schema)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        app = _test_app(self.url)
        _seed(app)
        with app.app_context():
            db.engine.dispose()
        seed = f"{schema}_seed"
        tables = [t.name for t in db.metadata.sorted_tables]
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{seed}"'))
            sequences = conn.execute(
                text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :s"),
                {"s": schema},
            ).all()
            for table in tables:
                conn.execute(text(f'CREATE TABLE "{seed}"."{table}" AS TABLE "{schema}"."{table}"'))
        every = ", ".join(f'"{schema}"."{t}"' for t in tables)
        # One round trip: psycopg sends a parameterless string of statements as it is.
        self.reset_sql = ";\n".join(
            [
                "SET LOCAL lock_timeout = '10s'",  # a connection a test left open: fail, not hang
                f"TRUNCATE {every} RESTART IDENTITY",
                *(f'INSERT INTO "{schema}"."{t}" TABLE "{seed}"."{t}"' for t in tables),
                *(
                    f'SELECT setval(\'"{schema}"."{name}"\', {value})'
                    for name, value in sequences
                    if value is not None
                ),
            ]
        )

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self.reset_sql)

    def drop(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}", "{self.schema}_seed" CASCADE'))
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_seeded_schema():
    """The seeded PostgreSQL schema of this run (of this xdist worker)."""
    seeded = SeededSchema(create_engine(PG_URL), f"s_{uuid.uuid4().hex[:12]}")
    yield seeded
    seeded.drop()


# Compiled templates shared by the run's apps (Jinja's cache, in the user's temporary
# directory; a changed template is compiled afresh): each test makes an app of its
# own, and compiling a page's templates again cost ~0.3 s a test.
_BYTECODE = FileSystemBytecodeCache()


def _test_app(database_url: str):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, DEMO_PASSWORD=DEMO_PASSWORD)
    app.jinja_env.bytecode_cache = _BYTECODE
    return app


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


# The demo branches' zone, whose day "today" means.
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def branch_daytime():
    """The clock of this process at 10:30 in the branches' zone, on today's date, and
    running. A test greets a customer "5 minutes ago" and looks for them among today's
    visits: run just after midnight on the real clock, that greet was yesterday's."""
    today = datetime.now(SHANGHAI).date()
    with time_machine.travel(datetime.combine(today, time(10, 30), SHANGHAI), tick=True):
        yield


@pytest.fixture
def app(database_url, request, branch_daytime):
    if not PG_URL:
        shutil.copyfile(
            request.getfixturevalue("sqlite_template"), database_url.removeprefix("sqlite:///")
        )
    app = _test_app(database_url)
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
