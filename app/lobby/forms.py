"""The lobby's forms posted from desk pages: a complaint opened, answered or closed.

What a complaint may hold is the event's to judge (`complaint.opened` and its
steps in app/lobby/complaints.py, through `events.record`); the forms read what
the page posted, under its names, and where to go back to.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField

from ..form_helpers import stripped, text


class ComplaintStepForm(FlaskForm):
    """A complaint answered or resolved; `back` names the page the form was on."""

    note = StringField(filters=[stripped])
    back = StringField(filters=[text])


class ComplaintForm(ComplaintStepForm):
    category = StringField(filters=[text])
    source = StringField(filters=[text])  # empty: where the person who opens it works
