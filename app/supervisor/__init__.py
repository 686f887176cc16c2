"""The supervisor's view: today, figures, spot-checks and exports (docs/product-rules.md §3)."""

from flask import Blueprint

bp = Blueprint("supervisor", __name__, cli_group=None)

from . import commands, events, focus, projection, routes  # noqa: E402,F401
