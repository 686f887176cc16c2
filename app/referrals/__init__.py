from flask import Blueprint

bp = Blueprint("referrals", __name__)

from . import routes  # noqa: E402,F401
