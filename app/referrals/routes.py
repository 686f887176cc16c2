"""The referral desk (/referrals): the wealth manager's inbox and the teller's hand-off form.

A desk page, not offline: its forms post through app.events.record(), the same
write path as the tablets' sync.
"""
from __future__ import annotations

from datetime import timedelta

from flask import redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..auth.session import current_branch, in_branch, role_required
from ..database import utcnow
from ..events import Rejected, new_id, record
from ..extensions import db
from ..htmx import is_htmx, not_modified, render, unchanged_since
from ..lobby.codes import AMOUNT_BANDS, PURPOSES, REFER_TO, REFERRAL_RESULTS, SEGMENTS, label
from ..lobby.complaints import complaints_context
from ..lobby.rules import branch_rules, large_cash_band
from ..lobby.views import labels
from ..models import Branch, Event, Referral, Role, Visit
from ..supervisor.focus import today_lines
from . import bp

DESK_ROLES = (Role.WEALTH_MANAGER, Role.TELLER)
RECENT = timedelta(hours=24)


def referral_of_branch(referral_id: str, branch: Branch) -> Referral:
    return in_branch(Referral, referral_id, branch)


def visits_of(referrals: list[Referral]) -> dict[str, Visit]:
    ids = [r.visit_id for r in referrals if r.visit_id]
    if not ids:
        return {}
    return {v.id: v for v in db.session.scalars(select(Visit).where(Visit.id.in_(ids)))}


def list_context(branch: Branch) -> dict:
    since = utcnow() - RECENT
    query = select(Referral).where(Referral.branch_id == branch.id)
    open_ = db.session.scalars(query.where(Referral.status == "open")
                               .order_by(Referral.created_at)).all()
    recent = db.session.scalars(query.where(
        Referral.status != "open", or_(Referral.outcome_at >= since, Referral.created_at >= since))
        .order_by(Referral.created_at.desc()).limit(50)).all()
    return {**common_context(), "branch": branch, "open": open_, "recent": recent,
            "visits": visits_of(list(open_) + list(recent)), "version": list_version(branch),
            "large_cash": large_cash_waiting(branch)}


def large_cash_waiting(branch: Branch) -> list[Visit]:
    """Waiting customers with cash at or above the branch's threshold: the wealth managers'
    alert (the source document sends large cash to the counter, not the machines)."""
    threshold = large_cash_band(branch_rules(branch.id))
    if threshold is None:
        return []
    bands = AMOUNT_BANDS[AMOUNT_BANDS.index(threshold):]
    return list(db.session.scalars(select(Visit).where(
        Visit.branch_id == branch.id, Visit.status == "waiting", Visit.purpose == "cash",
        Visit.amount_band.in_(bands)).order_by(Visit.greeted_at)))


# Events that may start or end a large-cash alert on the list.
LARGE_CASH_TYPES = ("visit.triaged", "visit.updated", "visit.closed", "visit.undone")


def list_version(branch: Branch) -> int:
    """The position of the branch's latest referral or large-cash event: the list changes
    only when one does."""
    return db.session.scalar(select(func.max(Event.position)).where(
        Event.branch_id == branch.id,
        or_(Event.type.like("referral.%"), Event.type.in_(LARGE_CASH_TYPES)))) or 0


def common_context() -> dict:
    return {"labels": labels(), "label": label, "now": utcnow(),
            "can_record": current_user.role is Role.WEALTH_MANAGER,
            "can_send": current_user.role is Role.TELLER,
            "bands": AMOUNT_BANDS, "results": REFERRAL_RESULTS, "refer_to": REFER_TO,
            "purposes": PURPOSES, "segments": SEGMENTS}


@bp.get("/referrals")
@role_required(*DESK_ROLES)
def inbox():
    branch = current_branch()
    complaints = complaints_context(branch) if current_user.role is Role.TELLER else {}
    return render("referrals/inbox.html", "referrals/_list.html", **list_context(branch),
                  **complaints, target_lines=today_lines(branch, current_user))


@bp.get("/referrals/list")
@role_required(*DESK_ROLES)
def list_fragment():
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("referrals.inbox"))
    context = list_context(branch)
    if unchanged_since(context["version"]):
        return not_modified()  # nothing new: keep what is on screen (and typed)
    return render("referrals/_list.html", **context)


@bp.get("/referrals/<referral_id>")
@role_required(*DESK_ROLES)
def referral_fragment(referral_id: str):
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    if not is_htmx():
        return redirect(url_for("referrals.inbox"))
    return render("referrals/_referral.html", r=referral, visits=visits_of([referral]),
                  **common_context())


@bp.post("/referrals")
@role_required(Role.TELLER)
def create():
    """A teller hands a customer at the counter to a wealth manager (no visit)."""
    branch = current_branch()
    form = request.form
    payload: dict = {"to": form.get("to", "")}
    for name in ("purpose", "segment"):
        if form.get(name):
            payload[name] = form[name]
    if form.get("note", "").strip():
        payload["note"] = form["note"].strip()
    error = None
    try:
        record(current_user, "referral.created", branch=branch, subject_id=new_id(),
               payload=payload)
    except Rejected as rejected:
        error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("referrals.inbox"))
    return render("referrals/inbox.html", "referrals/_desk.html", status=422 if error else 200,
                  error=error, form=form if error else {}, **list_context(branch))


@bp.post("/referrals/<referral_id>/outcome")
@role_required(Role.WEALTH_MANAGER)
def outcome(referral_id: str):
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    form = request.form
    payload: dict = {"result": form.get("result", "")}
    # The band select sits beside every button; it belongs to a sale only.
    if payload["result"] == "sold" and form.get("amount_band"):
        payload["amount_band"] = form["amount_band"]
    if form.get("note", "").strip():
        payload["note"] = form["note"].strip()
    error = None
    try:
        record(current_user, "referral.outcome", branch=branch, subject_id=referral.id,
               payload=payload)
    except Rejected as rejected:
        error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("referrals.inbox"))
    db.session.expire_all()
    referral = db.session.get(Referral, referral_id)
    return render("referrals/inbox.html", "referrals/_referral.html", status=422 if error else 200,
                  r=referral, error=error, **{**list_context(branch), "visits": visits_of([referral])})
