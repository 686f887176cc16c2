"""The audit log: who recorded what, when, from which device; and who signed in.

Read-only by design. Events are never edited or deleted through the app (a
correction is a new event, such as `visit.undone`); these pages only list them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..events import EVENT_TYPES
from ..extensions import db
from ..htmx import render
from ..models import Branch, Event, SignIn, User
from . import bp
from .forms import AuditFilterForm, SignInFilterForm

PAGE_SIZE = 50


def _users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def _branches() -> list[Branch]:
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))


def _start_of(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _events_matching(filters: AuditFilterForm, users: list[User], branches: list[Branch]):
    query = select(Event)
    if filters.user.data:
        query = query.where(
            Event.user_id == next(u.id for u in users if u.username == filters.user.data)
        )
    if filters.branch.data:
        query = query.where(
            Event.branch_id == next(b.id for b in branches if b.code == filters.branch.data)
        )
    if filters.type.data:
        query = query.where(Event.type == filters.type.data)
    if filters.device.data:
        query = query.where(Event.device_id == filters.device.data.strip())
    # Days are the admin's days: the app's time zone, not UTC.
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    if filters.day_from.data:
        query = query.where(Event.occurred_at >= _start_of(filters.day_from.data, zone))
    if filters.day_to.data:
        query = query.where(
            Event.occurred_at < _start_of(filters.day_to.data + timedelta(days=1), zone)
        )
    if filters.before.data:
        query = query.where(Event.position < filters.before.data)
    # One row more than a page tells whether there is an older page.
    rows = list(db.session.scalars(query.order_by(Event.position.desc()).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@bp.get("/admin/audit")
def audit():
    users, branches = _users(), _branches()
    filters = AuditFilterForm(request.args)
    filters.set_choices(users, branches, sorted(EVENT_TYPES))
    if filters.validate():
        events, more = _events_matching(filters, users, branches)
        status = 200
    else:
        events, more, status = [], False, 400
    older = dict(request.args.to_dict(), before=events[-1].position) if more else None
    return render(
        "admin/audit.html",
        "admin/_audit_table.html",
        status=status,
        filters=filters,
        events=events,
        older=older,
    )


@bp.get("/admin/sign-ins")
def sign_ins():
    users = _users()
    filters = SignInFilterForm(request.args)
    filters.set_choices(users)
    if not filters.validate():
        return render(
            "admin/sign_ins.html",
            "admin/_sign_in_table.html",
            status=400,
            filters=filters,
            sign_ins=[],
            older=None,
        )
    page = filters.page.data or 1
    query = select(SignIn).options(joinedload(SignIn.user))
    if filters.user.data:
        query = query.join(User).where(User.username == filters.user.data)
    rows = list(
        db.session.scalars(
            query.order_by(SignIn.started_at.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    older = dict(request.args.to_dict(), page=page + 1) if len(rows) > PAGE_SIZE else None
    return render(
        "admin/sign_ins.html",
        "admin/_sign_in_table.html",
        filters=filters,
        sign_ins=rows[:PAGE_SIZE],
        older=older,
    )
