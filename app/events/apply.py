"""Applying events: `apply_event` judges one event and, if good, stores it with
its effects on the read models — the only function that writes what happens in
a branch. `ingest` applies a batch from a device (the fast lane first, the safe
lane should it fail), `record` / `record_together` the events of a form posted
online, and `rebuild` derives a subject's read model again from its events.

A subject's read model is a fold of its events in (occurred_at, device_id,
seq) order, where `occurred_at` is the server's view of the event's time (see
`DeviceClock` in app/events/envelope.py). An event that sorts after the last
one folded is applied on top; one that arrives late (another tablet synced
after this one) makes the subject's read model be rebuilt from all its events,
so the result never depends on the order in which events reach the server.

A batch from a device is first tried in the fast lane: no savepoint per event,
the rows it creates queued and inserted with one executemany a table
(app/events/fast_lane.py), its ids taken as new (`Batch.prefetch`), and on
PostgreSQL its writes pipelined. Should any event's effects fail, or any event
be refused, the transaction is rolled back whole and the batch is judged again
in the safe lane (lookups, a savepoint and ORM writes per event), so the
answers and the stored result are the same either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import now as server_now
from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import Branch, Event, Subject, User
from ..models.event import QueuedEvent, QueuedSubject
from .batch import Batch
from .envelope import (
    CheckedEnvelope,
    DeviceClock,
    Envelope,
    check_envelope_and_payload,
    format_time,
    parse_time,
)
from .fast_lane import queueing
from .registry import AGGREGATES, EVENT_TYPES, Applied, EventType, Rejected, kind_label


@dataclass
class Result:
    """The answer for one event: accepted (with the event stored), duplicate or rejected."""

    id: str | None
    status: str  # accepted | duplicate | rejected
    error: dict[str, str] | None = None
    event: Event | QueuedEvent | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error:
            out["error"] = self.error
        return out


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
    checked = batch.checked.get(id(raw)) or check_envelope_and_payload(raw)
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

    branch = batch.branch(env.branch, user)
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


class RetrySafely(Exception):
    """An event's effects failed in a batch tried without savepoints."""


def _store_queued(applied: Applied, etype: EventType, creating: bool, batch: Batch) -> None:
    """The fast lane's `_store`: the event and a new subject are queued, not added.

    `RowQueue.insert_all_before_commit` inserts their rows. The read models are changed as
    usual, through `queue_row`/`find_row` and the ORM, and written with the batch.
    """
    event, subject = applied.event, applied.subject
    batch.queue.events.append(event)
    if creating:
        batch.queue.subjects.append(subject)
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
    # The user was read for this request moments ago: not again under the lock.
    with (
        queueing(None if batch.safe else batch.queue),
        write_transaction(branch_codes, keep=[user], pipeline=not batch.safe),
    ):
        batch.prefetch(raw_events)
        results = [apply_event(raw, user, batch) for raw in raw_events]
        if not batch.safe and any(result.status == "rejected" for result in results):
            # Perhaps for an id the fast lane took as new: judged again, with them read.
            raise RetrySafely()
        # Everything accepted is written before the observers run. A fault of
        # theirs fails the fast lane; in the safe lane their savepoint keeps it
        # from refusing the events (app/supervisor/projection.py).
        batch.queue.insert_all_before_commit()
        batch.notify_observers()
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
