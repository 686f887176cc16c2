"""Sentences for people, in their language, from pydantic's validation errors."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of `exc` as a sentence for people, in their language.

    pydantic's own messages are English only; the common kinds get a message of
    ours, and anything else keeps pydantic's wording after the field's name.
    """
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    kind, ctx = first["type"], first.get("ctx") or {}
    if kind == "extra_forbidden":
        return _("Unknown field: %(field)s", field=where)
    if kind == "missing":
        return _("Missing field: %(field)s", field=where)
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return _("%(field)s must be one of: %(allowed)s", field=where, allowed=allowed)
    text = isinstance(first.get("input"), str)
    if kind == "string_too_long" or (kind == "too_long" and text):
        return _(
            "%(field)s may have at most %(n)s characters.", field=where, n=ctx.get("max_length")
        )
    if kind == "string_too_short" or (kind == "too_short" and text):
        return _(
            "%(field)s must have at least %(n)s characters.", field=where, n=ctx.get("min_length")
        )
    if kind == "too_long":
        return _("%(field)s may hold at most %(n)s items.", field=where, n=ctx.get("max_length"))
    if kind == "too_short":
        return _("%(field)s must hold at least %(n)s items.", field=where, n=ctx.get("min_length"))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("%(field)s must be a whole number.", field=where)
    if kind in ("greater_than_equal", "greater_than"):
        return _("%(field)s must be at least %(n)s.", field=where, n=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("%(field)s must be at most %(n)s.", field=where, n=ctx.get("le", ctx.get("lt")))
    if kind in ("string_type", "string_sub_type"):
        return _("%(field)s must be text.", field=where)
    if kind in ("bool_type", "bool_parsing"):
        return _("%(field)s must be true or false.", field=where)
    if kind in ("list_type", "tuple_type", "set_type"):
        return _("%(field)s must be a list.", field=where)
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("%(field)s must be an object.", field=where)
    if kind in ("float_type", "float_parsing", "decimal_type", "decimal_parsing"):
        return _("%(field)s must be a number.", field=where)
    if kind == "value_error":  # our own validators: their message is already translated
        reason = str(ctx.get("error") or first["msg"].removeprefix("Value error, "))
        return _("Invalid value for %(field)s: %(reason)s", field=where, reason=reason)
    return _("Invalid value for %(field)s: %(reason)s", field=where, reason=first["msg"])
