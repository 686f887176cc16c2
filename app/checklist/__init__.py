"""The pre-opening checklist (营业前准备): the tablet page, its history, faults, and the
admin's equipment inventory and checklist template."""

from flask import Blueprint

bp = Blueprint("checklist", __name__)

from ..demo import FEATURE_SEEDS  # noqa: E402
from . import admin_routes, events, routes  # noqa: E402,F401
from .demo import seed_checklist  # noqa: E402

if seed_checklist not in FEATURE_SEEDS:
    FEATURE_SEEDS.append(seed_checklist)
