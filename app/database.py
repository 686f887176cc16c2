"""Database plumbing shared by SQLite and PostgreSQL.

SQLite gets WAL, foreign keys and a busy timeout, and SQLAlchemy takes over
transaction control from pysqlite (whose own handling breaks SAVEPOINT).
Writes through the event store start with BEGIN IMMEDIATE on SQLite so that
a read snapshot is never upgraded to a write (which fails at once, busy
timeout or not), after a turn the kernel hands from writer to writer; on
PostgreSQL they take a transaction-level advisory lock per branch written, so a
branch's events commit in the order of their positions and the pull cursor (per
branch) skips none, while different branches write at once.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from sqlalchemy import DateTime, event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

from .extensions import db

_write_intent = contextvars.ContextVar("datang_write_intent", default=False)
# Arbitrary, fixed: with a hash of a branch's code, the advisory lock for appending
# that branch's events (two codes of the same hash share a lock: slower, still right).
EVENT_APPEND_LOCK = 80170001


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


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


# A pooled connection idle longer than this is pinged before it is used again; one
# in steady use is not. SQLAlchemy's pool_pre_ping pings at every checkout: a
# round trip on every request, ~5 % of a request's CPU under the field mix
# (docs/performance.md). A database that restarts while requests keep coming
# costs at most one failed request per worker: the first error on a broken
# connection empties the pool (SQLAlchemy invalidates every older connection).
PING_AFTER_IDLE_SECONDS = 10.0


@event.listens_for(Pool, "checkin")
def _remember_when_idle(dbapi_connection, connection_record):
    connection_record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_after_idle(dbapi_connection, connection_record, connection_proxy):
    idle_since = connection_record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # Idle again: a connection with a transaction open cannot be put in autocommit.
        dbapi_connection.rollback()
    except Exception as error:  # any failure: the pool discards it and connects afresh
        raise DisconnectionError() from error


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def autocommit_reads(view):
    """Mark a view whose reads need no transaction: it writes nothing, or writes only
    through `short_write` / `write_transaction` (see `begin_autocommit_reads`)."""
    view.autocommit_reads = True
    return view


def begin_autocommit_reads() -> None:
    """Before an `autocommit_reads` view's first query: on PostgreSQL, its reads run
    in autocommit, with no BEGIN and ROLLBACK of their own.

    A poll's two reads (the sign-in, the branch's version) then cost two round
    trips, not four. Read committed gives each statement its own snapshot
    either way. A write still has its transaction: `short_write` ends this
    connection and begins afresh on another. SQLite keeps its BEGIN: it is
    in-process, and there the read snapshot is worth it.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "autocommit_reads", False) and db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@contextmanager
def short_write(keep: Iterable[Any] = ()):
    """A write transaction begun afresh, committed on success, rolled back on error.

    The request's read transaction is ended first, and SQLite begins with
    BEGIN IMMEDIATE: upgrading a read transaction instead fails at once with
    "database is locked" when another connection wrote meanwhile; this waits
    for the writer (busy_timeout). Alone, for small writes beside the event
    store (a session's idle clock, a sign-in).

    Ending the read transaction expires every instance it loaded. `keep`: the
    instances (and the ones in their loaded collections) whose loaded values
    stand instead, as when the request read them, rather than being read again.
    """
    session = db.session
    kept = _loaded_values(keep)
    session.rollback()
    for obj, values in kept:
        for key, value in values.items():
            set_committed_value(obj, key, value)
    token = _write_intent.set(True)
    try:
        with _writer_turn(db.engine.url):
            try:
                session.connection()  # BEGIN (IMMEDIATE on SQLite) now, while the flag is set
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        _write_intent.reset(token)


try:
    import fcntl
except ImportError:  # not a POSIX system: SQLite's busy timeout alone orders writers
    fcntl = None  # type: ignore[assignment]


class _SQLiteWriterTurn:
    """One writer at a time on a SQLite file, across a server's processes, queued by
    the kernel (flock on a file beside the database).

    SQLite's own wait for its write lock (busy_timeout) sleeps and looks again,
    1 ms, then 2, 5, 10 ... up to 100 ms between looks: with a few processes
    writing, the lock sits free while they sleep: under a load of greets the two
    cores stood 13-17 % idle (docs/performance.md). A writer blocked on flock wakes
    the moment the last one is done. A writer outside `short_write` (an admin
    form, a CLI command) still meets SQLite's own lock: slower, still right.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()  # flock does not order one process's threads
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def __call__(self):
        with self._threads:
            # Each process opens its own: flock's owner is the open file, and one
            # inherited across a fork would make all the workers one owner.
            if self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_writer_turns: dict[str, _SQLiteWriterTurn] = {}


def _writer_turn(url):
    """The turn to take before a write transaction begins on the database at `url`."""
    database = url.database
    if url.get_backend_name() != "sqlite" or fcntl is None or database in (None, "", ":memory:"):
        return nullcontext()
    turn = _writer_turns.get(database)
    if turn is None:
        turn = _writer_turns.setdefault(database, _SQLiteWriterTurn(database + "-writer.lock"))
    return turn()


# An execution option for a write whose answer nobody reads (a Core INSERT without
# RETURNING, an upsert): within `pipelined`, it is sent without waiting for it.
_UNANSWERED = "datang_unanswered"
UNANSWERED = {_UNANSWERED: True}
_PIPELINE = "datang_pipeline"  # in a connection's info: its _Pipeline, within `pipelined`


class _Pipeline:
    """psycopg's pipeline mode on one connection, entered at the first write sent
    without waiting and left (waiting for every answer) before anything else."""

    def __init__(self, dbapi_connection: Any) -> None:
        self._connection = dbapi_connection
        self._open: Any = None

    def send(self) -> None:
        if self._open is None:
            self._open = self._connection.pipeline()
            self._open.__enter__()

    def wait(self, error: BaseException | None = None) -> None:
        """Wait for the answers so far; a failed write raises here (unless `error`)."""
        if self._open is not None:
            pipeline, self._open = self._open, None
            pipeline.__exit__(type(error) if error else None, error, None)


@contextmanager
def pipelined():
    """On PostgreSQL, the writes marked UNANSWERED within are sent without waiting
    for each answer, and answered together: one round trip for them all, where
    each would cost one under the branch's write lock (psycopg's pipeline mode).

    Any other statement (a read, an ORM flush, which counts the rows it
    changed) first waits for the answers so far. So a failed write raises at
    that wait or at the end of the block, not at its own statement: for the
    fast lane, where any error has the batch judged again, whole. SQLite is
    in-process, with no round trip to save: there the block changes nothing.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    pending = connection.info[_PIPELINE] = _Pipeline(connection.connection.driver_connection)
    try:
        yield
    except BaseException as error:
        pending.wait(error)
        raise
    else:
        pending.wait()
    finally:
        connection.info.pop(_PIPELINE, None)


@event.listens_for(Engine, "before_cursor_execute")
def _send_or_wait(conn, cursor, statement, parameters, context, executemany):
    pending = conn.info.get(_PIPELINE)
    if pending is not None:
        if (
            context is not None
            and context.execution_options.get(_UNANSWERED)
            and not getattr(context.compiled, "effective_returning", None)  # rows to read
        ):
            pending.send()
        else:
            pending.wait()


_BRANCH_LOCK = text("SELECT pg_advisory_xact_lock(:k, hashtext(:code))")


@contextmanager
def write_transaction(
    branch_codes: Iterable[str], keep: Iterable[Any] = (), pipeline: bool = False
):
    """One write transaction on the event store for the events of the branches named.

    One writer at a time per branch: on PostgreSQL an advisory lock per branch
    code, taken in the order of the codes (so two batches naming the same
    branches never deadlock), held to the commit; SQLite has one writer anyway.
    A code is locked before it is looked up, so no query runs before the lock.
    `keep`: as for short_write (the signed-in user, not read again under the lock).
    `pipeline`: the whole transaction is `pipelined`, the locks too: a batch that
    reads nothing sends its locks and writes in one flight.
    """
    session = db.session
    try:
        with short_write(keep), pipelined() if pipeline else nullcontext():
            if session.get_bind().dialect.name == "postgresql":
                connection = session.connection()
                for code in sorted(set(branch_codes)):
                    connection.execute(
                        _BRANCH_LOCK,
                        {"k": EVENT_APPEND_LOCK, "code": code},
                        execution_options=UNANSWERED,
                    )
            yield session
    finally:
        # Rows `app.events.queue_row` remembered for this transaction (strong references).
        session.info.pop("datang_added", None)


def loadable_columns(model) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """(attribute names, columns) of `model`'s mapped columns: select the columns,
    and a row of them zipped with the names is what `as_loaded` takes."""
    keys = tuple(prop.key for prop in sa_inspect(model).column_attrs)
    return keys, tuple(getattr(model, key) for key in keys)


def as_loaded(model, values: dict[str, Any]):
    """An instance of `model` as if the ORM had loaded `values`, a row's mapped
    attributes (without the ORM's per-row cost: a third of a small query's).

    The one already in the session's identity map, if any, wins.
    """
    session = db.session
    mapper = sa_inspect(model)
    key = session.identity_key(
        model, values[mapper.get_property_by_column(mapper.primary_key[0]).key]
    )
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _loaded_values(objects: Iterable[Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(instance, its loaded column values and collections) for each of `objects`
    and each instance in their loaded collections (one level)."""
    found: list[tuple[Any, dict[str, Any]]] = []
    for obj in objects:
        state = sa_inspect(obj)
        values = {
            attr.key: state.dict[attr.key]
            for attr in state.mapper.column_attrs
            if attr.key in state.dict
        }
        found.append((obj, values))
        for relationship in state.mapper.relationships:
            loaded = state.dict.get(relationship.key)
            if isinstance(loaded, list):
                values[relationship.key] = list(loaded)
                found += _loaded_values(loaded)
    return found
