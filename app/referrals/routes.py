"""The referral desk (/referrals): the wealth manager's inbox and the teller's hand-off form.

A desk page, not offline: its forms post through app.events.record(), the same
write path as the tablets' sync.
"""
from __future__ import annotations

from datetime import timedelta

from flask import make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..auth.session import current_branch, in_branch, role_required
from ..database import utcnow
from ..events import Rejected, new_id, record
from ..extensions import db
from ..htmx import is_htmx, render
from ..lobby.codes import AMOUNT_BANDS, PURPOSES, REFER_TO, REFERRAL_RESULTS, SEGMENTS, label
from ..lobby.views import labels
from ..models import Branch, Event, Referral, Role, Visit
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
            "visits": visits_of(list(open_) + list(recent)), "version": list_version(branch)}


def list_version(branch: Branch) -> int:
    """The position of the branch's latest referral event: the list changes only when it does."""
    return db.session.scalar(select(func.max(Event.position)).where(
        Event.branch_id == branch.id, Event.type.like("referral.%"))) or 0


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
    return render("referrals/inbox.html", "referrals/_list.html", **list_context(branch))


@bp.get("/referrals/list")
@role_required(*DESK_ROLES)
def list_fragment():
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("referrals.inbox"))
    context = list_context(branch)
    since = request.args.get("since", "")
    if since.isdigit() and int(since) == context["version"]:
        response = make_response("", 204)  # nothing new: keep what is on screen (and typed)
        response.headers.add("Vary", "HX-Request")
        return response
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
    referral = db.session.get_one(Referral, referral_id)
    return render("referrals/inbox.html", "referrals/_referral.html", status=422 if error else 200,
                  r=referral, error=error, **{**list_context(branch), "visits": visits_of([referral])})
