from __future__ import annotations

import json
from urllib.parse import unquote

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import and_, false, or_, select
from werkzeug.exceptions import HTTPException

from ..database import autocommit_reads, utcnow
from ..errors import error_response
from ..events import (
    RFC3339,
    SERVER_DEVICE_PREFIX,
    DeviceClock,
    Result,
    envelope_of,
    format_time,
    ingest,
    newest_positions,
    parse_time,
    readable_types,
)
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
            return error_response(
                409,
                "wrong_user",
                _(
                    "These entries were made by %(user)s; sign in as %(user)s to send them.",
                    user=owner,
                ),
            )
    return None


@bp.errorhandler(HTTPException)
def api_http_error(exc: HTTPException):
    return error_response(exc.code or 500)


def bad_batch(message: str):
    return error_response(400, "bad_batch", message)


def _not_json_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python reads them, JSON has none


def _unstorable(text: str) -> bool:
    """A NUL character (PostgreSQL stores none) or a lone surrogate (no UTF-8 for it)."""
    return "\x00" in text or not text.isascii() and _has_lone_surrogate(text)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_path(value) -> str | None:
    """Where `value` holds unstorable text, in a key or a string, if anywhere.

    Without recursion: JSON may nest as deep as the parser goes.
    """
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if _unstorable(str(key)):
                    return where.encode("utf-8", "backslashreplace").decode("ascii")
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(item))
    return None


def prejudge(raw) -> Result | None:
    """Refuse what the event layer would store or look up and then fail on.

    A guard at the door of the API, so that such an event is `rejected` on both
    databases instead of failing the batch with a 500: text with a NUL
    character (PostgreSQL stores none) or a lone surrogate (`"\\ud800"`, which
    JSON allows and UTF-8 has no bytes for), and an `occurred_at` whose
    conversion to UTC leaves the calendar (0001-01-01T00:00:00+01:00). Device
    ids beginning with `server:` are the server's own (forms posted online).
    """
    if not isinstance(raw, dict):
        return None
    raw_id = (
        raw.get("id") if isinstance(raw.get("id"), str) and not _unstorable(raw["id"]) else None
    )
    where = _unstorable_path(raw)
    if where:
        code = "invalid_payload" if where.startswith("payload") else "invalid_envelope"
        field = where.removeprefix("payload.") if code == "invalid_payload" else where
        return Result(
            raw_id,
            "rejected",
            {
                "code": code,
                "message": _(
                    "%(field)s must not contain a NUL character or a lone surrogate.", field=field
                ),
            },
        )
    device_id = raw.get("device_id")
    if isinstance(device_id, str) and device_id.startswith(SERVER_DEVICE_PREFIX):
        return Result(
            raw_id,
            "rejected",
            {
                "code": "reserved_device",
                "message": _(
                    "Device ids beginning with %(prefix)s are reserved for the server.",
                    prefix=SERVER_DEVICE_PREFIX,
                ),
            },
        )
    occurred_at = raw.get("occurred_at")
    if isinstance(occurred_at, str) and 0 < len(occurred_at) <= 40:
        try:
            parse_time(occurred_at)
        except OverflowError:
            return Result(
                raw_id,
                "rejected",
                {
                    "code": "invalid_envelope",
                    "message": _(
                        "Invalid value for %(field)s: %(reason)s",
                        field="occurred_at",
                        reason=_("is not a valid time"),
                    ),
                },
            )
        except ValueError:
            pass  # the envelope's own validation says what is wrong
    return None


def device_clock(sent_at) -> DeviceClock | None:
    """The sending device's clock from the batch's `sent_at`; None if it is malformed.

    A malformed `sent_at` fails the batch (400), as any other wrong shape of the
    body does: the times of its events cannot be corrected.
    """
    if sent_at is None:
        return DeviceClock()
    if not isinstance(sent_at, str) or len(sent_at) > 40 or not RFC3339.match(sent_at):
        return None
    try:
        return DeviceClock.from_sent_at(parse_time(sent_at))
    except (ValueError, OverflowError):
        return None


@bp.post("/sync")
@autocommit_reads  # its writes are all in write_transaction
def sync():
    config = current_app.config
    if request.content_length is not None and request.content_length > config["SYNC_MAX_BYTES"]:
        return error_response(
            413, "batch_too_large", _("The batch is larger than 1 MiB; send it in parts.")
        )
    # The body is read as JSON whatever its Content-Type: the contract names none,
    # and a client's fetch() with a string body says text/plain.
    body = request.get_data(cache=False)
    if len(body) > config["SYNC_MAX_BYTES"]:
        return error_response(
            413, "batch_too_large", _("The batch is larger than 1 MiB; send it in parts.")
        )
    try:
        data = json.loads(body, parse_constant=_not_json_constant)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return bad_batch(_("The body is not JSON."))
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return bad_batch(_('The body must be an object with an "events" list.'))
    events = data["events"]
    if len(events) > config["SYNC_MAX_EVENTS"]:
        return error_response(
            413,
            "batch_too_large",
            _("A batch holds at most %(n)d events; send it in parts.", n=config["SYNC_MAX_EVENTS"]),
        )
    clock = device_clock(data.get("sent_at"))
    if clock is None:
        return bad_batch(_("sent_at must be an RFC 3339 time with an offset or Z."))
    results = [prejudge(raw) for raw in events]
    judged = iter(
        ingest(
            [raw for raw, result in zip(events, results, strict=True) if result is None],
            current_user._get_current_object(),
            clock,
        )
    )
    results = [result or next(judged) for result in results]
    return jsonify(results=[r.as_json() for r in results], server_time=format_time(utcnow()))


class Cursor(dict):
    """Where a device's pull stream stands: branch id -> the last position it has.

    Positions are in order within a branch only: two branches write at once
    (app/database.py), so a later position of one branch may commit before an
    earlier one of another, and one number for all would skip it. As text:
    `N` (every branch at N; what a device reading one branch gets, and what
    earlier servers gave) or `id:N,id:N` (each branch its own; one not named
    is at 0). Opaque to the client.
    """

    base = 0  # the position of a branch not named

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor `text` names, or None when it is not one this server gives."""
        cursor = cls()
        if not text:
            return cursor
        if _is_position(text):
            cursor.base = int(text)
            return cursor
        for part in text.split(","):
            branch, _sep, position = part.partition(":")
            if not (
                branch.isascii()
                and branch.isdigit()
                and len(branch) <= 9
                and _is_position(position)
            ):
                return None
            cursor[int(branch)] = int(position)
        return cursor

    def position(self, branch_id: int) -> int:
        return self.get(branch_id, self.base)

    def text(self, branch_ids: set[int]) -> str:
        if len(branch_ids) == 1:
            return str(self.position(next(iter(branch_ids))) or "")
        positions = {b: self.position(b) for b in sorted(branch_ids)}
        return ",".join(f"{b}:{p}" for b, p in positions.items() if p)


def _is_position(text: str) -> bool:
    # Only digits, and small enough for the column (a larger number would be a 500).
    return text.isascii() and text.isdigit() and int(text) <= MAX_POSITION


@bp.get("/events")
@autocommit_reads
def pull():
    config = current_app.config
    since = request.args.get("since", "")
    cursor = Cursor.parse(since)
    if cursor is None:
        return error_response(400, "bad_cursor", _("The cursor is not one this server gave."))
    try:
        limit = int(request.args.get("limit", config["PULL_DEFAULT_LIMIT"]))
    except ValueError:
        return error_response(400, "bad_limit", _("The limit must be a whole number."))
    limit = max(1, min(limit, config["PULL_MAX_LIMIT"]))
    # What the caller's role may read, no more (docs/events.md, "Who reads what").
    # The filter is in the query, so a page skips the events hidden from the
    # caller and `next` moves past them; after the last readable event there is
    # "nothing more" and `next` stays put, as the sync contract says.
    role = current_user.role
    branch_ids = current_user.readable_branch_ids()
    by_position: dict[int, list[int]] = {}  # branches that stand at the same position
    for branch_id in branch_ids:
        by_position.setdefault(cursor.position(branch_id), []).append(branch_id)
    # In position order across the branches: restricted to one branch, a page is
    # that branch's next events, in its own order, without a gap.
    events = db.session.scalars(
        select(Event)
        .where(
            or_(
                false(),
                *(
                    and_(Event.branch_id.in_(ids), Event.position > position)
                    for position, ids in by_position.items()
                ),
            ),
            Event.type.in_(readable_types(role)),
        )
        .order_by(Event.position)
        .limit(limit)
    ).all()
    if not events:
        return jsonify(events=[], next=since)
    for event in events:
        cursor[event.branch_id] = event.position
    return jsonify(events=[envelope_of(e, role) for e in events], next=cursor.text(branch_ids))


@bp.app_template_global()
def pull_cursor() -> str:
    """The pull cursor of now: the newest event of each of the signed-in user's branches.

    Tablet pages carry the one of the moment they were drawn, so that a device
    with no cursor yet starts pulling where its page left off; asking later
    (say after coming back online) would skip what others sent meanwhile.
    """
    branch_ids = current_user.readable_branch_ids()
    return Cursor(newest_positions(branch_ids)).text(branch_ids)


@bp.get("/session")
@autocommit_reads
def session_info():
    """Who is signed in, a fresh CSRF token, and the pull cursor of now.

    A tablet page served from the service worker's cache may carry a token of
    an older session: on `csrf_failed` the tablet asks here and retries.
    """
    response = jsonify(user=current_user.username, csrf_token=generate_csrf(), cursor=pull_cursor())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
