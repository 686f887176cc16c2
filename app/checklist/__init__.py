"""The pre-opening checklist (营业前准备): the tablet page, its history, faults, and the
admin's equipment inventory and checklist template.

Public surface: a branch's run of a day and its answers, open faults, an item's label
(the supervisor's today page and spot-checks read them).
"""

from flask import Blueprint, Flask

from ..demo import register_seed
from .demo import seed_checklist
from .inventory import item_label
from .queries import (
    critical_open_at_opening,
    entries_of,
    get_run,
    latest_entries,
    open_faults,
    run_view,
)

bp = Blueprint("checklist", __name__)

__all__ = [
    "bp",
    "critical_open_at_opening",
    "entries_of",
    "get_run",
    "init_app",
    "item_label",
    "latest_entries",
    "open_faults",
    "run_view",
]


def init_app(app: Flask) -> None:
    """Register the checklist's pages, event types and demo data on `app`."""
    # Imported when the app is built, not with the package: the pages' @bp.route
    # decorators fill the blueprint and `events`' @event_type decorators register the
    # checklist.* and fault.* types (before any event is applied); the pages import
    # other features' public surfaces, which in turn may import this package.
    from . import admin_routes, events, routes  # noqa: F401

    register_seed(app, seed_checklist)
    app.register_blueprint(bp)
