from ..auth.session import role_required
from ..htmx import render
from ..models import Role
from . import bp


@bp.get("/admin")
@role_required(Role.ADMIN)
def index():
    return render("placeholder.html", feature="admin", branch=None)
