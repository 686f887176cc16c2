"""The lobby manager's pages. Every write on them goes through the tablet's outbox
(static/js/lobby.js -> Datang.record -> POST /api/v1/sync); these views only read,
except the admin's settings page, which edits configuration, not events.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth import current_branch, in_branch, role_required
from ..database import autocommit_reads
from ..extensions import db
from ..htmx import is_htmx, not_modified, render, unchanged_since
from ..models import Branch, NeedTag, Role, SelfServiceMachine, Visit
from ..supervisor import today_lines
from ..vocabulary import AMOUNT_BANDS, PURPOSES, ROUTES
from . import bp
from .complaints import complaints_context
from .forms import LobbySettingsForm
from .history import history
from .panels import lobby_panels
from .rules import branch_rules, save_rules
from .views import (
    board_context,
    board_html,
    board_version,
    referrals_of,
    static_context,
    user_name,
)


def visit_of_branch(visit_id: str, branch: Branch) -> Visit:
    return in_branch(Visit, visit_id, branch)


@bp.get("/lobby")
@autocommit_reads
@role_required(Role.LOBBY_MANAGER)
def board():
    branch = current_branch()
    if is_htmx():
        return board_response(branch)
    return render(
        "lobby/board.html",
        board=board_html(branch),
        **lobby_panels(branch),
        **complaints_context(branch),
        target_lines=today_lines(branch, current_user),
    )


def board_response(branch: Branch):
    response = make_response(board_html(branch))
    response.headers.add("Vary", "HX-Request")
    return response


@bp.get("/lobby/board")
@autocommit_reads
@role_required(Role.LOBBY_MANAGER)
def board_fragment():
    """The waiting board alone, polled by the tablet; 204 when nothing changed since `since`."""
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("lobby.board"))
    # The wait times tick on the tablet itself; only a new event changes the board.
    if unchanged_since(board_version(branch)):
        return not_modified()
    return board_response(branch)


@bp.get("/lobby/complaints")
@role_required(Role.LOBBY_MANAGER)
def complaints_fragment():
    """The open complaints on the tablet, asked for again after every sync that moved something."""
    branch = current_branch()
    if not is_htmx():
        return redirect(url_for("lobby.board"))
    return render("_complaint_list.html", **complaints_context(branch), back="lobby")


@bp.get("/lobby/visits/<visit_id>")
@role_required(Role.LOBBY_MANAGER)
def visit_detail(visit_id: str):
    branch = current_branch()
    visit = visit_of_branch(visit_id, branch)
    context = board_context(branch)
    context.update(
        visit=visit,
        rows=history(visit),
        user_name=user_name,
        referral=referrals_of([visit]).get(visit.referral_id or ""),
    )
    return render("lobby/visit.html", "lobby/_history.html", **context)


@bp.get("/lobby/visits/<visit_id>/card")
@role_required(Role.LOBBY_MANAGER)
def visit_card(visit_id: str):
    branch = current_branch()
    visit = visit_of_branch(visit_id, branch)
    if not is_htmx():
        return redirect(url_for("lobby.visit_detail", visit_id=visit.id))
    return render("lobby/_visit_card.html", **board_context(branch), visit=visit)


# --- the admin's settings ------------------------------------------------------


def settings_branch() -> Branch:
    code = request.values.get("branch")
    query = select(Branch).where(Branch.active.is_(True)).order_by(Branch.code)
    if code:
        query = select(Branch).where(Branch.code == code)
    branch = db.session.scalar(query)
    if branch is None:
        abort(404)
    return branch


def settings_context(branch: Branch, errors: list[str] | None = None) -> dict:
    rules = branch_rules(branch.id)
    base = {r.purpose: r.route for r in rules if r.min_band is None}
    large = {r.purpose: (r.min_band, r.route) for r in rules if r.min_band is not None}
    return {
        "branch": branch,
        "errors": errors or [],
        "branches": db.session.scalars(select(Branch).order_by(Branch.code)).all(),
        "purposes": PURPOSES,
        "routes": ROUTES,
        "bands": AMOUNT_BANDS,
        "base": base,
        "large": large,
        "machines_text": "\n".join(
            db.session.scalars(
                select(SelfServiceMachine.name)
                .where(SelfServiceMachine.branch_id == branch.id)
                .order_by(SelfServiceMachine.position, SelfServiceMachine.id)
            )
        ),
        "tags": db.session.scalars(select(NeedTag).order_by(NeedTag.position, NeedTag.id)).all(),
        **static_context(branch),
    }


@bp.route("/lobby/settings", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def settings():
    """Triage rules and self-service machines per branch; the need tags (all branches)."""
    branch = settings_branch()
    if request.method == "GET":
        return render("lobby/settings.html", "lobby/_settings.html", **settings_context(branch))
    tags = db.session.scalars(select(NeedTag).order_by(NeedTag.position, NeedTag.id)).all()
    form = LobbySettingsForm.for_tags(tags)
    if not form.validate():
        return render(
            "lobby/settings.html",
            "lobby/_settings.html",
            status=422,
            **settings_context(branch, form.problems),
        )
    save_rules(branch.id, form.rules)
    for row in db.session.scalars(
        select(SelfServiceMachine).where(SelfServiceMachine.branch_id == branch.id)
    ):
        db.session.delete(row)
    db.session.flush()
    for position, name in enumerate(form.machine_names):
        db.session.add(SelfServiceMachine(branch_id=branch.id, name=name, position=position))
    for tag, name, name_en, active in form.tag_updates:
        tag.name, tag.name_en, tag.active = name, name_en, active
    if form.new_tag:
        code, name, name_en = form.new_tag
        db.session.add(NeedTag(code=code, name=name, name_en=name_en, position=len(tags)))
    db.session.commit()
    flash(_("Lobby settings saved."), "ok")
    if is_htmx():
        return render("lobby/_settings.html", **settings_context(branch))
    return redirect(url_for("lobby.settings", branch=branch.code))
