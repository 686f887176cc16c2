"""The fast lane of a batch from a device: the rows it creates are queued, not
given to the ORM session, and inserted with one executemany a table.

Read-model handlers make rows with `new_row`, hand them over with `queue_row`
and find them again with `find_row`, in either lane; while a batch is in the
fast lane (`queueing`), anything the session runs or flushes first inserts
what is queued, so it reads and refers to every row accepted before it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, inspect
from sqlalchemy.orm import (
    Mapper,
    ORMExecuteState,
    Session,
    make_transient_to_detached,
    scoped_session,
)

from ..database import UNANSWERED, utcnow
from ..extensions import db
from ..models import Event, Subject
from ..models.event import QueuedEvent, QueuedSubject

# Rows `queue_row` handed to the session in this transaction, held strongly for
# `find_row` (the identity map holds them weakly); app/database.py drops them
# when the write transaction ends.
_ADDED = "datang_added"
_SERVER_DEFAULT = object()
# Without RETURNING: an event's position is not read back (nor waited for, `pipelined`).
_INSERT_EVENT = insert(Event.__table__).inline()


class RowQueue:
    """The rows a batch in the fast lane keeps out of the ORM session.

    The ORM's bookkeeping costs several times the insert itself, so events, new
    subjects and new read-model rows (given to `queue_row`) are queued here and
    each table's inserted with one executemany. Queued events and rows are
    written before anything the session runs or flushes
    (`_insert_queued_before_statement`), so a handler that reads (an undo's
    step, a rebuild's events) or a flush that refers to them (a
    recommendation's visit) finds them; new subjects at the end, as only the
    batch's prefetch reads them.
    """

    def __init__(self) -> None:
        self.events: list[QueuedEvent] = []
        self.rows: dict[tuple[Any, ...], Any] = {}  # (model, *primary key) -> new object
        self.subjects: list[QueuedSubject] = []

    def insert_events_and_rows(self, attach: bool = True) -> None:
        """Insert the queued events, in the order they were accepted (their positions),
        and the queued read-model rows, which then join the session as if loaded
        (`attach`), so that what later events change in them is flushed."""
        session = db.session
        if self.events:
            queued, self.events = self.events, []
            session.connection().execute(
                _INSERT_EVENT, [e.row() for e in queued], execution_options=UNANSWERED
            )
        if self.rows:
            objects, self.rows = list(self.rows.values()), {}
            _insert_objects(session, objects, attach)

    def insert_all_before_commit(self) -> None:
        """Insert everything kept back, new subjects too, before the observers and the commit.

        No event comes after, so the rows need not join the session.
        """
        self.insert_events_and_rows(attach=False)
        if self.subjects:
            created_at = utcnow()
            db.session.connection().execute(
                insert(Subject.__table__),
                [s.row(created_at) for s in self.subjects],
                execution_options=UNANSWERED,
            )
            self.subjects = []


# The queue of the fast-lane batch being ingested in this context, if any.
_fast_lane_queue: contextvars.ContextVar[RowQueue | None] = contextvars.ContextVar(
    "datang_fast_lane_queue", default=None
)


def in_fast_lane() -> bool:
    """Whether a batch is being ingested in the fast lane: a fault anywhere in its
    transaction has it judged again, whole, in the safe lane."""
    return _fast_lane_queue.get() is not None


@contextmanager
def queueing(queue: RowQueue | None) -> Iterator[None]:
    """Within it, `queue_row` queues into `queue` (None: the safe lane, no queue)."""
    token = _fast_lane_queue.set(queue)
    try:
        yield
    finally:
        _fast_lane_queue.reset(token)


@sa_event.listens_for(Session, "do_orm_execute")
def _insert_before_execute(orm_execute_state: ORMExecuteState) -> None:
    _insert_queued_before_statement()


@sa_event.listens_for(Session, "before_flush")
def _insert_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    _insert_queued_before_statement()


def _insert_queued_before_statement() -> None:
    """Before any statement or flush of the session, insert what the fast lane queued.

    This is the fast lane's autoflush: whatever a handler reads (the step an
    undo names, a subject's events for a rebuild) includes every event and row
    accepted before it, and a flushed row never refers to one not yet written.
    Writing through the connection does not come back here.
    """
    queue = _fast_lane_queue.get()
    if queue is not None and (queue.events or queue.rows):
        queue.insert_events_and_rows()


@cache
def _insert_columns(mapper: Mapper[Any]) -> tuple[tuple[str, str, Any], ...]:
    """(attribute, column key, default) of a mapped class's columns, for `_insert_objects`."""
    columns: list[tuple[str, str, Any]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = column.default
        if column.server_default is not None:
            value = _SERVER_DEFAULT
        elif default is None:
            value = None
        elif default.is_callable:
            value = default.arg  # SQLAlchemy wraps it to take an execution context
        elif default.is_scalar:
            value = default.arg
        else:
            value = _SERVER_DEFAULT  # a SQL expression: leave it to the database
        columns.append((prop.key, column.key, value))
    return tuple(columns)


def _insert_objects(
    session: Session | scoped_session[Any], objects: list[Any], attach: bool = True
) -> None:
    """Insert new ORM objects with one executemany a table, then attach them to the
    session as persistent, as if just loaded: later changes are flushed as UPDATEs.

    Columns the object leaves unset get their Python default (set on the object
    too, so reading them costs no query), as the ORM's own insert would.
    """
    by_table: dict[Any, list[tuple[Any, dict[str, Any]]]] = {}
    for obj in objects:
        mapper: Mapper[Any] = inspect(obj).mapper
        values, row = obj.__dict__, {}
        for key, column_key, default in _insert_columns(mapper):
            if key in values:
                row[column_key] = values[key]
            elif default is not _SERVER_DEFAULT:
                value = default(None) if callable(default) else default
                if attach:
                    setattr(obj, key, value)
                row[column_key] = value
        by_table.setdefault(mapper.local_table, []).append((obj, row))
    # Parents before children, whatever order the handlers added them in.
    order = _table_order()
    connection = session.connection()
    for table in sorted(by_table, key=lambda t: order.get(t, 0)):
        pairs = by_table[table]
        # executemany needs the same keys in every row: group by them.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _obj, row in pairs:
            groups.setdefault(tuple(row), []).append(row)
        for rows in groups.values():
            connection.execute(insert(table), rows, execution_options=UNANSWERED)
        if not attach:
            continue
        added = session.info.setdefault(_ADDED, {})
        for obj, _row in pairs:
            make_transient_to_detached(obj)
            session.add(obj)
            added[(type(obj), *inspect(obj).identity)] = obj  # for `find_row`, held strongly


@cache
def _table_order() -> dict[Any, int]:
    # The metadata's dependency sort costs more than a small batch's inserts: once a process.
    return {table: i for i, table in enumerate(db.metadata.sorted_tables)}


@cache
def _primary_key(model: type[Any]) -> tuple[str, ...]:
    mapper: Mapper[Any] = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def queue_row(obj: Any) -> None:
    """Hand a new read-model row to the write path, for `find_row` to find before any flush.

    In the fast lane a row whose primary key is known is queued, and inserted
    with the others of its table (`RowQueue.insert_events_and_rows`); a row it
    refers to by foreign key must then be queued too (or already written).
    Otherwise it goes to `session.add`, and `find_row` remembers it.
    """
    # A class is hashable; typeshed's lru_cache does not see it for type[Any].
    ident = tuple(obj.__dict__.get(key) for key in _primary_key(type(obj)))  # type: ignore[arg-type]
    queue = _fast_lane_queue.get()
    if None in ident:
        db.session.add(obj)
    elif queue is not None:
        key = (type(obj), *ident)
        if key in queue.rows:
            raise RuntimeError(f"{key} queued twice")  # the ORM would refuse it too
        queue.rows[key] = obj
    else:
        db.session.add(obj)
        db.session.info.setdefault(_ADDED, {})[(type(obj), *ident)] = obj


def new_row(model: type, **values: Any) -> Any:
    """`model(**values)` for a row the write path inserts, at a twentieth of the cost.

    The ORM's constructor records each attribute set as a change (60 µs for a
    visit); a new row has nothing to compare with, so the values go straight
    into the object's dict, which is where the ORM's insert and `queue_row` read them.
    """
    obj: Any = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def find_row(model: type, ident: Any) -> Any:
    """A read-model row by primary key, also one `queue_row`d in this transaction
    and not flushed yet, without flushing (where `session.get` would flush).

    The write path flushes once a batch, so the visit greeted three events ago
    is still pending (or queued): `session.get` would flush everything and
    SELECT it back, for every event (and the identity map holds flushed rows
    only weakly). A row written since is in the session's identity map.
    """
    queue = _fast_lane_queue.get()
    if queue is not None:
        queued = queue.rows.get((model, ident))
        if queued is not None:
            return queued
    session = db.session
    obj = session.info.get(_ADDED, {}).get((model, ident))
    if obj is not None and obj in session:  # not deleted since (a rebuild's reset)
        return obj
    return session.get(model, ident)
