from flask import Blueprint

bp = Blueprint("waiting", __name__)

from . import routes  # noqa: E402,F401
