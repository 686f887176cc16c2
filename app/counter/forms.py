"""The teller's steps on a visit: call it to a counter, pitch a product, divert it, refer it.

What each step may hold is its event's to judge (`visit.called`, `visit.pitched`,
`visit.triaged`, `referral.created` with `visit.referred`, through `events.record`);
the form reads what the page posted, under its names.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField

from ..form_helpers import stripped, text


class CounterStepForm(FlaskForm):
    counter = StringField(filters=[stripped])  # call
    product = StringField(filters=[text])  # pitch
    response = StringField(filters=[text])
    machine = StringField(filters=[text])  # divert
    consent = StringField(filters=[text])  # refer
    assignee = StringField(filters=[text])
    note = StringField(filters=[stripped])
