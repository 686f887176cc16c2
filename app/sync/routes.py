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
from ..events import envelope_of, format_time, ingest
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


@bp.post("/sync")
def sync():
    config = current_app.config
    if request.content_length is not None and request.content_length > config["SYNC_MAX_BYTES"]:
        return error_response(413, "batch_too_large",
                              _("The batch is larger than 1 MiB; send it in parts."))
    body = request.get_data(cache=False)
    if len(body) > config["SYNC_MAX_BYTES"]:
        return error_response(413, "batch_too_large",
                              _("The batch is larger than 1 MiB; send it in parts."))
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return bad_batch(_("The body is not JSON."))
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return bad_batch(_("The body must be an object with an \"events\" list."))
    events = data["events"]
    if len(events) > config["SYNC_MAX_EVENTS"]:
        return error_response(413, "batch_too_large",
                              _("A batch holds at most %(n)d events; send it in parts.",
                                n=config["SYNC_MAX_EVENTS"]))
    results = ingest(events, current_user._get_current_object())
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


@bp.get("/session")
def session_info():
    """Who is signed in, a fresh CSRF token, and the pull cursor of now.

    A tablet page served from the service worker's cache may carry a token of
    an older session: on `csrf_failed` the tablet asks here and retries. A
    device with no cursor yet starts pulling from `cursor`, not from the start.
    """
    latest = db.session.scalar(select(func.max(Event.position))
                               .where(Event.branch_id.in_(current_user.readable_branch_ids())))
    response = jsonify(user=current_user.username, csrf_token=generate_csrf(),
                       cursor=str(latest) if latest else "")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
