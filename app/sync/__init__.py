"""The JSON API for devices: push events, pull events, and its OpenAPI description.

No other feature imports it.
"""

from flask import Blueprint, Flask

bp = Blueprint("sync", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Register the API on `app`."""
    # Imported when the app is built: its @bp.route decorators fill the blueprint.
    from . import routes  # noqa: F401

    app.register_blueprint(bp)
