"""The board's poll, answered before Flask when nothing changed (docs/performance.md).

Every lobby tablet asks `GET /lobby/board?since=N` every 3 s, and nearly every
answer is 204: nothing new. Through Flask and its extensions that 204 costs
about 1.4 ms of CPU and two queries, and a city's server answers thousands a
minute. This WSGI middleware gives it with one query (the sign-in, its user and
the home branch's version) and no request context.

It answers only when the full path would give the very same answer and write
nothing: the cookie as Flask-Login would take it unchanged, an open sign-in
within its lifetime and idle time whose clock is not due, an active lobby
manager of that session version, and the branch's version equal to `since`.
Anything else (another path or query, a sign-in to end or to mark as seen,
another role, a changed board, a database error) goes on to Flask as it came.
"""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..auth import SessionCookieReader, sign_in_standing
from ..extensions import db
from ..models import Branch, Event, Role, SignIn, User
from ..models.branch import user_branches
from ..security import document_headers

_SINCE = re.compile(r"since=([0-9]{1,19})")

# The user's home branch: their first by code (User.branches' order).
_HOME_BRANCH = (
    select(Branch.id)
    .join(user_branches, user_branches.c.branch_id == Branch.id)
    .where(user_branches.c.user_id == User.id)
    .order_by(Branch.code)
    .limit(1)
    .correlate(User)
    .scalar_subquery()
)
# Built once: building a statement costs more than running this one.
_POLL_QUERY = (
    select(
        SignIn.started_at,
        SignIn.last_seen_at,
        SignIn.ended_at,
        User.session_version,
        User.active,
        User.role,
        _HOME_BRANCH.label("home_branch_id"),
        select(func.coalesce(func.max(Event.position), 0))
        .where(Event.branch_id == _HOME_BRANCH)
        .correlate(User)
        .scalar_subquery()
        .label("version"),
    )
    .join(User, User.id == SignIn.user_id)
    .where(SignIn.id == bindparam("sign_in_id"), User.id == bindparam("user_id"))
)


class BoardPollShortcut:
    """WSGI middleware in front of the app: the unchanged board's 204, or the app."""

    PATH = "/lobby/board"

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.read_cookie = SessionCookieReader(app)
        # As the full path sends them (tests/test_board_poll.py compares the two).
        self.headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Vary", "HX-Request, Accept-Encoding, Cookie"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            *document_headers(app),
        ]
        self.engine: Engine | None = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.PATH and self.unchanged(environ):
            start_response("204 NO CONTENT", list(self.headers))
            return []
        return self.wsgi_app(environ, start_response)

    def unchanged(self, environ) -> bool:
        since = _SINCE.fullmatch(environ.get("QUERY_STRING", ""))
        if (
            since is None
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("HTTP_HX_REQUEST") != "true"
            or environ.get("HTTP_HX_HISTORY_RESTORE_REQUEST") == "true"
        ):
            return False
        cookie = self.read_cookie(environ)
        if cookie is None:
            return False
        try:
            row = self.read(cookie.sign_in_id, cookie.user_id)
        except SQLAlchemyError:
            return False  # Flask's path answers it, as it answers any request then
        if row is None or row.home_branch_id is None:
            return False
        background = environ.get("HTTP_X_DATANG_BACKGROUND") == "1"
        return (
            row.ended_at is None
            and row.active
            and row.session_version == cookie.session_version
            and row.role == Role.LOBBY_MANAGER
            and sign_in_standing(self.app.config, row.started_at, row.last_seen_at, background)
            == "live"
            and row.version == int(since.group(1))
        )

    def read(self, sign_in_id: str, user_id: int):
        if self.engine is None:
            with self.app.app_context():
                self.engine = db.engine
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # One statement, its own snapshot: no BEGIN and ROLLBACK round trips.
                connection.execution_options(isolation_level="AUTOCOMMIT")
            return connection.execute(
                _POLL_QUERY, {"sign_in_id": sign_in_id, "user_id": user_id}
            ).first()


def install(app: Flask) -> None:
    """Put the shortcut in front of `app` (unless BOARD_POLL_SHORTCUT is off)."""
    if app.config.get("BOARD_POLL_SHORTCUT", True):
        app.wsgi_app = BoardPollShortcut(app, app.wsgi_app)  # type: ignore[method-assign]
