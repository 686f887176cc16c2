"""The referral desk (/referrals) and the referral.* event types. No other feature imports it."""

from flask import Blueprint, Flask

bp = Blueprint("referrals", __name__)


def init_app(app: Flask) -> None:
    """Register the referral desk and its event types on `app`."""
    # Imported when the app is built, not with the package: the page's @bp.route
    # decorators fill the blueprint and `events`' @event_type decorators register the
    # referral.* types (before any event is applied); the page imports the lobby's and
    # the supervisor's public surfaces.
    from . import events, routes  # noqa: F401

    app.register_blueprint(bp)
