from flask import Blueprint

bp = Blueprint("counter", __name__)

from . import routes  # noqa: E402,F401
