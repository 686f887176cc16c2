"""The teller's counter page (/counter): today's visit by ticket number, and what the
teller adds to it - the call to the counter, the one-sentence pitch (一句话营销), small
cash work sent to the machines, a referral to a wealth manager.

A desk page: its forms post online through the write path (app.events), so
what the teller records shows on the lobby's board and the wealth manager's
inbox at their next poll.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth import current_branch, in_branch, role_required
from ..database import autocommit_reads, utcnow
from ..events import Rejected, new_id, record, record_together
from ..extensions import db
from ..htmx import is_htmx, render
from ..i18n import ui_lang
from ..lobby import (
    board_version,
    machines,
    products,
    referrals_of,
    user_name,
    wealth_managers,
)
from ..models import Branch, Role, Visit
from ..supervisor import today_lines
from ..vocabulary import RESPONSES, label, labels
from . import bp
from .forms import CounterStepForm

TICKET_MAX = 10


def start_of_today(branch: Branch) -> datetime:
    """Midnight of the branch's local day, in UTC: "today's" visits are greeted since."""
    zone = ZoneInfo(branch.timezone or "Asia/Shanghai")
    local_day = utcnow().astimezone(zone).date()
    return datetime.combine(local_day, time(0), zone).astimezone(UTC)


def todays_visit(branch: Branch, ticket: str) -> Visit | None:
    """The latest visit greeted today with this ticket number (not a void one)."""
    return db.session.scalar(
        select(Visit)
        .where(
            Visit.branch_id == branch.id,
            Visit.ticket == ticket,
            Visit.status != "void",
            Visit.greeted_at >= start_of_today(branch),
        )
        .order_by(Visit.greeted_at.desc())
        .limit(1)
    )


def page_context(branch: Branch, visit: Visit | None, **extra) -> dict:
    return {
        "branch": branch,
        "visit": visit,
        "labels": labels(),
        "label": label,
        "now": utcnow(),
        "responses": RESPONSES,
        "products": products(branch),
        "machines": machines(branch),
        "colleagues": wealth_managers(branch),
        "referral": referrals_of([visit]).get(visit.referral_id)
        if visit and visit.referral_id
        else None,
        "product_names": {p.code: p.display_name(ui_lang()) for p in products(branch)},
        "user_name": user_name,
        "error": None,
        "ticket": "",
        "version": board_version(branch),
        **extra,
    }


@bp.get("/counter")
@role_required(Role.TELLER)
def page():
    branch = current_branch()
    ticket = request.args.get("ticket", "").strip()[:TICKET_MAX]
    visit = todays_visit(branch, ticket) if ticket else None
    error = (
        _("No visit with ticket %(ticket)s today.", ticket=ticket) if ticket and not visit else None
    )
    return render(
        "counter/page.html",
        "counter/_visit.html",
        status=404 if error else 200,
        target_lines=today_lines(branch, current_user),
        **page_context(branch, visit, ticket=ticket, error=error),
    )


@bp.get("/counter/visits/<visit_id>")
@autocommit_reads
@role_required(Role.TELLER)
def visit_fragment(visit_id: str):
    """The visit's summary alone, polled: a wealth manager taking its referral shows here."""
    branch = current_branch()
    visit = in_branch(Visit, visit_id, branch)
    if not is_htmx():
        return redirect(url_for("counter.page", ticket=visit.ticket or ""))
    if request.args.get("since", "") == str(board_version(branch)):
        response = make_response("", 204)
        response.headers.add("Vary", "HX-Request")
        return response
    return render("counter/_summary.html", **page_context(branch, visit, ticket=visit.ticket))


@bp.post("/counter/visits/<visit_id>/call")
@role_required(Role.TELLER)
def call(visit_id: str):
    return act(visit_id, "call")


@bp.post("/counter/visits/<visit_id>/pitch")
@role_required(Role.TELLER)
def pitch(visit_id: str):
    return act(visit_id, "pitch")


@bp.post("/counter/visits/<visit_id>/divert")
@role_required(Role.TELLER)
def divert(visit_id: str):
    return act(visit_id, "divert")


@bp.post("/counter/visits/<visit_id>/refer")
@role_required(Role.TELLER)
def refer_to_wealth(visit_id: str):
    return act(visit_id, "refer")


def act(visit_id: str, action: str):
    """One of the teller's steps on the visit: call, pitch, divert, refer."""
    branch = current_branch()
    visit = in_branch(Visit, visit_id, branch)
    form = CounterStepForm()
    error = None
    try:
        if action == "call":
            counter = form.counter.data
            record(
                current_user,
                "visit.called",
                branch=branch,
                subject_id=visit.id,
                payload={"counter": counter} if counter else {},
            )
        elif action == "pitch":
            record(
                current_user,
                "visit.pitched",
                branch=branch,
                subject_id=visit.id,
                payload={"product": form.product.data, "response": form.response.data},
            )
        elif action == "divert":
            payload = {"route": "self_service"}
            if form.machine.data:
                payload["machine"] = form.machine.data
            record(
                current_user, "visit.triaged", branch=branch, subject_id=visit.id, payload=payload
            )
        else:
            refer(branch, visit, form)
    except Rejected as rejected:
        error = rejected.message
    if not is_htmx() and not error:
        return redirect(url_for("counter.page", ticket=visit.ticket or ""))
    db.session.expire_all()
    visit = db.session.get_one(Visit, visit_id)
    return render(
        "counter/page.html",
        "counter/_visit.html",
        status=422 if error else 200,
        **page_context(branch, visit, ticket=visit.ticket, error=error),
    )


def refer(branch: Branch, visit: Visit, form: CounterStepForm) -> None:
    """A referral to a wealth manager tied to the visit: referral.created and visit.referred,
    in one transaction (both or neither), as the lobby tablet sends them in one batch.

    :raise Rejected: either event refused; nothing is written.
    """
    if form.consent.data != "yes":
        raise Rejected(
            "no_consent",
            _("Ask the customer first: refer only when they agree to go to the wealth area."),
        )
    referral_id = new_id()
    created = {"visit_id": visit.id, "to": "wealth", "consent": True, "purpose": visit.purpose}
    if visit.segment:
        created["segment"] = visit.segment
    if form.assignee.data:
        created["assignee"] = form.assignee.data
    referred = {"referral_id": referral_id, "to": "wealth"}
    note = form.note.data
    if note:
        created["note"] = referred["note"] = note
    record_together(
        current_user,
        branch,
        [("referral.created", referral_id, created), ("visit.referred", visit.id, referred)],
    )
