"""The lobby manager's tablet: the board of visits, triage rules, complaints.

Public surface (what other features import): the board's queries and version, the
referral timings, need tags and products, the triage rules, the complaints' context
and figures, the known need codes. The shared codes and labels are in app/vocabulary.py.
"""

from flask import Blueprint, Flask

# Annotated: mypy cannot infer it through the cycle with complaints.py, which imports it.
bp: Blueprint = Blueprint("lobby", __name__)

# After `bp`: complaints.py holds pages as well as the queries other features use.
from ..demo import register_seed  # noqa: E402
from .complaints import complaints_context, open_complaints, response_minutes  # noqa: E402
from .demo import seed_lobby  # noqa: E402
from .events import known_need_codes  # noqa: E402
from .rules import branch_rules, large_cash_band  # noqa: E402
from .views import (  # noqa: E402
    all_need_labels,
    board_version,
    install_shared_board_cache,
    machines,
    need_tags,
    products,
    referral_overdue_in,
    referral_take_time,
    referrals_of,
    suggests_wealth,
    user_name,
    waiting_visits,
    wealth_managers,
)

__all__ = [
    "all_need_labels",
    "board_version",
    "bp",
    "branch_rules",
    "complaints_context",
    "init_app",
    "known_need_codes",
    "large_cash_band",
    "machines",
    "need_tags",
    "open_complaints",
    "products",
    "referral_overdue_in",
    "referral_take_time",
    "referrals_of",
    "response_minutes",
    "suggests_wealth",
    "user_name",
    "waiting_visits",
    "wealth_managers",
]


def init_app(app: Flask) -> None:
    """Register the lobby's pages, event types and demo data on `app`."""
    # Imported when the app is built, not with the package: the board's @bp.route
    # decorators fill the blueprint and `events`' and `complaints`' @event_type
    # decorators register the visit.* and complaint.* types (before any event is
    # applied); the board imports the supervisor's public surface.
    from . import complaints, events, poll, routes  # noqa: F401

    register_seed(app, seed_lobby)
    app.register_blueprint(bp)
    poll.install(app)
    install_shared_board_cache(app)
