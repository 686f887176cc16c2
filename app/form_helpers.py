"""What the features' Flask-WTF forms share: filters, a checkbox field, the first errors.

Each feature's forms live in its own `forms.py`; the field names there are those
its pages (and tests and scripts) post, so they never change with the form.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, StringField

FLAG_VALUES = ("1", "on", "true", "y")


def text(value: str | None) -> str:
    """A field not posted reads as "", as `request.form.get(name, "")` did."""
    return value or ""


def stripped(value: str | None) -> str:
    return (value or "").strip()


class FlagField(Field):
    """A checkbox: on only for the values a checkbox or a script sends for "yes"."""

    data: bool

    def process_formdata(self, valuelist: list) -> None:
        self.data = bool(valuelist) and valuelist[0] in FLAG_VALUES

    def process_data(self, value) -> None:
        self.data = bool(value)


class SaleOutcomeForm(FlaskForm):
    """How a wealth manager's conversation ended (a referral's or a waiting customer's):
    the amount band and the product belong to a sale only."""

    result = StringField(filters=[text])
    amount_band = StringField(filters=[text])
    product = StringField(filters=[text])

    def payload(self) -> dict:
        payload: dict = {"result": self.result.data}
        # The band and product selects sit beside every button; they belong to a sale only.
        if self.result.data == "sold":
            for field in (self.amount_band, self.product):
                if field.data:
                    payload[field.name] = field.data
        return payload


def first_errors(form: FlaskForm) -> dict[str, str]:
    """The first message of each field that has one, by the field's name."""
    return {field.name: field.errors[0] for field in form if field.errors}


def filled_in(form: FlaskForm) -> dict[str, str]:
    """The values posted, for a form drawn again with them: only those not empty."""
    return {field.name: field.data for field in form if isinstance(field.data, str) and field.data}
