"""The one write path: validate an event, store it, fold it into the read models.

Every write, whether a form posted online or a batch from a tablet's outbox,
comes through `apply_event` inside `write_transaction()`. Features register
their event types with `@event_type(...)` (see `app/lobby/events.py`) and the
kind of subject they are about with `register_aggregate(...)`.

A subject's read model is a fold of its events in (occurred_at, device_id,
seq) order. An event that sorts after the last one folded is applied on top;
one that arrives late (another tablet synced after this one) makes the
subject's read model be rebuilt from all its events, so the result never
depends on the order in which events reach the server.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import utcnow, write_transaction
from .extensions import db
from .models import Branch, Event, Role, Subject, User


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
    apply: Callable[["Applied"], None]
    # True: the event starts its subject, and a second one is refused (subject_exists).
    # "if_missing": the first of these events starts the subject, later ones join it
    # (a checklist run whose id every tablet derives from branch and date).
    creates_subject: bool | str = False
    check: Callable[["Applied"], None] | None = None
    description: str = ""


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
    payload: Payload
    subject: Subject
    branch: Branch
    user: User | None = None  # None during a rebuild: the recorder is event.user


EVENT_TYPES: dict[str, EventType] = {}
AGGREGATES: dict[str, Aggregate] = {}
# Called once per write transaction, before it commits, with the events it
# accepted: projections such as the supervisor's daily figures
# (app/supervisor/projection.py) stay in step with the events, and a batch of
# five events about one visit projects that visit once, not five times.
EVENT_OBSERVERS: list[Callable[[list["Applied"]], None]] = []


def event_type(name: str, *, kind: str, payload: type[Payload], roles: Iterable[Role],
               creates_subject: bool | str = False, check: Callable[[Applied], None] | None = None,
               description: str = ""):
    """Register the decorated function as the way `name` events change the read models."""

    def register(apply: Callable[[Applied], None]):
        if name in EVENT_TYPES:
            raise RuntimeError(f"event type {name} registered twice")
        EVENT_TYPES[name] = EventType(name, kind, payload, frozenset(roles), apply,
                                      creates_subject, check, description)
        return apply

    return register


def register_aggregate(kind: str, reset: Callable[[Subject], None], label: Any = None) -> None:
    AGGREGATES[kind] = Aggregate(kind, reset, label)


def kind_label(kind: str) -> str:
    aggregate = AGGREGATES.get(kind)
    return str(aggregate.label) if aggregate and aggregate.label else kind


# --- the envelope -----------------------------------------------------------

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


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
        if not _RFC3339.match(value):
            raise ValueError(_("must be an RFC 3339 time with an offset or Z"))
        try:
            parse_time(value)
        except ValueError:
            raise ValueError(_("is not a valid time")) from None
        return value


def parse_time(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    # Python keeps microseconds: cut nanoseconds that some clocks give.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("t", "T")).astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope_of(event: Event) -> dict[str, Any]:
    """The JSON form of a stored event, as the pull endpoint gives it."""
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": format_time(event.occurred_at),
        "received_at": format_time(event.received_at),
        "subject_id": event.subject_id,
        "branch": event.branch.code,
        "device_id": event.device_id,
        "seq": event.seq,
        "user": event.user.username,
        "payload": event.payload,
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
        return _("%(field)s may have at most %(n)s characters.", field=where,
                 n=ctx.get("max_length"))
    if kind == "string_too_short" or (kind == "too_short" and text):
        return _("%(field)s must have at least %(n)s characters.", field=where,
                 n=ctx.get("min_length"))
    if kind == "too_long":
        return _("%(field)s may hold at most %(n)s items.", field=where, n=ctx.get("max_length"))
    if kind == "too_short":
        return _("%(field)s must hold at least %(n)s items.", field=where,
                 n=ctx.get("min_length"))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("%(field)s must be a whole number.", field=where)
    if kind in ("greater_than_equal", "greater_than"):
        return _("%(field)s must be at least %(n)s.", field=where,
                 n=ctx.get("ge", ctx.get("gt")))
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
    event: Event | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error:
            out["error"] = self.error
        return out


class Batch:
    """What one write transaction knows: looked-up branches, events and subjects.

    `prefetch` reads the known events and subjects of a whole batch in two
    queries, so judging each event costs no look-up of its own.
    """

    def __init__(self, safe: bool = True) -> None:
        # safe: each event's writes in a savepoint of their own. A batch from a
        # device is first tried without (savepoints cost a flush and two
        # statements an event); should any event's effects fail, the whole
        # transaction is rolled back and the batch judged again, safely.
        self.safe = safe
        self.branches: dict[str, Branch] = {}
        self.events: dict[str, Event | None] = {}
        self.subjects: dict[str, Subject | None] = {}
        self.accepted: list[Applied] = []

    def prefetch(self, raw_events: list[Any]) -> None:
        ids, subject_ids = set(), set()
        for raw in raw_events:
            if isinstance(raw, dict):
                ids.add(_canonical_uuid(raw.get("id")))
                subject_ids.add(_canonical_uuid(raw.get("subject_id")))
        ids.discard(None)
        subject_ids.discard(None)
        session = db.session
        for chunk in _chunks(sorted(ids)):
            self.events.update(dict.fromkeys(chunk))
            for event in session.scalars(select(Event).where(Event.id.in_(chunk))):
                self.events[event.id] = event
        for chunk in _chunks(sorted(subject_ids)):
            self.subjects.update(dict.fromkeys(chunk))
            for subject in session.scalars(select(Subject).where(Subject.id.in_(chunk))):
                self.subjects[subject.id] = subject

    def event(self, event_id: str) -> Event | None:
        if event_id not in self.events:
            self.events[event_id] = db.session.scalar(select(Event).where(Event.id == event_id))
        return self.events[event_id]

    def subject(self, subject_id: str) -> Subject | None:
        if subject_id not in self.subjects:
            self.subjects[subject_id] = db.session.get(Subject, subject_id)
        return self.subjects[subject_id]

    def branch(self, code: str) -> Branch | None:
        if code not in self.branches:
            self.branches[code] = db.session.scalar(select(Branch).where(Branch.code == code))
        return self.branches[code]

    def notify_observers(self) -> None:
        if self.accepted:
            for observer in EVENT_OBSERVERS:
                observer(self.accepted)


def _canonical_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _chunks(items: list[str], size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
    try:
        env = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise Rejected("invalid_envelope", describe_validation_error(exc)) from None
    occurred_at = parse_time(env.occurred_at)

    existing = batch.event(env.id)
    if existing is not None:
        if _same_content(existing, env, occurred_at) and user.can_read(existing.branch_id):
            return Result(env.id, "duplicate")
        raise Rejected("id_conflict", _("Another event with this id, but different content, "
                                        "was already accepted."))

    etype = EVENT_TYPES.get(env.type)
    if etype is None:
        raise Rejected("unknown_type", _("Unknown event type: %(type)s", type=env.type))

    branch = batch.branch(env.branch)
    if branch is None or not branch.active or not user.can_write(branch):
        raise Rejected("branch_forbidden", _("You may not record events for branch %(code)s.",
                                             code=env.branch))
    if user.role not in etype.roles:
        raise Rejected("forbidden", _("Your role may not record this kind of event."))

    try:
        payload = etype.payload.model_validate(env.payload)
    except ValidationError as exc:
        raise Rejected("invalid_payload", describe_validation_error(exc)) from None

    subject = batch.subject(env.subject_id)
    creating = etype.creates_subject is True or (etype.creates_subject == "if_missing"
                                                 and subject is None)
    if creating:
        if subject is not None:
            raise Rejected("subject_exists", _("This %(kind)s was already recorded.",
                                               kind=kind_label(etype.kind)))
        subject = Subject(id=env.subject_id, kind=etype.kind, branch_id=branch.id,
                          last_occurred_at=occurred_at, last_device_id=env.device_id,
                          last_seq=env.seq)
    else:
        if subject is None:
            raise Rejected("unknown_subject", _("The server does not know this %(kind)s.",
                                                kind=kind_label(etype.kind)))
        if subject.kind != etype.kind or subject.branch_id != branch.id:
            raise Rejected("subject_mismatch", _("This event does not belong to that %(kind)s.",
                                                 kind=kind_label(etype.kind)))

    event = Event(id=env.id, type=env.type, occurred_at=occurred_at, received_at=utcnow(),
                  subject_id=env.subject_id, branch_id=branch.id, branch=branch,
                  device_id=env.device_id, seq=env.seq, user_id=user.id, user=user,
                  payload=env.payload)
    applied = Applied(event, payload, subject, branch, user)
    if etype.check:
        etype.check(applied)

    try:
        if batch.safe:
            with session.begin_nested():
                _store(applied, etype, creating)
        else:
            try:
                _store(applied, etype, creating)
            except Exception as exc:  # noqa: BLE001 - any of it: the batch is judged again
                raise RetrySafely() from exc
    except IntegrityError:
        # The same id raced in from another request: judge it again as a repeat.
        existing = session.scalar(select(Event).where(Event.id == env.id))
        if existing is not None and _same_content(existing, env, occurred_at):
            return Result(env.id, "duplicate")
        raise Rejected("conflict", _("The event could not be stored; send it again.")) from None
    batch.events[env.id] = event
    if creating:
        batch.subjects[subject.id] = subject
    batch.accepted.append(applied)
    return Result(env.id, "accepted", event=event)


class RetrySafely(Exception):
    """An event's effects failed in a batch tried without savepoints."""


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


def _same_content(existing: Event, env: Envelope, occurred_at: datetime) -> bool:
    return (existing.type == env.type and existing.subject_id == env.subject_id
            and existing.branch.code == env.branch and existing.device_id == env.device_id
            and existing.seq == env.seq and existing.occurred_at == occurred_at
            and existing.payload == env.payload)


def rebuild(subject: Subject) -> None:
    """Derive a subject's read model again from all of its events, in order."""
    session = db.session
    AGGREGATES[subject.kind].reset(subject)
    session.flush()
    events = session.scalars(
        select(Event).where(Event.subject_id == subject.id)
        .order_by(Event.occurred_at, Event.device_id, Event.seq)).all()
    # The creating event goes first even when another device's clock put a later
    # event before it; the rest keep their order.
    events.sort(key=lambda e: EVENT_TYPES[e.type].creates_subject is not True)
    for event in events:
        etype = EVENT_TYPES[event.type]
        payload = etype.payload.model_validate(event.payload)
        etype.apply(Applied(event, payload, subject, event.branch))
        session.flush()
    subject.last_occurred_at, subject.last_device_id, subject.last_seq = max(
        e.order_key for e in events)


def ingest(raw_events: list[Any], user: User) -> list[Result]:
    """Apply a batch from a device: one result per event, in the same order."""
    try:
        return _ingest(raw_events, user, Batch(safe=False))
    except Exception:  # noqa: BLE001 - rolled back whole; judged again, event by event
        return _ingest(raw_events, user, Batch(safe=True))


def _ingest(raw_events: list[Any], user: User, batch: Batch) -> list[Result]:
    with write_transaction():
        batch.prefetch(raw_events)
        results = [apply_event(raw, user, batch) for raw in raw_events]
        batch.notify_observers()
    return results


SERVER_DEVICE_PREFIX = "server:"


def record(user: User, type: str, *, branch: Branch, subject_id: str,
           payload: dict[str, Any], occurred_at: datetime | None = None) -> Event:
    """Record an event made by a form posted online, through the same path.

    :raise Rejected: when the event is refused; nothing is written.
    """
    now = occurred_at or utcnow()
    raw = {
        "id": str(uuid.uuid4()),
        "type": type,
        "occurred_at": format_time(now),
        "subject_id": subject_id,
        "branch": branch.code,
        "device_id": f"{SERVER_DEVICE_PREFIX}{user.id}",
        "seq": int(now.timestamp() * 1_000_000),
        "payload": payload,
    }
    batch = Batch()
    with write_transaction():
        result = apply_event(raw, user, batch)
        if result.status != "accepted":
            raise Rejected(result.error["code"], result.error["message"])
        batch.notify_observers()
        return result.event


def new_id() -> str:
    return str(uuid.uuid4())

