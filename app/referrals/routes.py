from flask_login import current_user

from ..auth.session import role_required
from ..htmx import render
from ..models import Role
from . import bp


@bp.get("/referrals")
@role_required(Role.WEALTH_MANAGER, Role.TELLER)
def inbox():
    return render("placeholder.html", feature="referrals", branch=current_user.home_branch)
