"""The registry of event types: who records each type, who reads it and which
fields only some readers get, and how it folds into the read models; the kinds
of subject (`register_aggregate`) and the observers of a write transaction.

Features register their types with `@event_type(...)` (see `app/lobby/events.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..models import Branch, Event, Role, Subject, User
from ..privacy import free_text_fields

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
