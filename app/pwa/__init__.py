"""The installable app: manifest, service worker, icons, offline shell.

No other feature imports it.
"""

from flask import Blueprint, Flask

bp = Blueprint("pwa", __name__)


def init_app(app: Flask) -> None:
    """Register the PWA's files on `app`."""
    # Imported when the app is built: its @bp.route decorators fill the blueprint.
    from . import routes  # noqa: F401

    app.register_blueprint(bp)
