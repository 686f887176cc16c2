"""The `visit.*` event types of a visit's course and how they fold into a `Visit`:
greeted, updated, triaged, engaged, called, complaint, closed, undone.

The selling steps (recommended, pitched, funds_kept, referred, claimed,
wealth_outcome) are in app/lobby/sales_events.py, and what both share (the
roles, the aggregate, the undo) in app/lobby/visit_fold.py. This module
imports the selling steps, so importing it registers every `visit.*` type.

`visit.greeted` and `visit.closed` have payloads fixed by the sync contract
(docs/sync-contract.md); outside clients rely on them exactly.
The others are documented in docs/events-lobby.md.

Every fold here reads only the visit's own earlier events, never the clock or
other subjects, so the Visit is the same whatever order its events reach the
server in (the engine rebuilds a visit when an event arrives late). Checks
that refuse an event look only at things that do not change with the visit's
own events (the catalogue, the need tags, whether the step to undo exists).
"""

from __future__ import annotations

from typing import Annotated

from flask_babel import gettext as _
from pydantic import Field, field_validator, model_validator
from sqlalchemy import select

from ..events import Applied, Payload, Rejected, event_type, new_row, queue_row, rebuild
from ..extensions import db
from ..models import Event, NeedTag, Role, SelfServiceMachine, Visit
from ..privacy import FreeText
from ..vocabulary import (  # noqa: F401
    PURPOSES,
    AmountBand,
    Flag,
    Outcome,
    Purpose,
    ReferralResult,
    ReferTo,
    Response,
    Route,
    Segment,
)
from . import sales_events  # noqa: F401  (registers the selling steps, see above)
from .codes import DEFAULT_NEED_TAGS
from .visit_fold import (
    DESK_READERS,
    LOBBY_AND_COUNTER,
    LOBBY_ROLES,
    canonical_uuid,
    step,
    visit_of,
    was_undone,
)

# --- payloads ---------------------------------------------------------------


class VisitGreeted(Payload):
    purpose: Purpose
    ticket: str | None = Field(default=None, max_length=10)
    segment: Segment | None = None
    flags: list[Flag] | None = Field(default=None, max_length=3)


class VisitUpdated(Payload):
    """Corrects what the greeting recorded; only the fields present change (null clears)."""

    purpose: Purpose | None = None
    ticket: str | None = Field(default=None, max_length=10)
    segment: Segment | None = None
    flags: list[Flag] | None = Field(default=None, max_length=3)

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError(_("Nothing to change."))
        if "purpose" in self.model_fields_set and self.purpose is None:
            raise ValueError(_("A visit always has a purpose."))
        return self


class VisitTriaged(Payload):
    route: Route
    suggested: Route | None = None
    machine: FreeText | None = Field(default=None, min_length=1, max_length=60)
    amount_band: AmountBand | None = None
    form_checked: bool | None = None
    form_redone: bool | None = None
    # A large transfer to another bank (大额跨行转账): the dialog offers talking points.
    to_other_bank: bool | None = None

    @model_validator(mode="after")
    def _machine_only_for_self_service(self):
        if self.machine is not None and self.route != "self_service":
            raise ValueError(_("A machine is chosen only for the self-service route."))
        return self


class VisitEngaged(Payload):
    needs: list[str] | None = Field(default=None, max_length=8)
    note: FreeText | None = Field(default=None, max_length=300)


class VisitCalled(Payload):
    counter: str | None = Field(default=None, min_length=1, max_length=10)


class VisitComplaint(Payload):
    note: FreeText = Field(min_length=1, max_length=500)


class VisitClosed(Payload):
    outcome: Outcome
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    note: FreeText | None = Field(default=None, max_length=500)


class VisitUndone(Payload):
    event_id: str = Field(max_length=36)

    _check_id = field_validator("event_id")(classmethod(lambda cls, v: canonical_uuid(v)))


# --- the folds --------------------------------------------------------------


@event_type(
    "visit.greeted",
    kind="visit",
    payload=VisitGreeted,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    creates_subject=True,
    description="A customer was greeted at the door: a new visit begins, waiting.",
)
def greeted(a: Applied) -> None:
    p: VisitGreeted = a.payload
    # An undone greeting (recorded by mistake) leaves a void visit, so that its
    # later events still have something to fold into, and nothing counts it.
    undone = was_undone(a)
    queue_row(
        new_row(
            Visit,
            id=a.subject.id,
            branch_id=a.branch.id,
            status="void" if undone else "waiting",
            purpose=p.purpose,
            ticket=p.ticket or None,
            segment=p.segment,
            flags=sorted(set(p.flags or [])),
            greeted_at=a.event.occurred_at,
            greeted_by_id=a.event.user_id,
            needs=[],
            engaged_count=0,
            form_checked=False,
            form_redone=False,
            complaint=False,
            last_step_event_id=None if undone else a.event.id,
            last_step_type=None if undone else a.event.type,
        )
    )


@event_type(
    "visit.updated",
    kind="visit",
    payload=VisitUpdated,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    description="Corrects the purpose, ticket, segment or flags; fields present change.",
)
@step
def updated(a: Applied) -> None:
    p: VisitUpdated = a.payload
    visit = visit_of(a)
    for name in p.model_fields_set:
        value = getattr(p, name)
        if name == "flags":
            value = sorted(set(value or []))
        elif name == "ticket":
            value = value or None
        setattr(visit, name, value)


def _check_triaged(a: Applied) -> None:
    p: VisitTriaged = a.payload
    if a.recorder.role is Role.TELLER and p.route != "self_service":
        raise Rejected("forbidden", _("A teller only sends small cash work to the machines."))
    if p.machine is None:
        return
    names = set(
        db.session.scalars(
            select(SelfServiceMachine.name).where(SelfServiceMachine.branch_id == a.branch.id)
        )
    )
    if names and p.machine not in names:
        raise Rejected(
            "unknown_machine",
            _("This branch has no self-service machine called %(name)s.", name=p.machine),
        )


@event_type(
    "visit.triaged",
    kind="visit",
    payload=VisitTriaged,
    roles=LOBBY_AND_COUNTER,
    also_read_by=DESK_READERS,
    check=_check_triaged,
    description="The customer was sent on a route; a later triage re-routes. A teller "
    "records only `self_service` (small cash work diverted to the machines).",
)
@step
def triaged(a: Applied) -> None:
    p: VisitTriaged = a.payload
    visit = visit_of(a)
    visit.route = p.route
    visit.suggested_route = p.suggested
    visit.machine = p.machine
    visit.amount_band = p.amount_band
    visit.form_checked = bool(p.form_checked)
    visit.form_redone = bool(p.form_redone)
    visit.to_other_bank = bool(p.to_other_bank)
    visit.triaged_at = a.event.occurred_at


def known_need_codes() -> set[str]:
    codes = set(db.session.scalars(select(NeedTag.code)))
    return codes or {code for code, _zh, _en in DEFAULT_NEED_TAGS}


def _check_engaged(a: Applied) -> None:
    unknown = sorted(set(a.payload.needs or []) - known_need_codes())
    if unknown:
        raise Rejected("unknown_need", _("Unknown need: %(code)s", code=", ".join(unknown)))


@event_type(
    "visit.engaged",
    kind="visit",
    payload=VisitEngaged,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    check=_check_engaged,
    description="Talked to the customer in the waiting area; needs learnt add up.",
)
@step
def engaged(a: Applied) -> None:
    p: VisitEngaged = a.payload
    visit = visit_of(a)
    visit.engaged_count = (visit.engaged_count or 0) + 1
    visit.first_engaged_at = visit.first_engaged_at or a.event.occurred_at
    visit.last_engaged_at = a.event.occurred_at
    if p.needs:
        visit.needs = sorted(set(visit.needs or []) | set(p.needs))
    if p.note:
        visit.engage_note = p.note


@event_type(
    "visit.called",
    kind="visit",
    payload=VisitCalled,
    roles=LOBBY_AND_COUNTER,
    also_read_by=DESK_READERS,
    description="The customer was called to a counter: the wait ends, service begins. "
    "The first call counts; a later one changes only the counter.",
)
@step
def called(a: Applied) -> None:
    visit = visit_of(a)
    if visit.called_at is None:
        visit.called_at = a.event.occurred_at
        visit.called_by_id = a.event.user_id
    if a.payload.counter:
        visit.called_counter = a.payload.counter


@event_type(
    "visit.complaint",
    kind="visit",
    payload=VisitComplaint,
    roles=LOBBY_ROLES,
    description="The customer complained; the note says what about.",
)
@step
def complaint(a: Applied) -> None:
    visit = visit_of(a)
    visit.complaint = True
    visit.complaint_note = a.payload.note


@event_type(
    "visit.closed",
    kind="visit",
    payload=VisitClosed,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    description="The visit ended: served, walked away or referred. A later "
    "visit.closed corrects an earlier one.",
)
@step
def closed(a: Applied) -> None:
    p: VisitClosed = a.payload
    visit = visit_of(a)
    if visit.status != "void":
        visit.status = "closed"
    visit.closed_at = a.event.occurred_at
    visit.outcome = p.outcome
    visit.satisfaction = p.satisfaction
    visit.close_note = p.note
    visit.closed_event_id = a.event.id


def _check_undone(a: Applied) -> None:
    target = db.session.scalar(select(Event).where(Event.id == a.payload.event_id))
    if target is None or target.subject_id != a.subject.id:
        raise Rejected("unknown_step", _("The step to undo is not part of this visit."))
    if target.type == "visit.undone":
        raise Rejected("cannot_undo", _("An undo cannot be undone; record the step again."))


@event_type(
    "visit.undone",
    kind="visit",
    payload=VisitUndone,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    check=_check_undone,
    description="Takes back one earlier step of the visit: the visit is derived again "
    "from its events without it. Undoing the greeting voids the visit.",
)
def undone(a: Applied) -> None:
    # Applied online (a.user is set): derive the visit again without the step.
    # During a rebuild (a.user is None) the rebuild itself skips it.
    if a.user is not None:
        db.session.flush()
        rebuild(a.subject)
