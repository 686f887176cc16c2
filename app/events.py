"""The one write path: validate an event, store it, fold it into the read models.

Every write, whether a form posted online or a batch from a tablet's outbox,
comes through `apply_event` inside `write_transaction()`. Features register
their event types with `@event_type(...)` (see `app/lobby/events.py`) and the
kind of subject they are about with `register_aggregate(...)`.

A subject's read model is a fold of its events in (occurred_at, device_id,
seq) order, where `occurred_at` is the server's view of the event's time: the
device's own time (kept as `device_occurred_at`) corrected by the device's
clock skew, measured from the batch's `sent_at` (see `DeviceClock`). An event
that sorts after the last one folded is applied on top; one that arrives late
(another tablet synced after this one) makes the subject's read model be
rebuilt from all its events, so the result never depends on the order in which
events reach the server.

A batch from a device (`ingest`) takes a fast lane first: no savepoint per
event, and the rows it creates (events, new subjects, new read-model rows made
with `new_row` and given to `add`) are queued and inserted with one
executemany a table instead of going through the ORM one by one. Should any
event's effects fail, the transaction is rolled back whole and the batch is
judged again in the safe lane (a savepoint and ORM writes per event), so the
answers and the stored result are the same either way.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, NamedTuple, cast

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import event as sa_event
from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    Mapper,
    ORMExecuteState,
    Session,
    make_transient_to_detached,
    scoped_session,
)

from .clock import now as server_now
from .database import utcnow, write_transaction
from .extensions import db
from .models import Branch, Event, Role, Subject, User
from .models.event import QueuedEvent, QueuedSubject
from .privacy import free_text_fields

# Who reads every event type in full, besides the roles that record it.
OVERSEERS = frozenset({Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR, Role.ADMIN})
# Notes about customers and equipment stay with the lobby and the supervisors: a
# teller or a wealth manager reads these kinds' events without their private
# fields, even the types they may record themselves (docs/events.md).
DESK_ROLES = frozenset({Role.TELLER, Role.WEALTH_MANAGER})
NOTES_KEPT_FROM_DESK = frozenset({"visit", "complaint", "fault", "checklist_run"})


class Payload(BaseModel):
    """Base of every payload model: unknown fields are refused, types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Rejected(Exception):
    """An event the server refuses; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class EventType:
    name: str
    kind: str
    payload: type[Payload]
    roles: frozenset[Role]
    apply: Callable[[Applied], None]
    # True: the event starts its subject, and a second one is refused (subject_exists).
    # "if_missing": the first of these events starts the subject, later ones join it
    # (a checklist run whose id every tablet derives from branch and date).
    creates_subject: bool | str = False
    check: Callable[[Applied], None] | None = None
    description: str = ""
    # Who may pull it (GET /api/v1/events) and which payload fields only
    # `full_readers` receive; see `event_type`.
    readers: frozenset[Role] = frozenset()
    full_readers: frozenset[Role] = frozenset()
    private_fields: frozenset[str] = frozenset()

    def payload_for(self, role: Role, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as `role` may read it: without the private fields unless a full reader."""
        if role in self.full_readers or not self.private_fields.intersection(payload):
            return payload
        return {key: value for key, value in payload.items() if key not in self.private_fields}


@dataclass(frozen=True)
class Aggregate:
    kind: str
    # Removes a subject's read-model rows before it is rebuilt from its events.
    reset: Callable[[Subject], None]
    label: Any = None  # a lazy_gettext name for messages ("visit", "checklist run", ...)


@dataclass
class Applied:
    """What an event type's `check` and `apply` functions receive."""

    event: Event
    # An instance of the event type's payload model: each apply function names
    # which (`p: VisitGreeted = a.payload`), so the type checker takes its word.
    payload: Any
    subject: Subject
    branch: Branch
    user: User | None = None  # None during a rebuild: the recorder is event.user
    # The subject was started by an event of this same write transaction, so all
    # of its events are among the transaction's accepted ones (observers use it
    # to fold new subjects without reading their events back).
    new_subject: bool = False

    @property
    def recorder(self) -> User:
        """Who is recording the event: checks run only as it arrives, never in a rebuild."""
        if self.user is None:
            raise RuntimeError("an event's check ran without its recorder")
        return self.user


# What an event type does to the read models.
Apply = Callable[[Applied], None]
EVENT_TYPES: dict[str, EventType] = {}
AGGREGATES: dict[str, Aggregate] = {}
# Called once per write transaction, before it commits, with the events it
# accepted: projections such as the supervisor's daily figures
# (app/supervisor/projection.py) stay in step with the events, and a batch of
# five events about one visit projects that visit once, not five times.
EVENT_OBSERVERS: list[Callable[[list[Applied]], None]] = []


def event_type(
    name: str,
    *,
    kind: str,
    payload: type[Payload],
    roles: Iterable[Role],
    creates_subject: bool | str = False,
    check: Callable[[Applied], None] | None = None,
    description: str = "",
    also_read_by: Iterable[Role] = (),
    private_fields: Iterable[str] | None = None,
) -> Callable[[Apply], Apply]:
    """Register the decorated function as the way `name` events change the read models.

    Reading (docs/events.md, "Who reads what"): the roles that may record it,
    the supervisors and the admin read the whole event; the roles of
    `also_read_by` read it without its `private_fields` (by default its
    `FreeText` fields: the notes), and so do tellers and wealth managers for a
    visit, complaint, fault or checklist, whatever they record. Nobody else
    receives it.
    """

    def register(apply: Apply) -> Apply:
        if name in EVENT_TYPES:
            raise RuntimeError(f"event type {name} registered twice")
        readers = frozenset(roles) | OVERSEERS | frozenset(also_read_by)
        full_readers = frozenset(roles) | OVERSEERS
        if kind in NOTES_KEPT_FROM_DESK:
            full_readers -= DESK_ROLES
        private = free_text_fields(payload) if private_fields is None else private_fields
        EVENT_TYPES[name] = EventType(
            name,
            kind,
            payload,
            frozenset(roles),
            apply,
            creates_subject,
            check,
            description,
            readers=readers,
            full_readers=full_readers,
            private_fields=frozenset(private),
        )
        return apply

    return register


def readable_types(role: Role) -> list[str]:
    """The event types `role` may pull."""
    return sorted(name for name, etype in EVENT_TYPES.items() if role in etype.readers)


def register_aggregate(kind: str, reset: Callable[[Subject], None], label: Any = None) -> None:
    AGGREGATES[kind] = Aggregate(kind, reset, label)


def kind_label(kind: str) -> str:
    aggregate = AGGREGATES.get(kind)
    return str(aggregate.label) if aggregate and aggregate.label else kind


# --- the envelope -----------------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
# A UUID as str(uuid.UUID(...)) writes it, the form tablets send.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(max_length=36)
    type: str = Field(max_length=64)
    occurred_at: str = Field(max_length=40)
    subject_id: str = Field(max_length=36)
    branch: str = Field(max_length=32)
    device_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=2**62)
    payload: dict[str, Any]

    @field_validator("id", "subject_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(_("must be a UUID")) from None

    @field_validator("occurred_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        if not RFC3339.match(value):
            raise ValueError(_("must be an RFC 3339 time with an offset or Z"))
        try:
            parse_time(value)
        except ValueError:
            raise ValueError(_("is not a valid time")) from None
        return value


class CheckedEnvelope(NamedTuple):
    """A well-formed envelope, as `_envelope` gives it (an `Envelope` costs 10 µs to build)."""

    id: str
    type: str
    occurred_at: str
    subject_id: str
    branch: str
    device_id: str
    seq: int
    payload: dict[str, Any]


def _envelope(raw: dict[str, Any]) -> Envelope | CheckedEnvelope:
    """`Envelope.model_validate(raw)`, without most of its cost for a well-formed envelope.

    The checks below are the model's, for the usual case (canonical UUIDs, exact
    types); anything else goes to the model itself, which gives the same
    answer and the message.
    """
    if len(raw) == 8:
        try:
            id_, type_, at = raw["id"], raw["type"], raw["occurred_at"]
            subject_id, branch, device_id = raw["subject_id"], raw["branch"], raw["device_id"]
            seq, payload = raw["seq"], raw["payload"]
        except KeyError:
            return Envelope.model_validate(raw)
        if (
            type(id_) is str
            and _CANONICAL_UUID.match(id_)
            and type(subject_id) is str
            and _CANONICAL_UUID.match(subject_id)
            and type(type_) is str
            and len(type_) <= 64
            and type(at) is str
            and len(at) <= 40
            and RFC3339.match(at)
            and type(branch) is str
            and len(branch) <= 32
            and type(device_id) is str
            and 1 <= len(device_id) <= 64
            and type(seq) is int
            and 0 <= seq <= 2**62
            and type(payload) is dict
            and all(type(key) is str for key in payload)
        ):
            try:
                parse_time(at)
            except ValueError:
                return Envelope.model_validate(raw)
            return CheckedEnvelope(id_, type_, at, subject_id, branch, device_id, seq, payload)
    return Envelope.model_validate(raw)


@lru_cache(maxsize=1024)  # the envelope's validator and the write path parse each time
def parse_time(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    if len(text) > 32:  # more than "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM"
        # Python keeps microseconds: cut nanoseconds that some clocks give.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("t", "T")).astimezone(UTC)


# An event may be dated at most this far ahead of the server's clock (clock_ahead).
CLOCK_AHEAD_LIMIT = timedelta(minutes=10)
# A measured skew this small is the network's delay, not a wrong clock: it
# differs from batch to batch, and correcting by it would reorder one tablet's
# own entries (a first batch slowed 300 ms would date its tap after the next
# batch's). Within it, the device's times stand.
SKEW_DEAD_BAND = timedelta(seconds=30)


@dataclass(frozen=True)
class DeviceClock:
    """How far the clock of the device that sent a batch is from the server's.

    `sent_at` is the device's clock when it sent the batch, so the server's
    clock minus it is the device's skew (plus the network's delay, a second or
    so): each event's time is corrected by it. Without `sent_at` (a form posted
    online, a client of before the trust rules) the device's time stands.
    """

    now: datetime = field(default_factory=server_now)
    skew: timedelta = timedelta(0)

    @classmethod
    def from_sent_at(cls, sent_at: datetime) -> DeviceClock:
        now = server_now()
        skew = now - sent_at
        return cls(now, skew if abs(skew) > SKEW_DEAD_BAND else timedelta(0))

    def corrected(self, device_time: datetime) -> datetime:
        """The event's time by the server's clock.

        :raise Rejected: when it leaves the calendar or lies ahead of the server's clock.
        """
        try:
            at = device_time + self.skew
        except OverflowError:
            raise Rejected(
                "invalid_envelope",
                _(
                    "Invalid value for %(field)s: %(reason)s",
                    field="occurred_at",
                    reason=_("is not a valid time"),
                ),
            ) from None
        if at - self.now > CLOCK_AHEAD_LIMIT:
            raise Rejected(
                "clock_ahead",
                _(
                    "This event is dated more than 10 minutes ahead of "
                    "the server's clock; check the device's date and "
                    "time."
                ),
            )
        return at


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope_of(event: Event, reader: Role | None = None) -> dict[str, Any]:
    """The JSON form of a stored event, as the pull endpoint gives it.

    `occurred_at` is the device's own time, as the envelope was sent;
    `corrected_at` the server's view of it (the fold order). For a `reader`,
    the payload loses what that role may not read (`EventType.payload_for`).
    """
    payload = event.payload
    if reader is not None:
        payload = EVENT_TYPES[event.type].payload_for(reader, payload)
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": format_time(event.device_occurred_at),
        "corrected_at": format_time(event.occurred_at),
        "received_at": format_time(event.received_at),
        "subject_id": event.subject_id,
        "branch": event.branch.code,
        "device_id": event.device_id,
        "seq": event.seq,
        "user": event.user.username,
        "payload": payload,
    }


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of `exc` as a sentence for people, in their language.

    pydantic's own messages are English only; the common kinds get a message of
    ours, and anything else keeps pydantic's wording after the field's name.
    """
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    kind, ctx = first["type"], first.get("ctx") or {}
    if kind == "extra_forbidden":
        return _("Unknown field: %(field)s", field=where)
    if kind == "missing":
        return _("Missing field: %(field)s", field=where)
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return _("%(field)s must be one of: %(allowed)s", field=where, allowed=allowed)
    text = isinstance(first.get("input"), str)
    if kind == "string_too_long" or (kind == "too_long" and text):
        return _(
            "%(field)s may have at most %(n)s characters.", field=where, n=ctx.get("max_length")
        )
    if kind == "string_too_short" or (kind == "too_short" and text):
        return _(
            "%(field)s must have at least %(n)s characters.", field=where, n=ctx.get("min_length")
        )
    if kind == "too_long":
        return _("%(field)s may hold at most %(n)s items.", field=where, n=ctx.get("max_length"))
    if kind == "too_short":
        return _("%(field)s must hold at least %(n)s items.", field=where, n=ctx.get("min_length"))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("%(field)s must be a whole number.", field=where)
    if kind in ("greater_than_equal", "greater_than"):
        return _("%(field)s must be at least %(n)s.", field=where, n=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("%(field)s must be at most %(n)s.", field=where, n=ctx.get("le", ctx.get("lt")))
    if kind in ("string_type", "string_sub_type"):
        return _("%(field)s must be text.", field=where)
    if kind in ("bool_type", "bool_parsing"):
        return _("%(field)s must be true or false.", field=where)
    if kind in ("list_type", "tuple_type", "set_type"):
        return _("%(field)s must be a list.", field=where)
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("%(field)s must be an object.", field=where)
    if kind in ("float_type", "float_parsing", "decimal_type", "decimal_parsing"):
        return _("%(field)s must be a number.", field=where)
    if kind == "value_error":  # our own validators: their message is already translated
        reason = str(ctx.get("error") or first["msg"].removeprefix("Value error, "))
        return _("Invalid value for %(field)s: %(reason)s", field=where, reason=reason)
    return _("Invalid value for %(field)s: %(reason)s", field=where, reason=first["msg"])


# --- applying ---------------------------------------------------------------


@dataclass
class Result:
    id: str | None
    status: str  # accepted | duplicate | rejected
    error: dict[str, str] | None = None
    event: Event | QueuedEvent | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error:
            out["error"] = self.error
        return out


# Built once (every sync asks both): building a statement cost more than running it.
_EVENTS_BY_ID = select(Event).where(Event.id.in_(bindparam("ids", expanding=True)))
_SUBJECTS_BY_ID = select(Subject).where(Subject.id.in_(bindparam("ids", expanding=True)))


class Batch:
    """What one write transaction knows: looked-up branches, events and subjects.

    `prefetch` reads the known events and subjects of a whole batch in two
    queries, so judging each event costs no look-up of its own.
    """

    def __init__(self, safe: bool = True, clock: DeviceClock | None = None) -> None:
        # safe: each event's writes in a savepoint of their own. A batch from a
        # device is first tried without (savepoints cost a flush and two
        # statements an event); should any event's effects fail, the whole
        # transaction is rolled back and the batch judged again, safely.
        self.safe = safe
        self.clock = clock or DeviceClock()
        self.branches: dict[str, Branch | None] = {}
        self.writable: dict[tuple[int, int], bool] = {}
        self.events: dict[str, Event | None] = {}
        self.subjects: dict[str, Subject | None] = {}
        self.accepted: list[Applied] = []
        # The fast lane adds nothing to the ORM session for the rows it creates
        # (events, new subjects, new read-model rows given to `add`): it queues
        # them and inserts each table's with one executemany, because the ORM's
        # bookkeeping costs several times the insert itself. Queued events and
        # rows are written before anything the session runs or flushes (see
        # `_write_queued`), so a handler that reads (an undo's step, a rebuild's
        # events) or a flush that refers to them (a recommendation's visit)
        # finds them; new subjects at the end, as only `prefetch` reads them.
        self.queued_events: list[QueuedEvent] = []
        self.queued_rows: dict[tuple[Any, ...], Any] = {}  # (model, *primary key) -> new object
        self.new_subjects: list[QueuedSubject] = []
        # Ids of the subjects this batch started (either lane), for Applied.new_subject.
        self.created: set[str] = set()
        # id(raw event) -> its checked envelope and payload (or why not), from `precheck`.
        self.checked: dict[int, Checked] = {}

    def precheck(self, raw_events: list[Any]) -> set[str]:
        """Check each event's envelope and payload, which needs no database, and
        give the codes of the branches the batch names: the ones to lock.

        Runs before the write transaction, so the write lock is held for the
        look-ups and writes alone; `_apply` raises what was found at the same
        step as ever, so every answer is what it would be without.
        """
        codes = set()
        for raw in raw_events:
            if isinstance(raw, dict):
                checked = self.checked[id(raw)] = _check(raw)
                if not isinstance(checked.envelope, Rejected):
                    codes.add(checked.envelope.branch)
        return codes

    def prefetch(self, raw_events: list[Any]) -> None:
        ids, subject_ids = set(), set()
        for raw in raw_events:
            if isinstance(raw, dict):
                ids.add(_canonical_uuid(raw.get("id")))
                subject_ids.add(_canonical_uuid(raw.get("subject_id")))
        session = db.session
        for chunk in _chunks(sorted(i for i in ids if i is not None)):
            self.events.update(dict.fromkeys(chunk))
            for event in session.scalars(_EVENTS_BY_ID, {"ids": chunk}):
                self.events[event.id] = event
        for chunk in _chunks(sorted(i for i in subject_ids if i is not None)):
            self.subjects.update(dict.fromkeys(chunk))
            for subject in session.scalars(_SUBJECTS_BY_ID, {"ids": chunk}):
                self.subjects[subject.id] = subject

    def event(self, event_id: str) -> Event | None:
        if event_id not in self.events:
            self.events[event_id] = db.session.scalar(select(Event).where(Event.id == event_id))
        return self.events[event_id]

    def subject(self, subject_id: str) -> Subject | None:
        if subject_id not in self.subjects:
            self.subjects[subject_id] = db.session.get(Subject, subject_id)
        return self.subjects[subject_id]

    def can_write(self, user: User, branch: Branch) -> bool:
        """`user.can_write(branch)`, asked once a batch (it walks the user's branches)."""
        key = (user.id, branch.id)
        if key not in self.writable:
            self.writable[key] = user.can_write(branch)
        return self.writable[key]

    def branch(self, code: str) -> Branch | None:
        if code not in self.branches:
            self.branches[code] = db.session.scalar(select(Branch).where(Branch.code == code))
        return self.branches[code]

    def write_pending(self, attach: bool = True) -> None:
        """Insert the queued events, in the order they were accepted (their positions),
        and the queued read-model rows, which then join the session as if loaded
        (`attach`), so that what later events change in them is flushed."""
        session = db.session
        if self.queued_events:
            queued, self.queued_events = self.queued_events, []
            session.connection().execute(insert(Event.__table__), [e.row() for e in queued])
        if self.queued_rows:
            objects, self.queued_rows = list(self.queued_rows.values()), {}
            _insert_objects(session, objects, attach)

    def write_queued(self) -> None:
        """Insert everything the fast lane kept back, before the observers and the commit.

        No event comes after, so the rows need not join the session.
        """
        self.write_pending(attach=False)
        if self.new_subjects:
            created_at = utcnow()
            db.session.connection().execute(
                insert(Subject.__table__), [s.row(created_at) for s in self.new_subjects]
            )
            self.new_subjects = []

    def notify_observers(self) -> None:
        if self.accepted:
            for observer in EVENT_OBSERVERS:
                observer(self.accepted)


def _canonical_uuid(value: Any) -> str | None:
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value  # what tablets send: str(uuid.UUID(value)) would give it back
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The batch of the fast lane being ingested in this context, if any.
_fast_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar(
    "datang_fast_batch", default=None
)


@sa_event.listens_for(Session, "do_orm_execute")
def _write_before_execute(orm_execute_state: ORMExecuteState) -> None:
    _write_queued()


@sa_event.listens_for(Session, "before_flush")
def _write_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    _write_queued()


def _write_queued() -> None:
    """Before any statement or flush of the session, write what the fast lane queued.

    This is the fast lane's autoflush: whatever a handler reads (the step an
    undo names, a subject's events for a rebuild) includes every event and row
    accepted before it, and a flushed row never refers to one not yet written.
    Writing through the connection does not come back here.
    """
    batch = _fast_batch.get()
    if batch is not None and (batch.queued_events or batch.queued_rows):
        batch.write_pending()


_SERVER_DEFAULT = object()


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
    order = {table: i for i, table in enumerate(db.metadata.sorted_tables)}
    connection = session.connection()
    for table in sorted(by_table, key=lambda t: order.get(t, 0)):
        pairs = by_table[table]
        # executemany needs the same keys in every row: group by them.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _obj, row in pairs:
            groups.setdefault(tuple(row), []).append(row)
        for rows in groups.values():
            connection.execute(insert(table), rows)
        if not attach:
            continue
        added = session.info.setdefault(_ADDED, {})
        for obj, _row in pairs:
            make_transient_to_detached(obj)
            session.add(obj)
            added[(type(obj), *inspect(obj).identity)] = obj  # for `get`, held strongly


_ADDED = "datang_added"


@cache
def _primary_key(model: type[Any]) -> tuple[str, ...]:
    mapper: Mapper[Any] = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def add(obj: Any) -> None:
    """`session.add` for a new read-model row that `get` should find before any flush.

    In the fast lane a row whose primary key is known is queued instead, and
    inserted with the others of its table (`Batch.write_pending`); a row it
    refers to by foreign key must then be queued too (or already written).
    """
    # A class is hashable; typeshed's lru_cache does not see it for type[Any].
    ident = tuple(obj.__dict__.get(key) for key in _primary_key(type(obj)))  # type: ignore[arg-type]
    batch = _fast_batch.get()
    if None in ident:
        db.session.add(obj)
    elif batch is not None:
        key = (type(obj), *ident)
        if key in batch.queued_rows:
            raise RuntimeError(f"{key} added twice")  # the ORM would refuse it too
        batch.queued_rows[key] = obj
    else:
        db.session.add(obj)
        db.session.info.setdefault(_ADDED, {})[(type(obj), *ident)] = obj


def new_row(model: type, **values: Any) -> Any:
    """`model(**values)` for a row the write path inserts, at a twentieth of the cost.

    The ORM's constructor records each attribute set as a change (60 µs for a
    visit); a new row has nothing to compare with, so the values go straight
    into the object's dict, which is where the ORM's insert and `add` read them.
    """
    obj: Any = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def get(model: type, ident: Any) -> Any:
    """`session.get` that also finds rows `add`ed in this transaction and not flushed yet.

    The write path flushes once a batch, so the visit greeted three events ago
    is still pending (or queued): `session.get` would flush everything and
    SELECT it back, for every event (and the identity map holds flushed rows
    only weakly). A row written since is in the session's identity map.
    """
    batch = _fast_batch.get()
    if batch is not None:
        queued = batch.queued_rows.get((model, ident))
        if queued is not None:
            return queued
    session = db.session
    obj = session.info.get(_ADDED, {}).get((model, ident))
    if obj is not None and obj in session:  # not deleted since (a rebuild's reset)
        return obj
    return session.get(model, ident)


def apply_event(raw: Any, user: User, batch: Batch | None = None) -> Result:
    """Judge one event on its own and, if it is good, store it with its effects.

    Must run inside `write_transaction()`. A rejected event writes nothing; an
    accepted one is written in a savepoint together with its read-model changes.
    Whoever opened the transaction calls `batch.notify_observers()` before commit.
    """
    raw_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    try:
        return _apply(raw, user, batch if batch is not None else Batch())
    except Rejected as rejected:
        return Result(raw_id, "rejected", {"code": rejected.code, "message": rejected.message})


def _apply(raw: Any, user: User, batch: Batch) -> Result:
    session = db.session
    if not isinstance(raw, dict):
        raise Rejected("invalid_envelope", _("An event must be a JSON object."))
    checked = batch.checked.get(id(raw)) or _check(raw)
    env = checked.envelope
    if isinstance(env, Rejected):
        raise env
    device_time = parse_time(env.occurred_at)

    existing = batch.event(env.id)
    if existing is not None:
        if _same_content(existing, env, device_time) and user.can_read(existing.branch_id):
            return Result(env.id, "duplicate")
        raise Rejected(
            "id_conflict",
            _("Another event with this id, but different content, was already accepted."),
        )

    etype = EVENT_TYPES.get(env.type)
    if etype is None:
        raise Rejected("unknown_type", _("Unknown event type: %(type)s", type=env.type))

    branch = batch.branch(env.branch)
    if branch is None or not branch.active or not batch.can_write(user, branch):
        raise Rejected(
            "branch_forbidden", _("You may not record events for branch %(code)s.", code=env.branch)
        )
    if user.role not in etype.roles:
        raise Rejected("forbidden", _("Your role may not record this kind of event."))

    payload = checked.payload
    if isinstance(payload, Rejected):
        raise payload
    occurred_at = batch.clock.corrected(device_time)

    subject = batch.subject(env.subject_id)
    creating = etype.creates_subject is True or (
        etype.creates_subject == "if_missing" and subject is None
    )
    if creating:
        if subject is not None:
            raise Rejected(
                "subject_exists",
                _("This %(kind)s was already recorded.", kind=kind_label(etype.kind)),
            )
        # A QueuedSubject stands in for a Subject: it has the attributes handlers read.
        subject = cast(
            Subject,
            (Subject if batch.safe else QueuedSubject)(
                id=env.subject_id,
                kind=etype.kind,
                branch_id=branch.id,
                last_occurred_at=occurred_at,
                last_device_id=env.device_id,
                last_seq=env.seq,
            ),
        )
    else:
        if subject is None:
            raise Rejected(
                "unknown_subject",
                _("The server does not know this %(kind)s.", kind=kind_label(etype.kind)),
            )
        if subject.kind != etype.kind or subject.branch_id != branch.id:
            raise Rejected(
                "subject_mismatch",
                _("This event does not belong to that %(kind)s.", kind=kind_label(etype.kind)),
            )

    if batch.safe:
        event = Event(
            id=env.id,
            type=env.type,
            occurred_at=occurred_at,
            device_occurred_at=device_time,
            received_at=utcnow(),
            subject_id=env.subject_id,
            branch_id=branch.id,
            branch=branch,
            device_id=env.device_id,
            seq=env.seq,
            user_id=user.id,
            user=user,
            payload=env.payload,
        )
    else:  # the fast lane inserts the rows itself, a batch at once
        # A QueuedEvent stands in for an Event: it has the attributes handlers read.
        event = cast(
            Event,
            QueuedEvent(
                id=env.id,
                type=env.type,
                occurred_at=occurred_at,
                device_occurred_at=device_time,
                received_at=utcnow(),
                subject_id=env.subject_id,
                branch=branch,
                device_id=env.device_id,
                seq=env.seq,
                user=user,
                payload=env.payload,
            ),
        )
    applied = Applied(
        event, payload, subject, branch, user, new_subject=creating or subject.id in batch.created
    )
    if etype.check:
        etype.check(applied)

    if not batch.safe:
        try:
            _store_queued(applied, etype, creating, batch)
        except Exception as exc:  # noqa: BLE001 - any of it: the batch is judged again
            raise RetrySafely() from exc
        _accepted(batch, applied, creating)
        return Result(env.id, "accepted", event=event)

    try:
        with session.begin_nested():
            _store(applied, etype, creating)
    except IntegrityError:
        # The same id raced in from another request: judge it again as a repeat.
        existing = session.scalar(select(Event).where(Event.id == env.id))
        if existing is not None and _same_content(existing, env, device_time):
            return Result(env.id, "duplicate")
        raise Rejected("conflict", _("The event could not be stored; send it again.")) from None
    _accepted(batch, applied, creating)
    return Result(env.id, "accepted", event=event)


def _accepted(batch: Batch, applied: Applied, creating: bool) -> None:
    """What the rest of the batch must know of an accepted event (repeats, its subject)."""
    batch.events[applied.event.id] = applied.event
    if creating:
        batch.subjects[applied.subject.id] = applied.subject
        batch.created.add(applied.subject.id)
    batch.accepted.append(applied)


class Checked(NamedTuple):
    """What `_check` found of an event: each part, or the rejection it earned."""

    envelope: Envelope | CheckedEnvelope | Rejected
    payload: Payload | Rejected | None  # None: unknown type


def _check(raw: dict[str, Any]) -> Checked:
    try:
        env = _envelope(raw)
    except ValidationError as exc:
        return Checked(Rejected("invalid_envelope", describe_validation_error(exc)), None)
    etype = EVENT_TYPES.get(env.type)
    if etype is None:
        return Checked(env, None)
    try:
        return Checked(env, etype.payload.model_validate(env.payload))
    except ValidationError as exc:
        return Checked(env, Rejected("invalid_payload", describe_validation_error(exc)))


class RetrySafely(Exception):
    """An event's effects failed in a batch tried without savepoints."""


def _store_queued(applied: Applied, etype: EventType, creating: bool, batch: Batch) -> None:
    """The fast lane's `_store`: the event and a new subject are queued, not added.

    `Batch.write_queued` inserts their rows. The read models are changed as
    usual, through `add`/`get` and the ORM, and written with the batch.
    """
    event, subject = applied.event, applied.subject
    batch.queued_events.append(event)
    if creating:
        batch.new_subjects.append(subject)
        etype.apply(applied)
    elif event.order_key >= subject.last_key:
        etype.apply(applied)
    else:
        rebuild(subject)  # its queries write what is queued first, this event included
        return
    subject.last_occurred_at, subject.last_device_id, subject.last_seq = event.order_key


def _store(applied: Applied, etype: EventType, creating: bool) -> None:
    """Write the event, its subject if new, and its effects on the read models."""
    session, event, subject = db.session, applied.event, applied.subject
    session.add(event)
    if creating:
        session.add(subject)
        session.flush()
        etype.apply(applied)
    elif event.order_key >= subject.last_key:
        etype.apply(applied)
    else:
        session.flush()
        rebuild(subject)
        return
    subject.last_occurred_at, subject.last_device_id, subject.last_seq = event.order_key


def _same_content(existing: Event, env: Envelope | CheckedEnvelope, device_time: datetime) -> bool:
    """Whether a repeat is the same event: the envelope as the device sent it, so a
    batch sent again (with another `sent_at`, another skew) is still a duplicate."""
    return (
        existing.type == env.type
        and existing.subject_id == env.subject_id
        and existing.branch.code == env.branch
        and existing.device_id == env.device_id
        and existing.seq == env.seq
        and existing.device_occurred_at == device_time
        and existing.payload == env.payload
    )


def rebuild(subject: Subject) -> None:
    """Derive a subject's read model again from all of its events, in order."""
    session = db.session
    AGGREGATES[subject.kind].reset(subject)
    session.flush()
    events = session.scalars(
        select(Event)
        .where(Event.subject_id == subject.id)
        .order_by(Event.occurred_at, Event.device_id, Event.seq)
    ).all()
    # The creating event goes first even when another device's clock put a later
    # event before it; the rest keep their order.
    events = sorted(events, key=lambda e: EVENT_TYPES[e.type].creates_subject is not True)
    for event in events:
        etype = EVENT_TYPES[event.type]
        payload = etype.payload.model_validate(event.payload)
        etype.apply(Applied(event, payload, subject, event.branch))
        session.flush()
    subject.last_occurred_at, subject.last_device_id, subject.last_seq = max(
        e.order_key for e in events
    )


def ingest(raw_events: list[Any], user: User, clock: DeviceClock | None = None) -> list[Result]:
    """Apply a batch from a device: one result per event, in the same order.

    `clock`: the device's skew, from the batch's `sent_at`; none, its times stand.
    """
    clock = clock or DeviceClock()
    try:
        return _ingest(raw_events, user, Batch(safe=False, clock=clock))
    except Exception:  # noqa: BLE001 - rolled back whole; judged again, event by event
        return _ingest(raw_events, user, Batch(safe=True, clock=clock))


def _ingest(raw_events: list[Any], user: User, batch: Batch) -> list[Result]:
    branch_codes = batch.precheck(raw_events)
    token = _fast_batch.set(None if batch.safe else batch)
    try:
        # The user was read for this request moments ago: not again under the lock.
        with write_transaction(branch_codes, keep=[user]):
            batch.prefetch(raw_events)
            results = [apply_event(raw, user, batch) for raw in raw_events]
            # Everything accepted is written before the observers run: they
            # work in a savepoint of their own, which may be rolled back.
            batch.write_queued()
            batch.notify_observers()
    finally:
        _fast_batch.reset(token)
    return results


SERVER_DEVICE_PREFIX = "server:"


def record(
    user: User,
    type: str,
    *,
    branch: Branch,
    subject_id: str,
    payload: dict[str, Any],
    occurred_at: datetime | None = None,
) -> Event:
    """Record an event made by a form posted online, through the same path.

    Its time is the server's clock (the device is the server), so the
    `occurred_at` stored and the device's own are the same.

    :raise Rejected: when the event is refused; nothing is written.
    """
    return record_together(user, branch, [(type, subject_id, payload)], occurred_at)[0]


def record_together(
    user: User,
    branch: Branch,
    steps: list[tuple[str, str, dict[str, Any]]],
    occurred_at: datetime | None = None,
) -> list[Event]:
    """Record several events of one form, (type, subject id, payload) each, all or none.

    :raise Rejected: when any of them is refused; nothing is written.
    """
    now = occurred_at or server_now()
    batch = Batch()
    stored: list[Event] = []
    with write_transaction([branch.code]):
        for position, (type_, subject_id, payload) in enumerate(steps):
            raw = {
                "id": str(uuid.uuid4()),
                "type": type_,
                "occurred_at": format_time(now),
                "subject_id": subject_id,
                "branch": branch.code,
                "device_id": f"{SERVER_DEVICE_PREFIX}{user.id}",
                "seq": int(now.timestamp() * 1_000_000) + position,
                "payload": payload,
            }
            result = apply_event(raw, user, batch)
            if result.status != "accepted":
                # Leaving the block by an exception rolls the transaction back whole.
                error = result.error or {}
                raise Rejected(error["code"], error["message"])
            stored.append(cast(Event, result.event))  # the safe lane's: an Event, stored
        batch.notify_observers()
    return stored


def new_id() -> str:
    return str(uuid.uuid4())
