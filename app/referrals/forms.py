"""The desk's referral forms: a teller's referral, a wealth manager's outcome and hand-over.

What a referral may hold is the event's to judge (`referral.created`,
`referral.outcome` in app/referrals/events.py, through `events.record`); these
forms read what the page posted, under the names it posts, and hold the one
rule the event cannot see: the customer agreed to go to the wealth area.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from ..form_helpers import SaleOutcomeForm, stripped, text


class ReferralForm(FlaskForm):
    """A teller hands a customer at the counter to a wealth manager (or another desk)."""

    to = StringField(filters=[text])
    purpose = StringField(filters=[text])
    segment = StringField(filters=[text])
    assignee = StringField(filters=[text])
    consent = StringField(filters=[text])
    note = StringField(filters=[text])  # drawn again as typed; stripped in the payload

    def validate_consent(self, field) -> None:
        if self.to.data == "wealth" and field.data != "yes":
            raise ValidationError(
                _("Ask the customer first: refer only when they agree to go to the wealth area.")
            )

    def payload(self) -> dict:
        payload: dict = {"to": self.to.data}
        for field in (self.purpose, self.segment, self.assignee):
            if field.data:
                payload[field.name] = field.data
        if self.note.data.strip():
            payload["note"] = self.note.data.strip()
        if self.to.data == "wealth":
            payload["consent"] = True
        return payload


class OutcomeForm(SaleOutcomeForm):
    """How a referral ended, with a note for the lobby manager."""

    note = StringField(filters=[stripped])

    def payload(self) -> dict:
        payload = super().payload()
        if self.note.data:
            payload["note"] = self.note.data
        return payload


class ReassignForm(FlaskForm):
    assignee = StringField(filters=[text])
