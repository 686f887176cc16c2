from flask import Blueprint

bp = Blueprint("checklist", __name__)

from . import routes  # noqa: E402,F401
