from __future__ import annotations

import json

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..database import utcnow
from ..errors import error_response
from ..events import envelope_of, format_time, ingest
from ..extensions import csrf, db, login_manager
from ..models import Event
from . import bp
from .openapi import openapi_document

csrf.exempt(bp)  # checked below, after authentication, so a stranger always gets 401


@bp.before_request
def authenticate_then_check_csrf():
    if request.endpoint == "sync.openapi":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
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
    except ValueError:
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
    try:
        after = int(since) if since else 0
        if after < 0:
            raise ValueError
    except ValueError:
        return error_response(400, "bad_cursor", _("The cursor is not one this server gave."))
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


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
