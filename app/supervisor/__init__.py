"""The supervisor's view: today, figures, spot-checks and exports (docs/product-rules.md §3).

Public surface (what other features import): the day's focus products and targets.
"""

from flask import Blueprint, Flask

from ..events import EVENT_OBSERVERS
from .projection import observe
from .targets import focus_first, today_lines

bp = Blueprint("supervisor", __name__, cli_group=None)

__all__ = ["bp", "focus_first", "init_app", "today_lines"]


def init_app(app: Flask) -> None:
    """Register the supervisor's pages, commands, event types and figures on `app`."""
    # Imported when the app is built, not with the package: the pages' @bp.route and
    # `commands`' @bp.cli.command decorators fill the blueprint, `events`' @event_type
    # decorators register the spotcheck.* types (before any event is applied), and the
    # pages import the lobby's and the checklist's public surfaces, which import this
    # package's.
    from . import commands, events, focus, routes  # noqa: F401

    # The figures follow every write transaction; the list is the process's, so once.
    if observe not in EVENT_OBSERVERS:
        EVENT_OBSERVERS.append(observe)
    app.register_blueprint(bp)
