"""The wealth manager's view of the waiting area (巡视等候区, /waiting).

Today's waiting customers whose purpose, segment, needs, amount or route
suggest wealth business (app.lobby.views.suggests_wealth), with their wait,
whether anyone has spoken to them and their referral. One tap claims a
customer (visit.claimed; the lobby card shows who), another records what
came of it (visit.wealth_outcome). No free text here: nothing a person could
type a name or number into. A desk page: forms post online (app.events.record);
the list is polled every 3 s, 204 while nothing changed.
"""

from __future__ import annotations

from flask import make_response, redirect, request, url_for
from flask_login import current_user

from ..auth import current_branch, in_branch, role_required
from ..database import autocommit_reads, utcnow
from ..events import Rejected, record
from ..extensions import db
from ..htmx import is_htmx, render
from ..lobby import (
    all_need_labels,
    board_version,
    products,
    referrals_of,
    suggests_wealth,
    user_name,
    waiting_visits,
)
from ..models import Branch, Role, Visit
from ..supervisor import today_lines
from ..vocabulary import AMOUNT_BANDS, REFERRAL_RESULTS, label, labels
from . import bp
from .forms import WealthOutcomeForm


def list_context(branch: Branch, **extra) -> dict:
    visits = [v for v in waiting_visits(branch) if suggests_wealth(v)]
    now = utcnow()
    return {
        "branch": branch,
        "visits": visits,
        "referrals": referrals_of(visits),
        "labels": labels(),
        "label": label,
        "need_labels": all_need_labels(),
        "wait_minutes": lambda v: max(0, int((now - v.greeted_at).total_seconds() // 60)),
        "user_name": user_name,
        "me": current_user.id,
        "bands": AMOUNT_BANDS,
        "results": REFERRAL_RESULTS,
        "products": products(branch),
        "version": board_version(branch),
        "error": None,
        "error_visit": None,
        **extra,
    }


@bp.get("/waiting")
@role_required(Role.WEALTH_MANAGER)
def page():
    branch = current_branch()
    return render(
        "waiting/page.html",
        "waiting/_list.html",
        target_lines=today_lines(branch, current_user),
        **list_context(branch),
    )


@bp.get("/waiting/list")
@autocommit_reads
@role_required(Role.WEALTH_MANAGER)
def list_fragment():
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("waiting.page"))
    if request.args.get("since", "") == str(board_version(branch)):
        response = make_response("", 204)
        response.headers.add("Vary", "HX-Request")
        return response
    return render("waiting/_list.html", **list_context(branch))


@bp.post("/waiting/visits/<visit_id>/claim")
@role_required(Role.WEALTH_MANAGER)
def claim(visit_id: str):
    """ "I'll talk to them": a second wealth manager is told someone already is."""
    return record_on_visit(visit_id, "visit.claimed", {})


@bp.post("/waiting/visits/<visit_id>/outcome")
@role_required(Role.WEALTH_MANAGER)
def outcome(visit_id: str):
    return record_on_visit(visit_id, "visit.wealth_outcome", WealthOutcomeForm().payload())


def record_on_visit(visit_id: str, type_: str, payload: dict):
    branch = current_branch()
    visit = in_branch(Visit, visit_id, branch)
    error = None
    try:
        record(current_user, type_, branch=branch, subject_id=visit.id, payload=payload)
    except Rejected as rejected:
        error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("waiting.page"))
    db.session.expire_all()
    return render(
        "waiting/page.html",
        "waiting/_list.html",
        status=422 if error else 200,
        **list_context(branch, error=error, error_visit=visit_id),
    )
