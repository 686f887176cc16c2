from flask_login import current_user

from ..auth.session import role_required
from ..htmx import render
from ..models import Role
from . import bp


@bp.get("/supervisor")
@role_required(Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR)
def dashboard():
    return render("placeholder.html", feature="supervisor", branch=current_user.home_branch)
