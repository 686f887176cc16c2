"""Database plumbing shared by SQLite and PostgreSQL.

SQLite gets WAL, foreign keys and a busy timeout, and SQLAlchemy takes over
transaction control from pysqlite (whose own handling breaks SAVEPOINT).
Writes through the event store start with BEGIN IMMEDIATE on SQLite so that
a read snapshot is never upgraded to a write (which fails at once, busy
timeout or not); on PostgreSQL they take a transaction-level advisory lock so
events commit in the order of their positions and the pull cursor skips none.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from .extensions import db

_write_intent = contextvars.ContextVar("datang_write_intent", default=False)
EVENT_APPEND_LOCK = 80170001  # arbitrary, fixed: the advisory lock for appending events


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__ not in ("sqlite3", "pysqlite2.dbapi2"):
        return
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextmanager
def short_write():
    """A write transaction begun afresh, committed on success, rolled back on error.

    The request's read transaction is ended first, and SQLite begins with
    BEGIN IMMEDIATE: upgrading a read transaction instead fails at once with
    "database is locked" when another connection wrote meanwhile; this waits
    for the writer (busy_timeout). Alone, for small writes beside the event
    store (a session's idle clock, a sign-in).
    """
    session = db.session
    session.rollback()
    token = _write_intent.set(True)
    try:
        session.connection()  # BEGIN (IMMEDIATE on SQLite) now, while the flag is set
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)


@contextmanager
def write_transaction():
    """One write transaction on the event store: one writer at a time, on both databases."""
    session = db.session
    try:
        with short_write():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                {"k": EVENT_APPEND_LOCK})
            yield session
    finally:
        # Rows `app.events.add` remembered for this transaction (strong references).
        session.info.pop("datang_added", None)
