"""What every fold of a visit event shares: who records and reads the visit's
events, the `visit` aggregate (how its read model is cleared before a rebuild)
and the undo (a step that a `visit.undone` took back is skipped when the visit
is folded again).

The visit's event types are in app/lobby/events.py (its course: greeting,
triage, talk, call, complaint, close, undo) and app/lobby/sales_events.py
(recommendations, the teller's pitch, funds kept, the hand-off to a wealth
manager and a wealth manager's talk), which app/lobby/events.py imports.
"""

from __future__ import annotations

import uuid
from functools import wraps

from sqlalchemy import delete, select

from ..events import Applied, find_row, register_aggregate
from ..extensions import db
from ..models import Event, Role, Subject, Visit, VisitRecommendation

LOBBY_ROLES = {Role.LOBBY_MANAGER}
# The referral desk shows a wealth manager the waiting-area facts of the visits
# it receives: they pull the visit's steps without the notes (FreeText fields).
DESK_READERS = {Role.WEALTH_MANAGER}
# The few visit events a teller records from the counter page (app/counter).
LOBBY_AND_COUNTER = {Role.LOBBY_MANAGER, Role.TELLER}
LOBBY_AND_DESK = {Role.LOBBY_MANAGER, Role.WEALTH_MANAGER}


def canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


def _reset(subject: Subject) -> None:
    db.session.execute(
        delete(VisitRecommendation).where(VisitRecommendation.visit_id == subject.id)
    )
    db.session.execute(delete(Visit).where(Visit.id == subject.id))


register_aggregate("visit", _reset)


def was_undone(a: Applied) -> bool:
    """Whether a `visit.undone` took this event back.

    Only a rebuild (no `a.user`) can meet one: an undo names an event the server
    already holds, so an event arriving now has none yet.
    """
    return a.user is None and a.event.id in undone_event_ids(a.subject.id)


def undone_event_ids(subject_id: str) -> set[str]:
    payloads = db.session.scalars(
        select(Event.payload).where(Event.subject_id == subject_id, Event.type == "visit.undone")
    )
    return {p.get("event_id") for p in payloads}


def step(apply):
    """Skip a step that a `visit.undone` took back; remember the last step for "undo"."""

    @wraps(apply)
    def wrapped(a: Applied) -> None:
        if was_undone(a):
            return
        apply(a)
        visit = find_row(Visit, a.subject.id)
        visit.last_step_event_id = a.event.id
        visit.last_step_type = a.event.type

    return wrapped


def visit_of(a: Applied) -> Visit:
    # `get`, not session.get: the visit may have been greeted earlier in this
    # batch and not flushed yet (the write path flushes once a batch).
    return find_row(Visit, a.subject.id)
