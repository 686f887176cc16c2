"""Names the templates share: navigation, a purpose's label (app/vocabulary.py), time formatting."""

from __future__ import annotations

import weakref

from flask import Flask, current_app
from flask_babel import format_datetime, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import pass_context

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
            "gettext": template_gettext(),
        }


def nav_links() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, FEATURE_TITLES[feature]) for endpoint, feature in NAV[current_user.role]]


_GETTEXT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # translations -> strings
GETTEXT_CACHE_SIZE = 4096


def template_gettext():
    """The templates' `gettext` (and `_`), remembering each translation per catalogue.

    A page asks for a hundred strings, a board repeats the same dozen on every
    card, and Flask-Babel looks each one up through several context-locals.
    Same strings, same escaping, same `%(n)d` formatting: the answer of the
    app's own gettext, kept in a dict per translations object (so per
    language) and shared between requests, emptied when it grows large.
    """
    base = current_app.jinja_env.globals["gettext"]
    translations = get_translations()
    cache = _GETTEXT.get(translations)
    if cache is None or len(cache) > GETTEXT_CACHE_SIZE:
        cache = _GETTEXT[translations] = {}

    @pass_context
    def gettext(context, string, **variables):
        try:
            key = (
                string,
                context.eval_ctx.autoescape,
                tuple(sorted((k, type(v), v) for k, v in variables.items())),
            )
            return cache[key]
        except KeyError:
            rv = cache[key] = base(context, string, **variables)
            return rv
        except TypeError:  # an unhashable variable: not remembered
            return base(context, string, **variables)

    return gettext
