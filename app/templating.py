"""Names the templates share: navigation, a purpose's label (app/vocabulary.py), time formatting."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .i18n import ui_lang
from .models import Role
from .vocabulary import PURPOSE_LABELS

FEATURE_TITLES = {
    "lobby": _l("Lobby"),
    "checklist": _l("Checklist"),
    "referrals": _l("Referrals"),
    "counter": _l("Counter"),
    "waiting": _l("Waiting area"),
    "supervisor": _l("Supervisor"),
    "admin": _l("Administration"),
}

NAV = {
    Role.LOBBY_MANAGER: [("lobby.board", "lobby"), ("checklist.today", "checklist")],
    Role.TELLER: [("counter.page", "counter"), ("referrals.inbox", "referrals")],
    Role.WEALTH_MANAGER: [("referrals.inbox", "referrals"), ("waiting.page", "waiting")],
    Role.BRANCH_SUPERVISOR: [("supervisor.dashboard", "supervisor")],
    Role.AREA_SUPERVISOR: [("supervisor.dashboard", "supervisor")],
    Role.ADMIN: [("admin.index", "admin")],
}


def register(app: Flask) -> None:
    @app.context_processor
    def helpers():
        return {
            "lang": ui_lang(),
            "nav_links": nav_links,
            "purpose_label": lambda code: PURPOSE_LABELS.get(code, code),
            "feature_title": lambda feature: FEATURE_TITLES.get(feature, feature),
            "format_time": format_datetime,
        }


def nav_links() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, FEATURE_TITLES[feature]) for endpoint, feature in NAV[current_user.role]]
