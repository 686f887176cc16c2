"""Who is signed in, and how each kind of caller is told that nobody is."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import wraps
from hashlib import sha512
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.http import parse_cookie

from ..database import as_loaded, loadable_columns, short_write, utcnow
from ..events import page_read, remember_positions
from ..extensions import db, login_manager
from ..htmx import is_htmx
from ..models import Branch, Event, Role, SignIn, User
from ..models.branch import user_branches

SIGN_IN_KEY = "sign_in"  # the session cookie's pointer to its SignIn row


def init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, their branches and their sign-in row: one query a request.

    The id carries the session version: a password reset or a deactivation
    signs out old sessions, as a sign-out ends its sign-in row, at once.
    """
    try:
        uid, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    sign_in_id = session.get(SIGN_IN_KEY)
    if not isinstance(sign_in_id, str):
        return None
    reading = page_read()
    rows = (
        db.session.connection()
        .execute(
            _SIGN_IN_READ_QUERY if reading else _SIGN_IN_QUERY,
            {"sign_in_id": sign_in_id, "user_id": uid},
        )
        .all()
    )
    if not rows:
        return None
    started_at, last_seen_at, ended_at = rows[0][:3]
    user_values = dict(zip(_USER_KEYS, rows[0][3 : 3 + len(_USER_KEYS)], strict=True))
    if (
        user_values["session_version"] != version
        or not user_values["active"]
        or ended_at is not None
    ):
        return None
    if not _sign_in_is_live(sign_in_id, started_at, last_seen_at):
        return None
    user = as_loaded(User, user_values)
    # Each row: the sign-in's clocks, the user, one of their branches (on a GET, its position).
    branches = [(dict(zip(_BRANCH_KEYS, row[_BRANCH], strict=True)), row[-1]) for row in rows]
    branches = [(values, last) for values, last in branches if values["id"] is not None]
    if "branches" not in user.__dict__:
        set_committed_value(user, "branches", [as_loaded(Branch, values) for values, _ in branches])
    if reading:
        remember_positions({values["id"]: position for values, position in branches})
    return user


# What load_user reads, in the order of the mapped attributes (names may differ from columns).
_USER_KEYS, _USER_COLUMNS = loadable_columns(User)
_BRANCH_KEYS, _BRANCH_COLUMNS = loadable_columns(Branch)
_BRANCH = slice(3 + len(_USER_KEYS), 3 + len(_USER_KEYS) + len(_BRANCH_KEYS))
# Built once: building a statement costs more than running this one.
_SIGN_IN_QUERY = (
    select(
        SignIn.started_at, SignIn.last_seen_at, SignIn.ended_at, *_USER_COLUMNS, *_BRANCH_COLUMNS
    )
    .join(User, User.id == SignIn.user_id)
    .outerjoin(user_branches, user_branches.c.user_id == User.id)
    .outerjoin(Branch, Branch.id == user_branches.c.branch_id)
    .where(SignIn.id == bindparam("sign_in_id"), User.id == bindparam("user_id"))
    .order_by(Branch.code)
)
# A page (a GET) also takes each branch's newest event position, its board's version
# and its pull cursor's start, in the same round trip (app/events/positions.py).
# A write reads them afresh, after its own events: it is not asked for then.
_SIGN_IN_READ_QUERY = _SIGN_IN_QUERY.add_columns(
    select(func.coalesce(func.max(Event.position), 0))
    .where(Event.branch_id == Branch.id)
    .correlate(Branch)
    .scalar_subquery()
)


def start_sign_in(user: User) -> None:
    """Record a new signed-in session for `user` and point this session at it."""
    sign_in = SignIn(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        ip_address=(request.remote_addr or "")[:45],
        user_agent=request.user_agent.string[:200],
    )
    with short_write() as write:
        write.add(sign_in)
    session[SIGN_IN_KEY] = sign_in.id


def end_sign_in(reason: str = "signed_out") -> None:
    """End this session's sign-in: its cookie, even a copy of it, stops working."""
    sign_in_id = session.get(SIGN_IN_KEY)
    sign_in = db.session.get(SignIn, sign_in_id) if sign_in_id else None
    if sign_in is not None and sign_in.ended_at is None:
        _end(sign_in.id, reason)


def _update(sign_in_id: str, **values) -> None:
    with short_write() as write:
        write.execute(update(SignIn).where(SignIn.id == sign_in_id).values(**values))


def _end(sign_in_id: str, reason: str) -> None:
    _update(sign_in_id, ended_at=utcnow(), ended_reason=reason)


def _sign_in_is_live(sign_in_id: str, started_at, last_seen_at) -> bool:
    """Whether an open sign-in is still within its lifetime and idle time, ending it if not.

    Background requests (polls, the outbox's pulls) do not count as activity,
    so a tablet left on the board still signs out when nobody touches it.
    """
    background = request.headers.get("X-Datang-Background") == "1"
    standing = sign_in_standing(current_app.config, started_at, last_seen_at, background)
    if standing in ("expired", "idle"):
        _end(sign_in_id, standing)
        return False
    if standing == "seen":
        try:
            _update(sign_in_id, last_seen_at=utcnow())
        except OperationalError:
            # The database is busy beyond its timeout: the clock is written on a later
            # request; the person's work must not fail for it.
            current_app.logger.warning("sign-in clock not written: database busy")
    return True


def sign_in_standing(config, started_at, last_seen_at, background: bool) -> str:
    """What an open sign-in is now: "expired" (past its lifetime), "idle" (past its
    idle time), "seen" (live, and this request's activity is due to be written) or
    "live" (live, nothing to write). `config`: the app's."""
    now = utcnow()
    if now - started_at > config["PERMANENT_SESSION_LIFETIME"]:
        return "expired"
    if now - last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        return "idle"
    # At most one write per session per interval: the hot paths stay reads.
    if not background and now - last_seen_at > config["SESSION_SEEN_INTERVAL"]:
        return "seen"
    return "live"


@dataclass(frozen=True)
class CookieSignIn:
    """Who a request's session cookie says is signed in (not yet checked against the database)."""

    user_id: int
    session_version: int
    sign_in_id: str


class SessionCookieReader:
    """Reads a request's session cookie as Flask and Flask-Login would, from the WSGI
    environ alone: for a path that answers before Flask handles the request.

    Returns the sign-in only when Flask-Login would take the session as it is, and
    so leave it unchanged (no Set-Cookie); None for anything else (no or a bad
    cookie, a session-protection mismatch, a remember-me flag), which the caller
    hands on to Flask.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.serializer: URLSafeTimedSerializer | None = None

    def __call__(self, environ) -> CookieSignIn | None:
        app = self.app
        value = parse_cookie(environ).get(app.config["SESSION_COOKIE_NAME"])
        if not value:
            return None
        if self.serializer is None:
            self.serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        try:
            data = self.serializer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds())
            )
        except BadSignature:
            return None
        if not isinstance(data, dict) or "_remember" in data:
            return None
        if data.get("_id") != _session_identifier(environ):
            return None  # Flask-Login would mark the session not fresh: a change
        sign_in_id, user_id = data.get(SIGN_IN_KEY), data.get("_user_id")
        if not isinstance(sign_in_id, str) or not isinstance(user_id, str):
            return None
        try:
            uid, version = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        return CookieSignIn(uid, version, sign_in_id)


def _session_identifier(environ) -> str:
    """Flask-Login's session-protection identifier (flask_login.utils._create_identifier)
    of the request in `environ`: a hash of its address and user agent."""
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    user_agent = environ.get("HTTP_USER_AGENT")
    if user_agent is not None:
        user_agent = user_agent.encode("utf-8")
    return sha512(f"{address}|{user_agent}".encode()).hexdigest()


def wants_json() -> bool:
    return request.path.startswith("/api/")


@login_manager.unauthorized_handler
def unauthorized():
    """A JSON caller gets 401 JSON, htmx a 401 with HX-Redirect, a browser a redirect."""
    login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if wants_json():
        response = jsonify(
            error={"code": "unauthenticated", "message": _("Sign in again to continue.")}
        )
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
