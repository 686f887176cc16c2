"""The position of each branch's newest event: a board's version, a pull cursor's start.

A page (a GET) reads each branch's once, so the board it draws and the pull
cursor it carries agree, and the second costs no query; the sign-in's own query
reads those of the user's branches (app/auth/session.py), so a page usually asks
none. A request that writes (a POST) reads afresh each time: its own events
move the positions.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import g, has_request_context, request
from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models import Event

# Built once: building a statement costs more than running these small ones.
_NEWEST = select(func.max(Event.position)).where(Event.branch_id == bindparam("branch_id"))
_NEWEST_OF_EACH = (
    select(Event.branch_id, func.max(Event.position))
    .where(Event.branch_id.in_(bindparam("branch_ids", expanding=True)))
    .group_by(Event.branch_id)
)
_SEEN = "datang_newest_positions"  # in flask.g: branch id -> position, this page's


def page_read() -> bool:
    """Whether this is a request that writes no events (a GET): its positions stand."""
    return has_request_context() and request.method in ("GET", "HEAD")


def remember_positions(positions: dict[int, int]) -> None:
    """Positions a GET read with its sign-in: this page's, as if read here."""
    g.setdefault(_SEEN, {}).update(positions)


def newest_positions(branch_ids: Iterable[int]) -> dict[int, int]:
    """Branch id -> the position of its newest event (0: none yet)."""
    branch_ids = tuple(branch_ids)
    seen: dict[int, int] = g.setdefault(_SEEN, {}) if page_read() else {}
    missing = sorted(set(branch_ids) - seen.keys())
    connection = db.session.connection()
    if len(missing) == 1:
        seen[missing[0]] = connection.execute(_NEWEST, {"branch_id": missing[0]}).scalar() or 0
    elif missing:
        seen.update(dict.fromkeys(missing, 0))
        rows = connection.execute(_NEWEST_OF_EACH, {"branch_ids": missing})
        seen.update((branch_id, position) for branch_id, position in rows)
    return {branch_id: seen[branch_id] for branch_id in branch_ids}
