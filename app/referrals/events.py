"""The `referral.*` event types: a hand-off to a wealth manager and what came of it.

The lobby tablet records `visit.referred` on the visit and `referral.created`
for the new referral; a teller records only `referral.created`. A wealth
manager takes it (`referral.accepted`, "on my way"), may hand it to a
colleague (`referral.reassigned`) and records `referral.outcome`.

Who may take a referral is judged when the event arrives (`check`), against
the referral as it stands: the first wealth manager whose accept reaches the
server wins, a later one is told `already_taken`. The fold agrees with that:
an accept changes only a referral that is still open, so a rebuild in
occurred_at order (an offline tablet's late cancel) keeps the same taker.
Wealth managers' pages post online, so their events carry the server's time
and sort in the order they arrived.
"""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete, select

from ..events import (
    Applied,
    Payload,
    Rejected,
    event_type,
    find_row,
    new_row,
    queue_row,
    register_aggregate,
)
from ..extensions import db
from ..models import Referral, Role, Subject, User, Visit
from ..privacy import FreeText
from ..sales import SaleOutcome, check_sold_product
from ..vocabulary import Purpose, ReferTo, Segment

SENDER_ROLES = {Role.LOBBY_MANAGER, Role.TELLER}
RECEIVER_ROLES = {Role.WEALTH_MANAGER}
# Senders and receivers all act on a referral, so every referral event declares
# `private_fields=()`: they read it with its hand-off note (the desk shows it).


class ReferralCreated(Payload):
    visit_id: str | None = Field(default=None, max_length=36)
    to: ReferTo
    note: FreeText | None = Field(default=None, max_length=300)
    purpose: Purpose | None = None
    segment: Segment | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=64)
    # 客户同意到理财区. Absent: not recorded (clients before it existed); false: refused,
    # since a customer who did not agree is not sent to the wealth area.
    consent: bool | None = None

    @field_validator("visit_id")
    @classmethod
    def _uuid(cls, value):
        if value is None:
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID") from None

    @model_validator(mode="after")
    def _wealth_only(self):
        if self.assignee is not None and self.to != "wealth":
            raise ValueError(_("Only a referral to a wealth manager names one."))
        if self.consent is False:
            raise ValueError(_("Refer a customer only when they agree to go."))
        return self


class ReferralAccepted(Payload):
    pass


class ReferralReassigned(Payload):
    assignee: str = Field(min_length=1, max_length=64)
    note: FreeText | None = Field(default=None, max_length=300)


class ReferralOutcome(SaleOutcome):
    note: FreeText | None = Field(default=None, max_length=300)


class ReferralCancelled(Payload):
    note: FreeText | None = Field(default=None, max_length=300)


def _reset(subject: Subject) -> None:
    db.session.execute(delete(Referral).where(Referral.id == subject.id))


register_aggregate("referral", _reset)


def wealth_manager(username: str, branch_id: int) -> User | None:
    """The active wealth manager of the branch called `username`, if there is one."""
    user = db.session.scalar(select(User).where(User.username == username))
    if (
        user is None
        or not user.active
        or user.role is not Role.WEALTH_MANAGER
        or not user.can_read(branch_id)
    ):
        return None
    return user


def user_id_of(username: str | None) -> int | None:
    """The id of a user named in a stored event (a fold never refuses: it was judged)."""
    if username is None:
        return None
    return db.session.scalar(select(User.id).where(User.username == username))


def _check_assignee(a: Applied) -> None:
    username = a.payload.assignee
    if username is not None and wealth_manager(username, a.branch.id) is None:
        raise Rejected(
            "unknown_assignee", _("%(name)s is not a wealth manager of this branch.", name=username)
        )


def _check_created(a: Applied) -> None:
    _check_assignee(a)
    visit_id = a.payload.visit_id
    if visit_id is None:
        return
    visit = find_row(Visit, visit_id)  # greeted maybe earlier in this batch, not flushed yet
    if visit is None or visit.branch_id != a.branch.id:
        raise Rejected(
            "unknown_visit", _("The visit of this referral is not known in this branch.")
        )


def _referral(a: Applied) -> Referral:
    return find_row(Referral, a.subject.id)


def _check_still_open(referral: Referral) -> None:
    if not referral.is_open:
        raise Rejected("referral_closed", _("This referral is already finished."))


def _check_accepted(a: Applied) -> None:
    referral = _referral(a)
    _check_still_open(referral)
    if referral.accepted_by_id is not None and referral.accepted_by_id != a.recorder.id:
        raise Rejected("already_taken", _("Another wealth manager has taken this referral."))
    if referral.assignee_id is not None and referral.assignee_id != a.recorder.id:
        raise Rejected("not_assignee", _("This referral is meant for another wealth manager."))


def _check_reassigned(a: Applied) -> None:
    referral = _referral(a)
    _check_still_open(referral)
    holder = referral.accepted_by_id or referral.assignee_id
    if holder is not None and holder != a.recorder.id:
        raise Rejected(
            "not_yours", _("Only the wealth manager who has this referral may hand it on.")
        )
    _check_assignee(a)


def _check_outcome(a: Applied) -> None:
    # What came of a referral is for whoever has it: its taker, else its assignee,
    # else (open to all) any wealth manager of the branch; a correction, for the
    # one who recorded the outcome. A cancelled one is closed to all, as for a
    # taker, and the figures no longer count it.
    referral = _referral(a)
    if referral.status == "cancelled":
        raise Rejected("referral_closed", _("This referral is already finished."))
    holder = (
        referral.outcome_by_id
        if referral.status == "done"
        else referral.accepted_by_id or referral.assignee_id
    )
    if holder is not None and holder != a.recorder.id:
        raise Rejected(
            "not_yours",
            _("Only the wealth manager who has this referral may record what came of it."),
        )
    check_sold_product(a)


@event_type(
    "referral.created",
    kind="referral",
    payload=ReferralCreated,
    roles=SENDER_ROLES,
    also_read_by=RECEIVER_ROLES,
    private_fields=(),
    creates_subject=True,
    check=_check_created,
    description="A customer was handed to a wealth manager (a named one with "
    "`assignee`) or the corporate desk.",
)
def created(a: Applied) -> None:
    p: ReferralCreated = a.payload
    queue_row(
        new_row(
            Referral,
            id=a.subject.id,
            branch_id=a.branch.id,
            visit_id=p.visit_id,
            to=p.to,
            note=p.note,
            purpose=p.purpose,
            segment=p.segment,
            created_at=a.event.occurred_at,
            created_by_id=a.event.user_id,
            status="open",
            assignee_id=user_id_of(p.assignee),
            consent=p.consent,
        )
    )


@event_type(
    "referral.accepted",
    kind="referral",
    payload=ReferralAccepted,
    roles=RECEIVER_ROLES,
    also_read_by=SENDER_ROLES,
    private_fields=(),
    check=_check_accepted,
    description='A wealth manager takes the referral ("on my way"); a second taker '
    "gets already_taken, one it is not assigned to not_assignee.",
)
def accepted(a: Applied) -> None:
    referral = _referral(a)
    if referral.status == "open":  # the first accept in fold order wins
        referral.status = "accepted"
        referral.accepted_at = a.event.occurred_at
        referral.accepted_by_id = a.event.user_id


@event_type(
    "referral.reassigned",
    kind="referral",
    payload=ReferralReassigned,
    roles=RECEIVER_ROLES,
    also_read_by=SENDER_ROLES,
    private_fields=(),
    check=_check_reassigned,
    description="Handed to a colleague: open again, assigned to the new wealth manager.",
)
def reassigned(a: Applied) -> None:
    referral = _referral(a)
    if referral.is_open:
        referral.status = "open"
        referral.assignee_id = user_id_of(a.payload.assignee)
        referral.accepted_at = referral.accepted_by_id = None


@event_type(
    "referral.outcome",
    kind="referral",
    payload=ReferralOutcome,
    roles=RECEIVER_ROLES,
    also_read_by=SENDER_ROLES,
    private_fields=(),
    check=_check_outcome,
    description="What came of the referral; a later outcome corrects an earlier one.",
)
def outcome(a: Applied) -> None:
    p: ReferralOutcome = a.payload
    referral = _referral(a)
    referral.status = "done"
    referral.result = p.result
    referral.amount_band = p.amount_band
    referral.product = p.product
    referral.outcome_note = p.note
    referral.outcome_at = a.event.occurred_at
    referral.outcome_by_id = a.event.user_id


@event_type(
    "referral.cancelled",
    kind="referral",
    payload=ReferralCancelled,
    roles=SENDER_ROLES,
    also_read_by=RECEIVER_ROLES,
    private_fields=(),
    description="The sender took the referral back (e.g. its visit.referred was undone).",
)
def cancelled(a: Applied) -> None:
    referral = _referral(a)
    if referral.is_open:
        referral.status = "cancelled"
