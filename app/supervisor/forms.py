"""The supervisor's small forms: a spot-check's answer and taking a focus product off.

(The focus and target forms live beside their page, in app/supervisor/focus.py.)
The field names are those the pages post; the messages are the screens' own.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from ..form_helpers import stripped, text
from .spotchecks import CHECKLIST_ANSWERS, VISIT_ANSWERS


class SpotCheckForm(FlaskForm):
    """What the supervisor found on a visit or a checklist item (`kind`, `id`, `run`)."""

    kind = StringField(filters=[text])
    target_id = StringField(name="id", filters=[text])
    run = StringField(filters=[text])
    answer = StringField(filters=[text])
    note = StringField(filters=[stripped])

    def validate_answer(self, field) -> None:
        allowed = CHECKLIST_ANSWERS if self.kind.data == "checklist_item" else VISIT_ANSWERS
        if field.data not in allowed:
            raise ValidationError(_("Choose what you found."))


class FocusRemoveForm(FlaskForm):
    """Which focus product to take off: its id, in ASCII digits."""

    focus_id = StringField(filters=[text])

    def validate_focus_id(self, field) -> None:
        if not (field.data.isascii() and field.data.isdigit()):
            raise ValidationError("focus_id")
