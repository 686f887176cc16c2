from flask_login import current_user

from ..auth.session import role_required
from ..htmx import render
from ..models import Role
from . import bp


@bp.get("/checklist")
@role_required(Role.LOBBY_MANAGER)
def today():
    return render("placeholder.html", feature="checklist", branch=current_user.home_branch)
