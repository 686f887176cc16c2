"""Who is signed in, and how each kind of caller is told that nobody is."""
from __future__ import annotations

import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from ..database import short_write, utcnow
from ..extensions import db, login_manager
from ..htmx import is_htmx
from ..models import Branch, Role, SignIn, User

SIGN_IN_KEY = "sign_in"  # the session cookie's pointer to its SignIn row


def init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The id carries the session version: a password reset signs out old sessions.
    try:
        uid, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or user.session_version != version or not user.active:
        return None
    if not _sign_in_is_live(uid):
        return None
    return user


def start_sign_in(user: User) -> None:
    """Record a new signed-in session for `user` and point this session at it."""
    sign_in = SignIn(id=secrets.token_urlsafe(32), user_id=user.id,
                     ip_address=(request.remote_addr or "")[:45],
                     user_agent=request.user_agent.string[:200])
    with short_write() as write:
        write.add(sign_in)
    session[SIGN_IN_KEY] = sign_in.id


def end_sign_in(reason: str = "signed_out") -> None:
    """End this session's sign-in: its cookie, even a copy of it, stops working."""
    sign_in_id = session.get(SIGN_IN_KEY)
    sign_in = db.session.get(SignIn, sign_in_id) if sign_in_id else None
    if sign_in is not None and sign_in.ended_at is None:
        _end(sign_in, reason)


def _update(sign_in: SignIn, **values) -> None:
    with short_write() as write:
        write.execute(update(SignIn).where(SignIn.id == sign_in.id).values(**values))


def _end(sign_in: SignIn, reason: str) -> None:
    _update(sign_in, ended_at=utcnow(), ended_reason=reason)


def _sign_in_is_live(user_id: int) -> bool:
    """Whether this session's sign-in is still open, ending it when it has run out.

    Background requests (polls, the outbox's pulls) do not count as activity,
    so a tablet left on the board still signs out when nobody touches it.
    """
    sign_in_id = session.get(SIGN_IN_KEY)
    sign_in = db.session.get(SignIn, sign_in_id) if isinstance(sign_in_id, str) else None
    if sign_in is None or sign_in.user_id != user_id or sign_in.ended_at is not None:
        return False
    config = current_app.config
    now = utcnow()
    if now - sign_in.started_at > config["PERMANENT_SESSION_LIFETIME"]:
        _end(sign_in, "expired")
        return False
    if now - sign_in.last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        _end(sign_in, "idle")
        return False
    # At most one write per session per interval: the hot paths stay reads.
    if (request.headers.get("X-Datang-Background") != "1"
            and now - sign_in.last_seen_at > config["SESSION_SEEN_INTERVAL"]):
        try:
            _update(sign_in, last_seen_at=now)
        except OperationalError:
            # The database is busy beyond its timeout: the clock is written on a later
            # request; the person's work must not fail for it.
            current_app.logger.warning("sign-in clock not written: database busy")
    return True


def wants_json() -> bool:
    return request.path.startswith("/api/")


@login_manager.unauthorized_handler
def unauthorized():
    """A JSON caller gets 401 JSON, htmx a 401 with HX-Redirect, a browser a redirect."""
    login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if wants_json():
        response = jsonify(error={"code": "unauthenticated",
                                  "message": _("Sign in again to continue.")})
        response.status_code = 401
        return response
    if is_htmx():
        # After signing in, back to the page the fragment was for, not to the fragment.
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = page.path + (f"?{page.query}" if page.query else "") if page.path else None
        response = jsonify(error={"code": "unauthenticated"})
        response.status_code = 401
        response.headers["HX-Redirect"] = url_for("auth.login", next=back)
        return response
    return redirect(login_url)


def role_required(*roles: Role):
    """Allow only signed-in users of the given roles.

    :raise 401: (through Flask-Login) when nobody is signed in.
    :raise 403: when the user's role is not one of `roles`.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


HOME_ENDPOINTS = {
    Role.LOBBY_MANAGER: "lobby.board",
    Role.TELLER: "referrals.inbox",
    Role.WEALTH_MANAGER: "referrals.inbox",
    Role.BRANCH_SUPERVISOR: "supervisor.dashboard",
    Role.AREA_SUPERVISOR: "supervisor.dashboard",
    Role.ADMIN: "admin.index",
}


def home_url(user: User) -> str:
    return url_for(HOME_ENDPOINTS[user.role])


def current_branch() -> Branch:
    """The signed-in user's own branch; the page's times are in its time zone.

    :raise 403: for a user with no branch.
    """
    branch = current_user.home_branch
    if branch is None:
        abort(403)
    g.branch = branch
    return branch


def in_branch(model, row_id, branch: Branch):
    """The `model` row `row_id` of `branch`.

    :raise 404: no such row. :raise 403: it is another branch's.
    """
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    if row.branch_id != branch.id:
        abort(403)
    return row
