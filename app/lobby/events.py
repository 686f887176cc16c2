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
from typing import Annotated

from flask_babel import gettext as _
from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete, select

from ..clock import local_day
from ..events import (
    Applied,
    Payload,
    Rejected,
    event_type,
    find_row,
    new_row,
    queue_row,
    rebuild,
    register_aggregate,
)
from ..extensions import db
from ..models import (
    Event,
    NeedTag,
    Product,
    Role,
    SelfServiceMachine,
    Subject,
    Visit,
    VisitRecommendation,
)
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
from .codes import DEFAULT_NEED_TAGS

LOBBY_ROLES = {Role.LOBBY_MANAGER}
# The referral desk shows a wealth manager the waiting-area facts of the visits
# it receives: they pull the visit's steps without the notes (FreeText fields).
DESK_READERS = {Role.WEALTH_MANAGER}
# The few visit events a teller records from the counter page (app/counter).
LOBBY_AND_COUNTER = {Role.LOBBY_MANAGER, Role.TELLER}
LOBBY_AND_DESK = {Role.LOBBY_MANAGER, Role.WEALTH_MANAGER}


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


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


class VisitFundsKept(Payload):
    """The customer kept the money with us instead of moving it away (挽留成功)."""

    amount_band: AmountBand


class VisitRecommended(Payload):
    products: list[str] = Field(min_length=1, max_length=5)
    response: Response
    confirmed_without_need: bool | None = None


class VisitReferred(Payload):
    referral_id: str = Field(max_length=36)
    to: ReferTo
    note: FreeText | None = Field(default=None, max_length=300)

    _check_id = field_validator("referral_id")(classmethod(lambda cls, v: _uuid(v)))


class VisitPitched(Payload):
    """The teller's one-sentence pitch (一句话营销): one product and the customer's response."""

    product: str = Field(min_length=1, max_length=32)
    response: Response


class VisitClaimed(Payload):
    pass


class VisitWealthOutcome(Payload):
    result: ReferralResult
    amount_band: AmountBand | None = None
    product: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _band_with_sale(self):
        if self.result == "sold" and self.amount_band is None:
            raise ValueError(_("A sale needs its amount band."))
        if self.result != "sold" and (self.amount_band is not None or self.product is not None):
            raise ValueError(_("An amount band or product goes only with a sale."))
        return self


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

    _check_id = field_validator("event_id")(classmethod(lambda cls, v: _uuid(v)))


# --- the fold ---------------------------------------------------------------


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


def _visit(a: Applied) -> Visit:
    # `find_row`, not session.get: the visit may have been greeted earlier in this
    # batch and not flushed yet (the write path flushes once a batch).
    return find_row(Visit, a.subject.id)


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
    visit = _visit(a)
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
    visit = _visit(a)
    visit.engaged_count = (visit.engaged_count or 0) + 1
    visit.first_engaged_at = visit.first_engaged_at or a.event.occurred_at
    visit.last_engaged_at = a.event.occurred_at
    if p.needs:
        visit.needs = sorted(set(visit.needs or []) | set(p.needs))
    if p.note:
        visit.engage_note = p.note


def _check_recommended(a: Applied) -> None:
    check_products(a, set(a.payload.products))


def check_products(a: Applied, codes: set[str]) -> None:
    """Refuse products the branch does not offer, or whose sale had ended that day."""
    offered = db.session.scalars(
        select(Product).where(
            Product.branch_id == a.branch.id, Product.code.in_(codes), Product.active.is_(True)
        )
    ).all()
    missing = codes - {p.code for p in offered}
    if missing:
        raise Rejected(
            "unknown_product",
            _("Not in this branch's catalogue: %(codes)s", codes=", ".join(sorted(missing))),
        )
    # The branch's own day when the recommendation was made: a tablet that was
    # offline syncs the day before's recommendation of a product ending that day.
    day = local_day(a.branch, a.event.occurred_at)
    ended = sorted(p.code for p in offered if p.ended(day))
    if ended:
        raise Rejected(
            "product_ended",
            _(
                "The sale of %(codes)s has ended: it can no longer be recommended.",
                codes=", ".join(ended),
            ),
        )


@event_type(
    "visit.recommended",
    kind="visit",
    payload=VisitRecommended,
    roles=LOBBY_ROLES,
    also_read_by=DESK_READERS,
    check=_check_recommended,
    description="Products from the branch's catalogue were recommended; the response.",
)
@step
def recommended(a: Applied) -> None:
    p: VisitRecommended = a.payload
    visit = _visit(a)
    without_need = not visit.needs
    for code in dict.fromkeys(p.products):
        db.session.add(
            VisitRecommendation(
                visit_id=visit.id,
                event_id=a.event.id,
                branch_id=a.branch.id,
                product_code=code,
                response=p.response,
                recommended_at=a.event.occurred_at,
                without_need=without_need,
                confirmed_without_need=bool(p.confirmed_without_need),
            )
        )


@event_type(
    "visit.funds_kept",
    kind="visit",
    payload=VisitFundsKept,
    roles=LOBBY_ROLES,
    description="Funds kept (挽留成功): the customer who meant to move money to another "
    "bank kept it here; the amount band. A later one corrects it.",
)
@step
def funds_kept(a: Applied) -> None:
    _visit(a).funds_kept_band = a.payload.amount_band


@event_type(
    "visit.pitched",
    kind="visit",
    payload=VisitPitched,
    roles={Role.TELLER},
    also_read_by=LOBBY_AND_DESK,
    check=lambda a: check_products(a, {a.payload.product}),
    description="The teller's one-sentence pitch at the counter (一句话营销): the "
    "product and the customer's response.",
)
@step
def pitched(a: Applied) -> None:
    p: VisitPitched = a.payload
    db.session.add(
        VisitRecommendation(
            visit_id=a.subject.id,
            event_id=a.event.id,
            branch_id=a.branch.id,
            product_code=p.product,
            response=p.response,
            recommended_at=a.event.occurred_at,
            without_need=False,
            confirmed_without_need=False,
            at_counter=True,
        )
    )


@event_type(
    "visit.referred",
    kind="visit",
    payload=VisitReferred,
    roles=LOBBY_AND_COUNTER,
    also_read_by=DESK_READERS,
    description="Handed to a wealth manager or the corporate desk; the referral itself "
    "is the subject of referral.created.",
)
@step
def referred(a: Applied) -> None:
    p: VisitReferred = a.payload
    visit = _visit(a)
    visit.referral_id = p.referral_id
    visit.referred_to = p.to


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
    visit = _visit(a)
    if visit.called_at is None:
        visit.called_at = a.event.occurred_at
        visit.called_by_id = a.event.user_id
    if a.payload.counter:
        visit.called_counter = a.payload.counter


def _check_claimed(a: Applied) -> None:
    visit = _visit(a)
    if visit.claimed_by_id is not None and visit.claimed_by_id != a.recorder.id:
        raise Rejected(
            "already_taken", _("Another wealth manager is already talking to this customer.")
        )


@event_type(
    "visit.claimed",
    kind="visit",
    payload=VisitClaimed,
    roles={Role.WEALTH_MANAGER},
    also_read_by=LOBBY_ROLES,
    check=_check_claimed,
    description="A wealth manager goes to talk to a waiting customer (巡视等候区); a "
    "second wealth manager gets already_taken.",
)
def claimed(a: Applied) -> None:
    visit = _visit(a)
    if visit.claimed_by_id is None:  # the first claim in fold order, as the check judged
        visit.claimed_by_id = a.event.user_id
        visit.claimed_at = a.event.occurred_at


def _check_wealth_outcome(a: Applied) -> None:
    if a.payload.product is not None:
        check_products(a, {a.payload.product})


@event_type(
    "visit.wealth_outcome",
    kind="visit",
    payload=VisitWealthOutcome,
    roles={Role.WEALTH_MANAGER},
    also_read_by=LOBBY_ROLES,
    check=_check_wealth_outcome,
    description="What came of a wealth manager's talk with a waiting customer; a later "
    "one corrects an earlier one.",
)
def wealth_outcome(a: Applied) -> None:
    p: VisitWealthOutcome = a.payload
    visit = _visit(a)
    visit.claimed_by_id = visit.claimed_by_id or a.event.user_id
    visit.claimed_at = visit.claimed_at or a.event.occurred_at
    visit.wealth_result, visit.wealth_amount_band, visit.wealth_product = (
        p.result,
        p.amount_band,
        p.product,
    )


@event_type(
    "visit.complaint",
    kind="visit",
    payload=VisitComplaint,
    roles=LOBBY_ROLES,
    description="The customer complained; the note says what about.",
)
@step
def complaint(a: Applied) -> None:
    visit = _visit(a)
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
