"""Signing in and out, and who is signed in (app/auth/session.py).

Public surface: the guards and the branch of a request, which every feature's pages use;
the session cookie and a sign-in's standing, for a path that answers before Flask.
"""

from flask import Blueprint, Flask

from .session import (
    SessionCookieReader,
    current_branch,
    in_branch,
    init_login,
    role_required,
    sign_in_standing,
)

bp = Blueprint("auth", __name__)

__all__ = [
    "SessionCookieReader",
    "bp",
    "current_branch",
    "in_branch",
    "init_app",
    "role_required",
    "sign_in_standing",
]


def init_app(app: Flask) -> None:
    """Register the sign-in pages and the session checks on `app`."""
    # Imported when the app is built: its @bp.route decorators fill the blueprint.
    from . import routes  # noqa: F401

    # The stand-in hash for unknown names is made now, not at the first unknown
    # name: that sign-in would otherwise cost two hashes, and its time tell.
    routes.warm_dummy_hash(app)
    init_login(app)
    app.register_blueprint(bp)
