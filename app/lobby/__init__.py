from flask import Blueprint

bp = Blueprint("lobby", __name__)

from . import complaints, demo, events, routes  # noqa: E402,F401
