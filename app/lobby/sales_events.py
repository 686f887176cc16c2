"""The selling steps of a visit and how they fold into its `Visit`: products
recommended (`visit.recommended`), the teller's one-sentence pitch
(`visit.pitched`), funds kept (`visit.funds_kept`), the hand-off to a wealth
manager (`visit.referred`), and a wealth manager's talk in the waiting area
(`visit.claimed`, `visit.wealth_outcome`). Documented in docs/events-lobby.md.

Registered when app/lobby/events.py is imported (it imports this module); the
rules every visit fold keeps are in its docstring.
"""

from __future__ import annotations

from flask_babel import gettext as _
from pydantic import Field, field_validator

from ..events import Applied, Payload, Rejected, event_type
from ..extensions import db
from ..models import Role, VisitRecommendation
from ..privacy import FreeText
from ..sales import SaleOutcome, check_products, check_sold_product
from ..vocabulary import AmountBand, ReferTo, Response
from .visit_fold import (
    DESK_READERS,
    LOBBY_AND_COUNTER,
    LOBBY_AND_DESK,
    LOBBY_ROLES,
    canonical_uuid,
    step,
    visit_of,
)

# --- payloads ---------------------------------------------------------------


class VisitRecommended(Payload):
    products: list[str] = Field(min_length=1, max_length=5)
    response: Response
    confirmed_without_need: bool | None = None


class VisitFundsKept(Payload):
    """The customer kept the money with us instead of moving it away (挽留成功)."""

    amount_band: AmountBand


class VisitPitched(Payload):
    """The teller's one-sentence pitch (一句话营销): one product and the customer's response."""

    product: str = Field(min_length=1, max_length=32)
    response: Response


class VisitReferred(Payload):
    referral_id: str = Field(max_length=36)
    to: ReferTo
    note: FreeText | None = Field(default=None, max_length=300)

    _check_id = field_validator("referral_id")(classmethod(lambda cls, v: canonical_uuid(v)))


class VisitClaimed(Payload):
    pass


class VisitWealthOutcome(SaleOutcome):
    pass


# --- the folds --------------------------------------------------------------


def _check_recommended(a: Applied) -> None:
    check_products(a, set(a.payload.products))


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
    visit = visit_of(a)
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
    visit_of(a).funds_kept_band = a.payload.amount_band


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
    visit = visit_of(a)
    visit.referral_id = p.referral_id
    visit.referred_to = p.to


def _check_claimed(a: Applied) -> None:
    visit = visit_of(a)
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
    visit = visit_of(a)
    if visit.claimed_by_id is None:  # the first claim in fold order, as the check judged
        visit.claimed_by_id = a.event.user_id
        visit.claimed_at = a.event.occurred_at


@event_type(
    "visit.wealth_outcome",
    kind="visit",
    payload=VisitWealthOutcome,
    roles={Role.WEALTH_MANAGER},
    also_read_by=LOBBY_ROLES,
    check=check_sold_product,
    description="What came of a wealth manager's talk with a waiting customer; a later "
    "one corrects an earlier one.",
)
def wealth_outcome(a: Applied) -> None:
    p: VisitWealthOutcome = a.payload
    visit = visit_of(a)
    visit.claimed_by_id = visit.claimed_by_id or a.event.user_id
    visit.claimed_at = visit.claimed_at or a.event.occurred_at
    visit.wealth_result, visit.wealth_amount_band, visit.wealth_product = (
        p.result,
        p.amount_band,
        p.product,
    )
