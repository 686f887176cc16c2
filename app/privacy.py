"""Keep customers' personal data out of free text.

Datang never asks for a name, an ID number or a phone number. A note that
carries one anyway (a mainland resident ID with a valid check digit, a bank
card number passing the Luhn check, a mainland mobile number) is refused;
amounts, ticket numbers and times pass.
"""
from __future__ import annotations

import re
from typing import Annotated

from flask_babel import gettext as _
from pydantic import AfterValidator

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")
_CARD_RE = re.compile(r"(?<![\d-])(\d(?:[ -]?\d){15,18})(?![\d])")
_MOBILE_RE = re.compile(r"(?<![\d])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")


def is_resident_id(candidate: str) -> bool:
    body, check = candidate[:17], candidate[17].upper()
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == check


def passes_luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def personal_data_in(text: str) -> str | None:
    """The kind of personal data found in `text` ('id', 'card', 'mobile'), or None."""
    for match in _ID_RE.finditer(text):
        if is_resident_id(match.group(1)):
            return "id"
    for match in _CARD_RE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group(1))
        if 16 <= len(digits) <= 19 and passes_luhn(digits):
            return "card"
    if _MOBILE_RE.search(text):
        return "mobile"
    return None


def refusal_message(kind: str) -> str:
    return {
        "id": _("This note looks like it holds an ID card number. Do not record customers' "
                "personal data."),
        "card": _("This note looks like it holds a bank card number. Do not record customers' "
                  "personal data."),
        "mobile": _("This note looks like it holds a mobile phone number. Do not record "
                    "customers' personal data."),
    }[kind]


def check_free_text(text: str) -> str:
    kind = personal_data_in(text)
    if kind:
        raise ValueError(refusal_message(kind))
    return text


# A payload field type for any free-text note.
FreeText = Annotated[str, AfterValidator(check_free_text)]
