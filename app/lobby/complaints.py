"""Complaints followed through (客户投诉, and the customer comment book 客户意见簿).

A complaint is its own subject, `complaint`, like a fault: `complaint.opened`
(from the lobby, the teller's counter or the comment book) starts it,
`complaint.responded` records that someone answered the customer, and
`complaint.resolved` closes it. Each records who and when; an open complaint
stays on the lobby's board and the checklist, day after day, until resolved.
The supervisor sees the open ones and the response times.

The forms below post online and go through the same write path (`record`).
Documented in docs/events-lobby.md.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import abort, current_app, redirect, url_for
from flask_login import current_user
from pydantic import Field, field_validator
from sqlalchemy import Row, bindparam, delete, select

from ..auth import current_branch, role_required
from ..events import (
    Applied,
    Payload,
    Rejected,
    event_type,
    find_row,
    new_id,
    new_row,
    newest_positions,
    page_read,
    queue_row,
    record,
    register_aggregate,
)
from ..extensions import db
from ..htmx import render
from ..models import Branch, Complaint, Role, Subject
from ..privacy import FreeText
from ..vocabulary import (
    COMPLAINT_CATEGORIES,
    COMPLAINT_CATEGORY_LABELS,
    COMPLAINT_SOURCE_LABELS,
    COMPLAINT_SOURCES,
    COMPLAINT_STATUS_LABELS,
    ComplaintCategory,
    ComplaintSource,
)
from . import bp
from .forms import ComplaintForm, ComplaintStepForm

OPENERS = {Role.LOBBY_MANAGER, Role.TELLER}
RESPONDERS = {Role.LOBBY_MANAGER, Role.TELLER, Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR}
RESOLVERS = {Role.LOBBY_MANAGER, Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR}


class ComplaintOpened(Payload):
    category: ComplaintCategory
    source: ComplaintSource
    visit_id: str | None = Field(default=None, max_length=36)
    note: FreeText | None = Field(default=None, max_length=500)

    @field_validator("visit_id")
    @classmethod
    def _uuid(cls, value):
        if value is None:
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID") from None


class ComplaintStep(Payload):
    note: FreeText | None = Field(default=None, max_length=500)


def _reset(subject: Subject) -> None:
    db.session.execute(delete(Complaint).where(Complaint.id == subject.id))


register_aggregate("complaint", _reset)


@event_type(
    "complaint.opened",
    kind="complaint",
    payload=ComplaintOpened,
    roles=OPENERS,
    creates_subject=True,
    description="A complaint from the lobby, the teller's counter or the customer "
    "comment book: open until complaint.resolved.",
)
def opened(a: Applied) -> None:
    p: ComplaintOpened = a.payload
    queue_row(
        new_row(
            Complaint,
            id=a.subject.id,
            branch_id=a.branch.id,
            category=p.category,
            source=p.source,
            visit_id=p.visit_id,
            note=(p.note or "").strip() or None,
            status="open",
            opened_at=a.event.occurred_at,
            opened_by_id=a.event.user_id,
            responded_at=None,
            responded_by_id=None,
            response_note=None,
            resolved_at=None,
            resolved_by_id=None,
            resolve_note=None,
        )
    )


@event_type(
    "complaint.responded",
    kind="complaint",
    payload=ComplaintStep,
    roles=RESPONDERS,
    description="Someone answered the customer; the first response counts for the response time.",
)
def responded(a: Applied) -> None:
    complaint = find_row(Complaint, a.subject.id)
    if complaint.responded_at is None:
        complaint.responded_at = a.event.occurred_at
        complaint.responded_by_id = a.event.user_id
        complaint.response_note = (a.payload.note or "").strip() or None
    if complaint.status == "open":
        complaint.status = "responded"


@event_type(
    "complaint.resolved",
    kind="complaint",
    payload=ComplaintStep,
    roles=RESOLVERS,
    description="The complaint is settled; the first resolution counts.",
)
def resolved(a: Applied) -> None:
    complaint = find_row(Complaint, a.subject.id)
    if complaint.resolved_at is None:
        complaint.resolved_at = a.event.occurred_at
        complaint.resolved_by_id = a.event.user_id
        complaint.resolve_note = (a.payload.note or "").strip() or None
    complaint.status = "resolved"


# --- reading -----------------------------------------------------------------------


# Built once: the lobby page asks on every load, and building it cost more than running it.
_OPEN_COMPLAINTS = (
    select(Complaint)
    .where(
        Complaint.branch_id.in_(bindparam("branch_ids", expanding=True)),
        Complaint.status != "resolved",
    )
    .order_by(Complaint.opened_at)
)


def open_complaints(branch_ids: list[int] | set[int]) -> list[Complaint]:
    """Every complaint not yet resolved, oldest first: they carry over from day to day."""
    return list(db.session.scalars(_OPEN_COMPLAINTS, {"branch_ids": list(branch_ids)}))


# In app.extensions (one per app, so per database): branch id -> (the position of its
# newest event, its open complaints as rows). Small, mostly empty lists; emptied when full.
_OPEN_CACHE = "datang_open_complaints"
OPEN_CACHE_ENTRIES = 4096
_OPEN_OF_BRANCH = (
    select(Complaint.__table__)
    .where(Complaint.branch_id == bindparam("branch_id"), Complaint.status != "resolved")
    .order_by(Complaint.opened_at)
)


def branch_open_complaints(branch: Branch) -> tuple[Row, ...]:
    """`open_complaints` of one branch, as rows, read again only after its next event.

    Complaints change by events alone, and each event moves the branch's position,
    which a page reads anyway (with its sign-in: app/auth/session.py). Only a page
    (a GET) keeps or takes them: a write's own events are not yet committed.
    """

    def read() -> tuple[Row, ...]:
        return tuple(db.session.connection().execute(_OPEN_OF_BRANCH, {"branch_id": branch.id}))

    if not page_read():
        return read()
    position = newest_positions([branch.id])[branch.id]
    cache = current_app.extensions.setdefault(_OPEN_CACHE, {})
    cached = cache.get(branch.id)
    if cached is None or cached[0] != position:
        if len(cache) >= OPEN_CACHE_ENTRIES and branch.id not in cache:
            cache.clear()
        cached = cache[branch.id] = (position, read())
    return cached[1]


def response_minutes(branch_ids, start: datetime, end: datetime) -> dict:
    """Complaints opened in [start, end): how many, answered, resolved, minutes to respond."""
    rows = db.session.scalars(
        select(Complaint).where(
            Complaint.branch_id.in_(list(branch_ids)),
            Complaint.opened_at >= start,
            Complaint.opened_at < end,
        )
    ).all()
    minutes = sorted(
        (c.responded_at - c.opened_at).total_seconds() / 60
        for c in rows
        if c.responded_at is not None
    )
    return {
        "opened": len(rows),
        "responded": len(minutes),
        "resolved": sum(1 for c in rows if c.resolved_at is not None),
        "median_minutes": round(minutes[len(minutes) // 2]) if minutes else None,
        "by_category": {
            k: sum(1 for c in rows if c.category == k)
            for k in COMPLAINT_CATEGORIES
            if any(c.category == k for c in rows)
        },
    }


def complaints_context(branch: Branch) -> dict:
    """What the _complaints.html partial needs."""
    return {
        "complaints": branch_open_complaints(branch),
        "complaint_categories": COMPLAINT_CATEGORIES,
        "complaint_sources": COMPLAINT_SOURCES,
        "category_labels": COMPLAINT_CATEGORY_LABELS,
        "source_labels": COMPLAINT_SOURCE_LABELS,
        "complaint_status_labels": COMPLAINT_STATUS_LABELS,
        "can_open_complaint": current_user.role in OPENERS,
        "can_respond_complaint": current_user.role in RESPONDERS,
        "can_resolve_complaint": current_user.role in RESOLVERS,
    }


# --- the forms -----------------------------------------------------------------------


def _back(form: ComplaintStepForm, error: str | None = None):
    """Back to the page the form was on; a refused form answers 422 with the message."""
    if error is not None:
        return render("error.html", "_error_fragment.html", status=422, message=error)
    target = form.back.data
    allowed = {
        "lobby": "lobby.board",
        "checklist": "checklist.today",
        "referrals": "referrals.inbox",
    }
    return redirect(url_for(allowed.get(target, "auth.home")))


@bp.post("/complaints")
@role_required(*OPENERS)
def complaint_open():
    branch = current_branch()
    form = ComplaintForm()
    payload = {
        "category": form.category.data,
        "source": form.source.data or ("teller" if current_user.role is Role.TELLER else "lobby"),
    }
    if form.note.data:
        payload["note"] = form.note.data
    try:
        record(
            current_user, "complaint.opened", branch=branch, subject_id=new_id(), payload=payload
        )
    except Rejected as rejected:
        return _back(form, rejected.message)
    return _back(form)


def _step(complaint_id: str, type_: str):
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None:
        abort(404)
    if not any(b.id == complaint.branch_id for b in current_user.branches):
        abort(403)  # another branch's (a supervisor answers in any of theirs)
    branch = db.session.get_one(Branch, complaint.branch_id)
    form = ComplaintStepForm()
    payload = {"note": form.note.data} if form.note.data else {}
    try:
        record(current_user, type_, branch=branch, subject_id=complaint.id, payload=payload)
    except Rejected as rejected:
        return _back(form, rejected.message)
    return _back(form)


@bp.post("/complaints/<complaint_id>/respond")
@role_required(*RESPONDERS)
def complaint_respond(complaint_id: str):
    return _step(complaint_id, "complaint.responded")


@bp.post("/complaints/<complaint_id>/resolve")
@role_required(*RESOLVERS)
def complaint_resolve(complaint_id: str):
    return _step(complaint_id, "complaint.resolved")
