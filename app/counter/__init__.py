"""The teller's counter page (/counter). No other feature imports it."""

from flask import Blueprint, Flask

bp = Blueprint("counter", __name__)


def init_app(app: Flask) -> None:
    """Register the counter page on `app`."""
    # Imported when the app is built, not with the package: its @bp.route decorators
    # fill the blueprint, and it imports the lobby's public surface.
    from . import routes  # noqa: F401

    app.register_blueprint(bp)
