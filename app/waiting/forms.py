"""The wealth manager's outcome of a conversation with a waiting customer.

What an outcome may hold is the event's to judge (`visit.wealth_outcome`,
through `events.record`); the form reads what the page posted, under its names.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField

from ..form_helpers import text


class WealthOutcomeForm(FlaskForm):
    result = StringField(filters=[text])
    amount_band = StringField(filters=[text])
    product = StringField(filters=[text])

    def payload(self) -> dict:
        payload: dict = {"result": self.result.data}
        if self.result.data == "sold":
            for field in (self.amount_band, self.product):
                if field.data:
                    payload[field.name] = field.data
        return payload
