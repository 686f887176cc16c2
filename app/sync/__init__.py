"""The JSON API for devices: push events, pull events, and its OpenAPI description."""

from flask import Blueprint

bp = Blueprint("sync", __name__, url_prefix="/api/v1")

from . import routes  # noqa: E402,F401
