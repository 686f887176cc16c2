from __future__ import annotations

from flask import abort, g, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth.session import role_required
from ..events import Rejected, new_id, record
from ..extensions import db
from ..htmx import render
from ..models import Role, Visit
from . import bp
from .events import PURPOSES


def current_branch():
    branch = current_user.home_branch
    if branch is None:
        abort(403)
    g.branch = branch
    return branch


def waiting_visits(branch):
    return db.session.scalars(
        select(Visit).where(Visit.branch_id == branch.id, Visit.status == "waiting")
        .order_by(Visit.greeted_at)).all()


@bp.get("/lobby")
@role_required(Role.LOBBY_MANAGER)
def board():
    branch = current_branch()
    return render("lobby/board.html", "lobby/_board.html", branch=branch,
                  visits=waiting_visits(branch), purposes=PURPOSES)


@bp.post("/lobby/visits")
@role_required(Role.LOBBY_MANAGER)
def greet():
    branch = current_branch()
    payload = {"purpose": request.form.get("purpose", "")}
    if request.form.get("ticket"):
        payload["ticket"] = request.form["ticket"].strip()
    error = None
    try:
        record(current_user, "visit.greeted", branch=branch, subject_id=new_id(), payload=payload)
    except Rejected as rejected:
        error = rejected.message
    return render("lobby/board.html", "lobby/_board.html", status=422 if error else 200,
                  branch=branch, visits=waiting_visits(branch), purposes=PURPOSES, error=error)


@bp.post("/lobby/visits/<visit_id>/close")
@role_required(Role.LOBBY_MANAGER)
def close(visit_id: str):
    branch = current_branch()
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.branch_id != branch.id:
        abort(404)
    error = None
    try:
        record(current_user, "visit.closed", branch=branch, subject_id=visit.id,
               payload={"outcome": request.form.get("outcome", "")})
    except Rejected as rejected:
        error = rejected.message
    return render("lobby/board.html", "lobby/_board.html", status=422 if error else 200,
                  branch=branch, visits=waiting_visits(branch), purposes=PURPOSES, error=error)
