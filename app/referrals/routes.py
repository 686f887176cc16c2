"""The referral desk (/referrals): the wealth manager's inbox and the teller's hand-off form.

A desk page, not offline: its forms post through app.events.record(), the same
write path as the tablets' sync, so a wealth manager's "on my way" carries the
server's time and two racing for one referral are judged in arrival order.
The list is polled every 2 s (204 while nothing changed), so every device of
the branch shows a new referral or its taker within the contract's 5 s.
"""

from __future__ import annotations

from datetime import timedelta

from flask import redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..auth import current_branch, in_branch, role_required
from ..database import autocommit_reads, utcnow
from ..events import Rejected, new_id, record
from ..extensions import db
from ..form_helpers import filled_in
from ..htmx import is_htmx, not_modified, render
from ..lobby import (
    board_version,
    branch_rules,
    complaints_context,
    large_cash_band,
    referral_overdue_in,
    referral_take_time,
    wealth_managers,
)
from ..models import Branch, Product, Referral, Role, Visit
from ..supervisor import today_lines
from ..vocabulary import (
    AMOUNT_BANDS,
    PURPOSES,
    REFER_TO,
    REFERRAL_RESULTS,
    SEGMENTS,
    label,
    labels,
)
from . import bp
from .forms import OutcomeForm, ReassignForm, ReferralForm

DESK_ROLES = (Role.WEALTH_MANAGER, Role.TELLER)
RECENT = timedelta(hours=24)


def referral_of_branch(referral_id: str, branch: Branch) -> Referral:
    return in_branch(Referral, referral_id, branch)


def visits_of(referrals: list[Referral]) -> dict[str, Visit]:
    ids = [r.visit_id for r in referrals if r.visit_id]
    if not ids:
        return {}
    return {v.id: v for v in db.session.scalars(select(Visit).where(Visit.id.in_(ids)))}


UNFINISHED = ("open", "accepted")


def list_context(branch: Branch) -> dict:
    since = utcnow() - RECENT
    query = select(Referral).where(Referral.branch_id == branch.id)
    open_ = db.session.scalars(
        query.where(Referral.status.in_(UNFINISHED)).order_by(Referral.created_at)
    ).all()
    recent = db.session.scalars(
        query.where(
            Referral.status.not_in(UNFINISHED),
            or_(Referral.outcome_at >= since, Referral.created_at >= since),
        )
        .order_by(Referral.created_at.desc())
        .limit(50)
    ).all()
    return {
        **common_context(branch),
        "branch": branch,
        "open": open_,
        "recent": recent,
        "visits": visits_of(list(open_) + list(recent)),
        "version": list_version(branch),
        "large_cash": large_cash_waiting(branch),
    }


def large_cash_waiting(branch: Branch) -> list[Visit]:
    """Waiting customers with cash at or above the branch's threshold: the wealth managers'
    alert (the source document sends large cash to the counter, not the machines)."""
    threshold = large_cash_band(branch_rules(branch.id))
    if threshold is None:
        return []
    bands = AMOUNT_BANDS[AMOUNT_BANDS.index(threshold) :]
    return list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.branch_id == branch.id,
                Visit.status == "waiting",
                Visit.purpose == "cash",
                Visit.amount_band.in_(bands),
            )
            .order_by(Visit.greeted_at)
        )
    )


def list_version(branch: Branch) -> str:
    """The branch's latest event and how many open referrals are overdue.

    The list changes when a referral or its visit does (a large-cash alert
    too), or when an open one passes the branch's time to take (it turns amber).
    """
    overdue = db.session.scalar(
        select(func.count(Referral.id)).where(
            Referral.branch_id == branch.id,
            Referral.status == "open",
            Referral.created_at <= utcnow() - referral_take_time(branch),
        )
    )
    return f"{board_version(branch)}-{overdue}"


def common_context(branch: Branch) -> dict:
    now = utcnow()
    return {
        "labels": labels(),
        "label": label,
        "now": now,
        "can_record": current_user.role is Role.WEALTH_MANAGER,
        "can_send": current_user.role is Role.TELLER,
        "me": current_user.id,
        "colleagues": wealth_managers(branch),
        "overdue_in": lambda r: referral_overdue_in(r, branch, now),
        "products": db.session.scalars(
            select(Product)
            .where(Product.branch_id == branch.id, Product.active.is_(True))
            .order_by(Product.id)
        ).all(),
        "bands": AMOUNT_BANDS,
        "results": REFERRAL_RESULTS,
        "refer_to": REFER_TO,
        "purposes": PURPOSES,
        "segments": SEGMENTS,
    }


@bp.get("/referrals")
@role_required(*DESK_ROLES)
def inbox():
    branch = current_branch()
    complaints = complaints_context(branch) if current_user.role is Role.TELLER else {}
    return render(
        "referrals/inbox.html",
        "referrals/_list.html",
        **list_context(branch),
        **complaints,
        target_lines=today_lines(branch, current_user),
    )


@bp.get("/referrals/list")
@autocommit_reads
@role_required(*DESK_ROLES)
def list_fragment():
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("referrals.inbox"))
    if request.args.get("since", "") == list_version(branch):
        return not_modified()  # nothing new: keep what is on screen (and typed)
    return render("referrals/_list.html", **list_context(branch))


@bp.get("/referrals/<referral_id>")
@role_required(*DESK_ROLES)
def referral_fragment(referral_id: str):
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    if not is_htmx():
        return redirect(url_for("referrals.inbox"))
    return render(
        "referrals/_referral.html",
        r=referral,
        visits=visits_of([referral]),
        **common_context(branch),
    )


@bp.post("/referrals")
@role_required(Role.TELLER)
def create():
    """A teller hands a customer at the counter to a wealth manager (no visit)."""
    branch = current_branch()
    form = ReferralForm()
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]  # the consent's: the only field checked
    else:
        try:
            record(
                current_user,
                "referral.created",
                branch=branch,
                subject_id=new_id(),
                payload=form.payload(),
            )
        except Rejected as rejected:
            error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("referrals.inbox"))
    return render(
        "referrals/inbox.html",
        "referrals/_desk.html",
        status=422 if error else 200,
        error=error,
        form=filled_in(form) if error else {},
        **list_context(branch),
    )


@bp.post("/referrals/<referral_id>/outcome")
@role_required(Role.WEALTH_MANAGER)
def outcome(referral_id: str):
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    return record_on_referral(branch, referral, "referral.outcome", OutcomeForm().payload())


@bp.post("/referrals/<referral_id>/accept")
@role_required(Role.WEALTH_MANAGER)
def accept(referral_id: str):
    """ "On my way": the wealth manager takes the referral (already_taken if someone did)."""
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    return record_on_referral(branch, referral, "referral.accepted", {})


@bp.post("/referrals/<referral_id>/reassign")
@role_required(Role.WEALTH_MANAGER)
def reassign(referral_id: str):
    """Hand the referral to a colleague: open again, assigned to them."""
    branch = current_branch()
    referral = referral_of_branch(referral_id, branch)
    assignee = ReassignForm().assignee.data
    return record_on_referral(branch, referral, "referral.reassigned", {"assignee": assignee})


def record_on_referral(branch: Branch, referral: Referral, type: str, payload: dict):
    """Record one event on a referral; answer with the referral as it now stands.

    A refused event (already_taken, a bad outcome) answers 422 with the message
    in the card, so htmx shows both the reason and who has the referral now.
    """
    error = None
    try:
        record(current_user, type, branch=branch, subject_id=referral.id, payload=payload)
    except Rejected as rejected:
        error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("referrals.inbox"))
    db.session.expire_all()
    referral = db.session.get_one(Referral, referral.id)
    return render(
        "referrals/inbox.html",
        "referrals/_answer.html",
        status=422 if error else 200,
        r=referral,
        error=error,
        **{**list_context(branch), "visits": visits_of([referral])},
    )
