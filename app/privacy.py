"""Keep customers' personal data out of free text.

Datang never asks for a name, an ID number or a phone number. A note that
carries one anyway (a mainland resident ID with a valid check digit, an old
15-digit one with a real birth date, a bank card number passing the Luhn
check, a mainland mobile number) is refused; amounts, ticket numbers and times
pass.

The note is normalised before matching, so the usual disguises do not help:
NFKC (full-width digits), Chinese digits (一二三…〇/零) read as digits, and
spaces, dashes, dots, slashes, zero-width and no-break spaces between two
digits dropped. tests/test_privacy.py keeps the table of disguises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, get_args

from flask_babel import gettext as _
from pydantic import AfterValidator

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")
# A resident ID of before 1999: area (6), birth date as YYMMDD (6), sequence (3).
_OLD_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{15})(?![0-9A-Za-z])")
_CARD_RE = re.compile(r"(?<![\d-])(\d(?:[ -]?\d){15,18})(?![\d])")
_MOBILE_RE = re.compile(r"(?<![\d])(?:(?:\+|00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
# The first two digits of a province's area codes (GB/T 2260).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
_CHINESE_DIGITS = str.maketrans("〇零幺一二三四五六七八九", "001123456789")
# What may stand between two digits of a number written to slip past the guard.
_BETWEEN_DIGITS = re.compile(
    r"(?<=\d)[\s\-\u2010-\u2015\u2212.\u00b7/\u200b-\u200d\u2060\ufeff]+(?=\d)"
)


def normalise(text: str) -> str:
    """`text` as the guard reads it: see the module's docstring."""
    text = unicodedata.normalize("NFKC", text).translate(_CHINESE_DIGITS)
    return _BETWEEN_DIGITS.sub("", text)


def is_old_resident_id(candidate: str) -> bool:
    if candidate[:2] not in _PROVINCES:
        return False
    try:
        date(1900 + int(candidate[6:8]), int(candidate[8:10]), int(candidate[10:12]))
    except ValueError:
        return False
    return True


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
    text = normalise(text)
    for match in _ID_RE.finditer(text):
        if is_resident_id(match.group(1)):
            return "id"
    for match in _OLD_ID_RE.finditer(text):
        if is_old_resident_id(match.group(1)):
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
        "id": _(
            "This note looks like it holds an ID card number. Do not record customers' "
            "personal data."
        ),
        "card": _(
            "This note looks like it holds a bank card number. Do not record customers' "
            "personal data."
        ),
        "mobile": _(
            "This note looks like it holds a mobile phone number. Do not record "
            "customers' personal data."
        ),
    }[kind]


def check_free_text(text: str) -> str:
    kind = personal_data_in(text)
    if kind:
        raise ValueError(refusal_message(kind))
    return text


# A payload field type for any free-text note.
FreeText = Annotated[str, AfterValidator(check_free_text)]


def free_text_fields(model) -> frozenset[str]:
    """The fields of a pydantic model typed `FreeText` (or `Optional[FreeText]`)."""

    def holds_free_text(annotation) -> bool:
        if isinstance(annotation, AfterValidator):
            return annotation.func is check_free_text
        return any(holds_free_text(arg) for arg in get_args(annotation))

    return frozenset(
        name
        for name, field in model.model_fields.items()
        if holds_free_text(field.annotation) or any(holds_free_text(m) for m in field.metadata)
    )
