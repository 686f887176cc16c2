"""The admin's screens: branches and users.

These are configuration, not lobby events, so they are plain ORM writes; each
request either commits all its changes or, on any refusal, none of them.
Every route is for admins only (403 for any other role).
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth import role_required
from ..extensions import db
from ..htmx import is_htmx, render
from ..models import Branch, Role, User
from . import bp
from .forms import (
    COMMON_TIMEZONES,
    BranchForm,
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)

admin_only = role_required(Role.ADMIN)


@bp.before_request
@admin_only
def require_admin():
    """Every admin route, including any added later, is for admins only."""
    return None


def _all_branches() -> list[Branch]:
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))


def _get_or_404(model, id_: int):
    obj = db.session.get(model, id_)
    if obj is None:
        abort(404)
    return obj


@bp.get("/admin")
def index():
    counts = {
        "branches": db.session.scalar(
            select(func.count()).select_from(Branch).where(Branch.active.is_(True))
        ),
        "users": db.session.scalar(
            select(func.count()).select_from(User).where(User.active.is_(True))
        ),
    }
    return render("admin/index.html", counts=counts)


# --- branches ---------------------------------------------------------------


@bp.get("/admin/branches")
def branches():
    return render("admin/branches.html", branches=_all_branches())


def _branch_form_page(form: BranchForm, branch: Branch | None, status: int = 200):
    return render(
        "admin/branch_form.html",
        status=status,
        form=form,
        branch=branch,
        timezones=COMMON_TIMEZONES,
    )


def _code_taken(code: str, branch: Branch | None) -> bool:
    other = db.session.scalar(select(Branch).where(Branch.code == code))
    return other is not None and other is not branch


@bp.route("/admin/branches/new", methods=["GET", "POST"])
def branch_new():
    form = BranchForm()
    if request.method == "GET":
        return _branch_form_page(form, None)
    if form.validate():
        if _code_taken(form.code.data, None):
            form.code.errors.append(_("A branch with this code already exists."))
        else:
            branch = Branch()
            form.populate_obj(branch)
            db.session.add(branch)
            if _commit(form.code, _("A branch with this code already exists.")):
                flash(_("Branch %(code)s added.", code=branch.code), "info")
                return redirect(url_for("admin.branches"))
    return _branch_form_page(form, None, status=422)


@bp.route("/admin/branches/<int:branch_id>/edit", methods=["GET", "POST"])
def branch_edit(branch_id: int):
    branch = _get_or_404(Branch, branch_id)
    form = BranchForm(obj=branch)
    if request.method == "GET":
        return _branch_form_page(form, branch)
    if form.validate():
        if _code_taken(form.code.data, branch):
            form.code.errors.append(_("A branch with this code already exists."))
        else:
            form.populate_obj(branch)
            if _commit(form.code, _("A branch with this code already exists.")):
                flash(_("Branch %(code)s saved.", code=branch.code), "info")
                return redirect(url_for("admin.branches"))
    db.session.rollback()  # nothing half-written: the refused values never reach the row
    return _branch_form_page(form, branch, status=422)


@bp.post("/admin/branches/<int:branch_id>/deactivate")
def branch_deactivate(branch_id: int):
    return _set_branch_active(branch_id, False)


@bp.post("/admin/branches/<int:branch_id>/reactivate")
def branch_reactivate(branch_id: int):
    return _set_branch_active(branch_id, True)


def _set_branch_active(branch_id: int, active: bool):
    """A deactivated branch keeps its data; its devices' new events are refused."""
    branch = _get_or_404(Branch, branch_id)
    branch.active = active
    db.session.commit()
    if not is_htmx():
        flash(
            _("Branch %(code)s reactivated.", code=branch.code)
            if active
            else _("Branch %(code)s deactivated.", code=branch.code),
            "info",
        )
        return redirect(url_for("admin.branches"))
    return render(
        "admin/branches.html", "admin/_branch_row.html", branch=branch, branches=_all_branches()
    )


# --- users ------------------------------------------------------------------


def _filtered_users(filters: UserFilterForm) -> list[User]:
    query = select(User).order_by(User.username)
    if filters.role.data:
        query = query.where(User.role == Role(filters.role.data))
    if filters.branch.data:
        query = query.where(User.branches.any(Branch.code == filters.branch.data))
    return list(db.session.scalars(query))


@bp.get("/admin/users")
def users():
    all_branches = _all_branches()
    filters = UserFilterForm(request.args)
    filters.set_choices(all_branches)
    status = 200
    if filters.validate():
        found = _filtered_users(filters)
    else:
        found, status = [], 400
    return render(
        "admin/users.html", "admin/_user_table.html", status=status, filters=filters, users=found
    )


def _branch_choices(user: User | None) -> list[Branch]:
    """Active branches, plus any inactive one the user already belongs to."""
    mine = {b.id for b in user.branches} if user else set()
    return [b for b in _all_branches() if b.active or b.id in mine]


def _chosen_branches(form) -> list[Branch]:
    ids = set(form.branches.data or [])
    return [b for b in _all_branches() if b.id in ids]


def _user_form_page(form, user: User | None, status: int = 200):
    return render("admin/user_form.html", status=status, form=form, user=user)


@bp.route("/admin/users/new", methods=["GET", "POST"])
def user_new():
    form = UserCreateForm()
    form.set_branch_choices(_branch_choices(None))
    if request.method == "GET":
        return _user_form_page(form, None)
    if form.validate():
        if db.session.scalar(select(User).where(User.username == form.username.data)):
            form.username.errors.append(_("This username is taken."))
        else:
            user = User(
                username=form.username.data,
                role=Role(form.role.data),
                display_name=form.display_name.data or form.username.data,
                branches=_chosen_branches(form),
            )
            user.set_password(form.password.data)
            db.session.add(user)
            if _commit(form.username, _("This username is taken.")):
                flash(_("User %(name)s added.", name=user.username), "info")
                return redirect(url_for("admin.users"))
    return _user_form_page(form, None, status=422)


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = _get_or_404(User, user_id)
    # Not obj=user: the form wants the role's code and the branches' ids.
    form = UserEditForm(
        data=None
        if request.method == "POST"
        else {
            "display_name": user.display_name,
            "role": user.role.value,
            "branches": [b.id for b in user.branches],
        }
    )
    form.set_branch_choices(_branch_choices(user))
    if request.method == "GET":
        return _user_form_page(form, user)
    if form.validate():
        if user.id == current_user.id and form.role.data != Role.ADMIN.value:
            form.role.errors.append(_("You cannot remove your own administrator role."))
        else:
            user.display_name = form.display_name.data or user.username
            user.role = Role(form.role.data)
            user.branches = _chosen_branches(form)
            db.session.commit()
            flash(_("User %(name)s saved.", name=user.username), "info")
            return redirect(url_for("admin.users"))
    return _user_form_page(form, user, status=422)


@bp.route("/admin/users/<int:user_id>/password", methods=["GET", "POST"])
def user_password(user_id: int):
    user = _get_or_404(User, user_id)
    form = PasswordResetForm()
    if request.method == "POST":
        if form.validate():
            user.set_password(form.password.data)
            user.session_version += 1  # signs out every session of this user
            db.session.commit()
            if user.id == current_user.id:
                login_user(user)  # keep this session: it is the one that made the change
            flash(
                _(
                    "The password of %(name)s was reset; their sessions have ended.",
                    name=user.username,
                ),
                "info",
            )
            return redirect(url_for("admin.users"))
        return render("admin/password.html", status=422, form=form, user=user)
    return render("admin/password.html", form=form, user=user)


@bp.post("/admin/users/<int:user_id>/deactivate")
def user_deactivate(user_id: int):
    user = _get_or_404(User, user_id)
    if user.id == current_user.id:
        return _user_row_response(user, error=_("You cannot deactivate yourself."))
    if user.active:
        user.active = False
        user.session_version += 1  # ends the sessions they have open
        db.session.commit()
    return _user_row_response(user, done=_("User %(name)s deactivated.", name=user.username))


@bp.post("/admin/users/<int:user_id>/reactivate")
def user_reactivate(user_id: int):
    user = _get_or_404(User, user_id)
    if not user.active:
        user.active = True
        db.session.commit()
    return _user_row_response(user, done=_("User %(name)s reactivated.", name=user.username))


def _user_row_response(user: User, error: str | None = None, done: str | None = None):
    """htmx gets the user's row; a plain form post the list (after a redirect if all went well)."""
    if error is None and not is_htmx():
        flash(done or "", "info")
        return redirect(url_for("admin.users"))
    filters = UserFilterForm(formdata=None)
    filters.set_choices(_all_branches())
    return render(
        "admin/users.html",
        "admin/_user_row.html",
        status=422 if error else 200,
        user=user,
        row_error=error,
        error=error,
        filters=filters,
        users=_filtered_users(filters),
    )


def _commit(field, duplicate_message: str) -> bool:
    """Commit, or roll back and tell `field` when a unique key raced in meanwhile."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        field.errors.append(duplicate_message)
        return False
    return True
