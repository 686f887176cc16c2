"""The admin's checklist forms: equipment, leaflets and the branch's own template items.

The field names are those the pages post (and tests and scripts with them).
The messages are the screens' own, each a translation looked up when the
form is checked; a page shows the first message of each field
(`app.form_helpers.first_errors`).
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import StopValidation, ValidationError

from ..extensions import db
from ..form_helpers import FlagField, stripped
from ..models import Branch, Product
from .inventory import EQUIPMENT_KINDS, MAX_LEAFLET_COUNT


class Filled:
    """Something must be entered (after spaces are trimmed)."""

    def __call__(self, form, field) -> None:
        if not field.data:
            raise StopValidation(_("This field is required."))


class AtMost:
    """At most `limit` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form, field) -> None:
        if len(field.data or "") > self.limit:
            raise ValidationError(_("At most %(n)d characters.", n=self.limit))


class EquipmentForm(FlaskForm):
    name = StringField(filters=[stripped], validators=[Filled(), AtMost(100)])
    name_en = StringField(filters=[stripped], validators=[AtMost(100)])
    critical = FlagField()
    active = FlagField()  # read when a piece is edited


class NewEquipmentForm(EquipmentForm):
    kind = StringField()

    def validate_kind(self, field) -> None:
        if field.data not in EQUIPMENT_KINDS:
            raise ValidationError(_("Choose a kind of equipment."))


class LeafletForm(FlaskForm):
    """A leaflet of `branch`; `product_id` must name one of that branch's products."""

    name = StringField(filters=[stripped], validators=[Filled(), AtMost(100)])
    name_en = StringField(filters=[stripped], validators=[AtMost(100)])
    min_stock = StringField(filters=[stripped])
    ends_on = StringField(filters=[stripped])
    product_id = StringField(filters=[stripped])
    active = FlagField()  # read when a leaflet is edited

    def __init__(self, branch: Branch, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.branch = branch
        self.min_stock_value = 0
        self.ends_on_value: date | None = None
        self.product_id_value: int | None = None

    def validate_min_stock(self, field) -> None:
        raw = field.data
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > MAX_LEAFLET_COUNT:
            raise ValidationError(_("Enter a whole number from 0 to 100000."))
        self.min_stock_value = int(raw)

    def validate_ends_on(self, field) -> None:
        if not field.data:
            return
        try:
            self.ends_on_value = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(_("Enter a date as YYYY-MM-DD.")) from None

    def validate_product_id(self, field) -> None:
        raw = field.data
        if not raw:
            return
        whole = raw.isascii() and raw.isdigit() and len(raw) <= 9
        product = db.session.get(Product, int(raw)) if whole else None
        if product is None or product.branch_id != self.branch.id:
            raise ValidationError(_("Choose one of this branch's products."))
        self.product_id_value = product.id

    def values(self) -> dict:
        """The leaflet's columns, once the form is valid."""
        return {
            "name": self.name.data,
            "name_en": self.name_en.data,
            "min_stock": self.min_stock_value,
            "ends_on": self.ends_on_value,
            "product_id": self.product_id_value,
        }


class TemplateKindForm(FlaskForm):
    """One of the nine kinds: on or off, critical or not."""

    enabled = FlagField()
    critical = FlagField()


class CustomItemForm(FlaskForm):
    """An item of the branch's own."""

    label = StringField(filters=[stripped], validators=[Filled(), AtMost(200)])
    label_en = StringField(filters=[stripped], validators=[AtMost(200)])
    critical = FlagField()
    enabled = FlagField()  # read when an item is edited
