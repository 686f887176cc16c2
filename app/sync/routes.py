from __future__ import annotations

import json
from urllib.parse import unquote

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from ..database import utcnow
from ..errors import error_response
from ..events import Result, envelope_of, format_time, ingest, parse_time
from ..extensions import csrf, db, login_manager
from ..models import Event
from . import bp
from .openapi import openapi_document

MAX_POSITION = 2**63 - 1
csrf.exempt(bp)  # checked below, after authentication, so a stranger always gets 401


@bp.before_request
def authenticate_then_check_csrf():
    if request.endpoint == "sync.openapi":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
        # The tablet names whose entries it sends: a page left open by one person
        # must not send them under another person's session (docs/client.md).
        owner = request.headers.get("X-Datang-User")  # percent-encoded: headers are Latin-1
        if owner is not None and unquote(owner) != current_user.username:
            owner = unquote(owner)
            return error_response(409, "wrong_user",
                                  _("These entries were made by %(user)s; sign in as %(user)s "
                                    "to send them.", user=owner))
    return None


@bp.errorhandler(HTTPException)
def api_http_error(exc: HTTPException):
    return error_response(exc.code or 500)


def bad_batch(message: str):
    return error_response(400, "bad_batch", message)


def _not_json_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python reads them, JSON has none


def _nul_path(value) -> str | None:
    """Where `value` holds a NUL character, in a key or a string, if anywhere.

    Without recursion: JSON may nest as deep as the parser goes.
    """
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return where
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(item))
    return None


def prejudge(raw) -> Result | None:
    """Refuse what the event layer would store or look up and then fail on.

    A guard at the door of the API, so that such an event is `rejected` on both
    databases instead of failing the batch with a 500: text with a NUL
    character (PostgreSQL stores none) and an `occurred_at` whose conversion
    to UTC leaves the calendar (0001-01-01T00:00:00+01:00).
    """
    if not isinstance(raw, dict):
        return None
    raw_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    where = _nul_path(raw)
    if where:
        code = "invalid_payload" if where.startswith("payload") else "invalid_envelope"
        field = where.removeprefix("payload.") if code == "invalid_payload" else where
        return Result(raw_id, "rejected", {
            "code": code, "message": _("%(field)s must not contain a NUL character.",
                                       field=field)})
    occurred_at = raw.get("occurred_at")
    if isinstance(occurred_at, str) and 0 < len(occurred_at) <= 40:
        try:
            parse_time(occurred_at)
        except OverflowError:
            return Result(raw_id, "rejected", {
                "code": "invalid_envelope",
                "message": _("Invalid value for %(field)s: %(reason)s", field="occurred_at",
                             reason=_("is not a valid time"))})
        except ValueError:
            pass  # the envelope's own validation says what is wrong
    return None


@bp.post("/sync")
def sync():
    config = current_app.config
    if request.content_length is not None and request.content_length > config["SYNC_MAX_BYTES"]:
        return error_response(413, "batch_too_large",
                              _("The batch is larger than 1 MiB; send it in parts."))
    # The body is read as JSON whatever its Content-Type: the contract names none,
    # and a client's fetch() with a string body says text/plain.
    body = request.get_data(cache=False)
    if len(body) > config["SYNC_MAX_BYTES"]:
        return error_response(413, "batch_too_large",
                              _("The batch is larger than 1 MiB; send it in parts."))
    try:
        data = json.loads(body, parse_constant=_not_json_constant)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return bad_batch(_("The body is not JSON."))
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return bad_batch(_("The body must be an object with an \"events\" list."))
    events = data["events"]
    if len(events) > config["SYNC_MAX_EVENTS"]:
        return error_response(413, "batch_too_large",
                              _("A batch holds at most %(n)d events; send it in parts.",
                                n=config["SYNC_MAX_EVENTS"]))
    results = [prejudge(raw) for raw in events]
    judged = iter(ingest([raw for raw, result in zip(events, results, strict=True) if result is None],
                         current_user._get_current_object()))
    results = [result or next(judged) for result in results]
    return jsonify(results=[r.as_json() for r in results], server_time=format_time(utcnow()))


@bp.get("/events")
def pull():
    config = current_app.config
    since = request.args.get("since", "")
    # Only the digits this server gave; a larger number would not fit the column (a 500).
    if since and not (since.isascii() and since.isdigit() and int(since) <= MAX_POSITION):
        return error_response(400, "bad_cursor", _("The cursor is not one this server gave."))
    after = int(since) if since else 0
    try:
        limit = int(request.args.get("limit", config["PULL_DEFAULT_LIMIT"]))
    except ValueError:
        return error_response(400, "bad_limit", _("The limit must be a whole number."))
    limit = max(1, min(limit, config["PULL_MAX_LIMIT"]))
    branch_ids = current_user.readable_branch_ids()
    events = db.session.scalars(
        select(Event).where(Event.position > after, Event.branch_id.in_(branch_ids))
        .order_by(Event.position).limit(limit)).all()
    next_cursor = str(events[-1].position) if events else since
    return jsonify(events=[envelope_of(e) for e in events], next=next_cursor)


@bp.app_template_global()
def pull_cursor() -> str:
    """The pull cursor of now: the newest event of the signed-in user's branches.

    Tablet pages carry the one of the moment they were drawn, so that a device
    with no cursor yet starts pulling where its page left off; asking later
    (say after coming back online) would skip what others sent meanwhile.
    """
    latest = db.session.scalar(select(func.max(Event.position))
                               .where(Event.branch_id.in_(current_user.readable_branch_ids())))
    return str(latest) if latest else ""


@bp.get("/session")
def session_info():
    """Who is signed in, a fresh CSRF token, and the pull cursor of now.

    A tablet page served from the service worker's cache may carry a token of
    an older session: on `csrf_failed` the tablet asks here and retries.
    """
    response = jsonify(user=current_user.username, csrf_token=generate_csrf(),
                       cursor=pull_cursor())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
