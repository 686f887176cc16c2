"""The `referral.*` event types: a hand-off to a wealth manager and what came of it.

The lobby tablet records `visit.referred` on the visit and `referral.created`
for the new referral; a teller records only `referral.created`. The wealth
manager records `referral.outcome`; until then the referral stays open.
"""
from __future__ import annotations

import uuid
from typing import Optional

from flask_babel import gettext as _
from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete

from ..events import Applied, Payload, Rejected, add, event_type, get, new_row, register_aggregate
from ..extensions import db
from ..lobby.codes import AmountBand, Purpose, ReferralResult, ReferTo, Segment
from ..models import Referral, Role, Subject, Visit
from ..privacy import FreeText

SENDER_ROLES = {Role.LOBBY_MANAGER, Role.TELLER}
RECEIVER_ROLES = {Role.WEALTH_MANAGER}
# Senders and receivers all act on a referral, notes included (the desk shows them).
ALL_READ = {"private_fields": ()}


class ReferralCreated(Payload):
    visit_id: Optional[str] = Field(default=None, max_length=36)
    to: ReferTo
    note: Optional[FreeText] = Field(default=None, max_length=300)
    purpose: Optional[Purpose] = None
    segment: Optional[Segment] = None

    @field_validator("visit_id")
    @classmethod
    def _uuid(cls, value):
        if value is None:
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID") from None


class ReferralOutcome(Payload):
    result: ReferralResult
    amount_band: Optional[AmountBand] = None
    note: Optional[FreeText] = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _band_with_sale(self):
        if self.result == "sold" and self.amount_band is None:
            raise ValueError(_("A sale needs its amount band."))
        if self.result != "sold" and self.amount_band is not None:
            raise ValueError(_("An amount band goes only with a sale."))
        return self


class ReferralCancelled(Payload):
    note: Optional[FreeText] = Field(default=None, max_length=300)


def _reset(subject: Subject) -> None:
    db.session.execute(delete(Referral).where(Referral.id == subject.id))


register_aggregate("referral", _reset)


def _check_created(a: Applied) -> None:
    visit_id = a.payload.visit_id
    if visit_id is None:
        return
    visit = get(Visit, visit_id)  # greeted maybe earlier in this batch, not flushed yet
    if visit is None or visit.branch_id != a.branch.id:
        raise Rejected("unknown_visit", _("The visit of this referral is not known in this "
                                          "branch."))


@event_type("referral.created", kind="referral", payload=ReferralCreated, roles=SENDER_ROLES,
            also_read_by=RECEIVER_ROLES, **ALL_READ, creates_subject=True, check=_check_created,
            description="A customer was handed to a wealth manager or the corporate desk.")
def created(a: Applied) -> None:
    p: ReferralCreated = a.payload
    add(new_row(
        Referral, id=a.subject.id, branch_id=a.branch.id, visit_id=p.visit_id, to=p.to,
        note=p.note, purpose=p.purpose, segment=p.segment, created_at=a.event.occurred_at,
        created_by_id=a.event.user_id, status="open"))


@event_type("referral.outcome", kind="referral", payload=ReferralOutcome, roles=RECEIVER_ROLES,
            also_read_by=SENDER_ROLES, **ALL_READ,
            description="What came of the referral; a later outcome corrects an earlier one.")
def outcome(a: Applied) -> None:
    p: ReferralOutcome = a.payload
    referral = get(Referral, a.subject.id)
    referral.status = "done"
    referral.result = p.result
    referral.amount_band = p.amount_band
    referral.outcome_note = p.note
    referral.outcome_at = a.event.occurred_at
    referral.outcome_by_id = a.event.user_id


@event_type("referral.cancelled", kind="referral", payload=ReferralCancelled,
            roles=SENDER_ROLES, also_read_by=RECEIVER_ROLES, **ALL_READ,
            description="The sender took the referral back (e.g. its visit.referred was undone).")
def cancelled(a: Applied) -> None:
    referral = get(Referral, a.subject.id)
    if referral.status == "open":
        referral.status = "cancelled"
