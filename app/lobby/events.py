"""The `visit.*` event types and how they fold into a `Visit`.

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

import uuid
from functools import wraps
from typing import Annotated, Optional

from flask_babel import gettext as _
from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete, select

from ..events import (Applied, Payload, Rejected, add, event_type, get, new_row, rebuild,
                      register_aggregate)
from ..extensions import db
from ..models import Event, NeedTag, Product, Role, SelfServiceMachine, Subject, Visit
from ..models import VisitRecommendation
from ..privacy import FreeText
from .codes import (DEFAULT_NEED_TAGS, PURPOSES, AmountBand, Flag, Outcome, Purpose,  # noqa: F401
                    ReferTo, Response, Route, Segment)

LOBBY_ROLES = {Role.LOBBY_MANAGER}


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


# --- payloads ---------------------------------------------------------------

class VisitGreeted(Payload):
    purpose: Purpose
    ticket: Optional[str] = Field(default=None, max_length=10)
    segment: Optional[Segment] = None
    flags: Optional[list[Flag]] = Field(default=None, max_length=3)


class VisitUpdated(Payload):
    """Corrects what the greeting recorded; only the fields present change (null clears)."""

    purpose: Optional[Purpose] = None
    ticket: Optional[str] = Field(default=None, max_length=10)
    segment: Optional[Segment] = None
    flags: Optional[list[Flag]] = Field(default=None, max_length=3)

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError(_("Nothing to change."))
        if "purpose" in self.model_fields_set and self.purpose is None:
            raise ValueError(_("A visit always has a purpose."))
        return self


class VisitTriaged(Payload):
    route: Route
    suggested: Optional[Route] = None
    machine: Optional[FreeText] = Field(default=None, min_length=1, max_length=60)
    amount_band: Optional[AmountBand] = None
    form_checked: Optional[bool] = None
    form_redone: Optional[bool] = None

    @model_validator(mode="after")
    def _machine_only_for_self_service(self):
        if self.machine is not None and self.route != "self_service":
            raise ValueError(_("A machine is chosen only for the self-service route."))
        return self


class VisitEngaged(Payload):
    needs: Optional[list[str]] = Field(default=None, max_length=8)
    note: Optional[FreeText] = Field(default=None, max_length=300)


class VisitRecommended(Payload):
    products: list[str] = Field(min_length=1, max_length=5)
    response: Response
    confirmed_without_need: Optional[bool] = None


class VisitReferred(Payload):
    referral_id: str = Field(max_length=36)
    to: ReferTo
    note: Optional[FreeText] = Field(default=None, max_length=300)

    _check_id = field_validator("referral_id")(classmethod(lambda cls, v: _uuid(v)))


class VisitComplaint(Payload):
    note: FreeText = Field(min_length=1, max_length=500)


class VisitClosed(Payload):
    outcome: Outcome
    satisfaction: Optional[Annotated[int, Field(ge=1, le=5)]] = None
    note: Optional[FreeText] = Field(default=None, max_length=500)


class VisitUndone(Payload):
    event_id: str = Field(max_length=36)

    _check_id = field_validator("event_id")(classmethod(lambda cls, v: _uuid(v)))


# --- the fold ---------------------------------------------------------------

def _reset(subject: Subject) -> None:
    db.session.execute(delete(VisitRecommendation).where(VisitRecommendation.visit_id == subject.id))
    db.session.execute(delete(Visit).where(Visit.id == subject.id))


register_aggregate("visit", _reset)


def was_undone(a: Applied) -> bool:
    """Whether a `visit.undone` took this event back.

    Only a rebuild (no `a.user`) can meet one: an undo names an event the server
    already holds, so an event arriving now has none yet.
    """
    return a.user is None and a.event.id in undone_event_ids(a.subject.id)


def undone_event_ids(subject_id: str) -> set[str]:
    payloads = db.session.scalars(select(Event.payload).where(
        Event.subject_id == subject_id, Event.type == "visit.undone"))
    return {p.get("event_id") for p in payloads}


def step(apply):
    """Skip a step that a `visit.undone` took back; remember the last step for "undo"."""

    @wraps(apply)
    def wrapped(a: Applied) -> None:
        if was_undone(a):
            return
        apply(a)
        visit = get(Visit, a.subject.id)
        visit.last_step_event_id = a.event.id
        visit.last_step_type = a.event.type

    return wrapped


def _visit(a: Applied) -> Visit:
    # `get`, not session.get: the visit may have been greeted earlier in this
    # batch and not flushed yet (the write path flushes once a batch).
    return get(Visit, a.subject.id)


@event_type("visit.greeted", kind="visit", payload=VisitGreeted, roles=LOBBY_ROLES,
            creates_subject=True,
            description="A customer was greeted at the door: a new visit begins, waiting.")
def greeted(a: Applied) -> None:
    p: VisitGreeted = a.payload
    # An undone greeting (recorded by mistake) leaves a void visit, so that its
    # later events still have something to fold into, and nothing counts it.
    undone = was_undone(a)
    add(new_row(
        Visit, id=a.subject.id, branch_id=a.branch.id, status="void" if undone else "waiting",
        purpose=p.purpose, ticket=p.ticket or None, segment=p.segment,
        flags=sorted(set(p.flags or [])), greeted_at=a.event.occurred_at,
        greeted_by_id=a.event.user_id, needs=[], engaged_count=0,
        form_checked=False, form_redone=False, complaint=False,
        last_step_event_id=None if undone else a.event.id,
        last_step_type=None if undone else a.event.type))


@event_type("visit.updated", kind="visit", payload=VisitUpdated, roles=LOBBY_ROLES,
            description="Corrects the purpose, ticket, segment or flags; fields present change.")
@step
def updated(a: Applied) -> None:
    p: VisitUpdated = a.payload
    visit = _visit(a)
    for name in p.model_fields_set:
        value = getattr(p, name)
        if name == "flags":
            value = sorted(set(value or []))
        elif name == "ticket":
            value = value or None
        setattr(visit, name, value)


def _check_triaged(a: Applied) -> None:
    p: VisitTriaged = a.payload
    if p.machine is None:
        return
    names = set(db.session.scalars(select(SelfServiceMachine.name).where(
        SelfServiceMachine.branch_id == a.branch.id)))
    if names and p.machine not in names:
        raise Rejected("unknown_machine", _("This branch has no self-service machine called "
                                            "%(name)s.", name=p.machine))


@event_type("visit.triaged", kind="visit", payload=VisitTriaged, roles=LOBBY_ROLES,
            check=_check_triaged,
            description="The customer was sent on a route; a later triage re-routes.")
@step
def triaged(a: Applied) -> None:
    p: VisitTriaged = a.payload
    visit = _visit(a)
    visit.route = p.route
    visit.suggested_route = p.suggested
    visit.machine = p.machine
    visit.amount_band = p.amount_band
    visit.form_checked = bool(p.form_checked)
    visit.form_redone = bool(p.form_redone)
    visit.triaged_at = a.event.occurred_at


def known_need_codes() -> set[str]:
    codes = set(db.session.scalars(select(NeedTag.code)))
    return codes or {code for code, _zh, _en in DEFAULT_NEED_TAGS}


def _check_engaged(a: Applied) -> None:
    unknown = sorted(set(a.payload.needs or []) - known_need_codes())
    if unknown:
        raise Rejected("unknown_need", _("Unknown need: %(code)s", code=", ".join(unknown)))


@event_type("visit.engaged", kind="visit", payload=VisitEngaged, roles=LOBBY_ROLES,
            check=_check_engaged,
            description="Talked to the customer in the waiting area; needs learnt add up.")
@step
def engaged(a: Applied) -> None:
    p: VisitEngaged = a.payload
    visit = _visit(a)
    visit.engaged_count = (visit.engaged_count or 0) + 1
    visit.first_engaged_at = visit.first_engaged_at or a.event.occurred_at
    visit.last_engaged_at = a.event.occurred_at
    if p.needs:
        visit.needs = sorted(set(visit.needs or []) | set(p.needs))
    if p.note:
        visit.engage_note = p.note


def _check_recommended(a: Applied) -> None:
    codes = set(a.payload.products)
    found = set(db.session.scalars(select(Product.code).where(
        Product.branch_id == a.branch.id, Product.code.in_(codes), Product.active.is_(True))))
    if codes - found:
        raise Rejected("unknown_product", _("Not in this branch's catalogue: %(codes)s",
                                            codes=", ".join(sorted(codes - found))))


@event_type("visit.recommended", kind="visit", payload=VisitRecommended, roles=LOBBY_ROLES,
            check=_check_recommended,
            description="Products from the branch's catalogue were recommended; the response.")
@step
def recommended(a: Applied) -> None:
    p: VisitRecommended = a.payload
    visit = _visit(a)
    without_need = not visit.needs
    for code in dict.fromkeys(p.products):
        db.session.add(VisitRecommendation(
            visit_id=visit.id, event_id=a.event.id, branch_id=a.branch.id, product_code=code,
            response=p.response, recommended_at=a.event.occurred_at, without_need=without_need,
            confirmed_without_need=bool(p.confirmed_without_need)))


@event_type("visit.referred", kind="visit", payload=VisitReferred, roles=LOBBY_ROLES,
            description="Handed to a wealth manager or the corporate desk; the referral itself "
                        "is the subject of referral.created.")
@step
def referred(a: Applied) -> None:
    p: VisitReferred = a.payload
    visit = _visit(a)
    visit.referral_id = p.referral_id
    visit.referred_to = p.to


@event_type("visit.complaint", kind="visit", payload=VisitComplaint, roles=LOBBY_ROLES,
            description="The customer complained; the note says what about.")
@step
def complaint(a: Applied) -> None:
    visit = _visit(a)
    visit.complaint = True
    visit.complaint_note = a.payload.note


@event_type("visit.closed", kind="visit", payload=VisitClosed, roles=LOBBY_ROLES,
            description="The visit ended: served, walked away or referred. A later "
                        "visit.closed corrects an earlier one.")
@step
def closed(a: Applied) -> None:
    p: VisitClosed = a.payload
    visit = _visit(a)
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


@event_type("visit.undone", kind="visit", payload=VisitUndone, roles=LOBBY_ROLES,
            check=_check_undone,
            description="Takes back one earlier step of the visit: the visit is derived again "
                        "from its events without it. Undoing the greeting voids the visit.")
def undone(a: Applied) -> None:
    # Applied online (a.user is set): derive the visit again without the step.
    # During a rebuild (a.user is None) the rebuild itself skips it.
    if a.user is not None:
        db.session.flush()
        rebuild(a.subject)
