from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import audit, products, routes  # noqa: E402,F401
