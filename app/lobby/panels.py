"""The lobby page's settings-driven parts, rendered once per branch, language and settings.

The greet panel, the dialogs, the card template and the page's data block
(`lobby-data`) show the branch's configuration only: products and the day's
focus, need tags, self-service machines, triage rules, wealth managers, the
board's warning times. Rendering them costs more than the rest of the page,
and they change only when an admin or the branch head edits something.

Every change to that configuration through the app moves the branch's
settings version in the same transaction (app/models/settings_version.py),
and the branch's row comes with the signed-in user on every request. So a
page reads no settings at all while the branch's columns (the version among
them), its day and the language are what the parts were rendered for: an edit
shows on the next page load, on every worker. When they differ, or after
SETTINGS_RECHECK_SECONDS, the configuration is read as plain rows (prebuilt Core
statements, no ORM objects) and the parts are rendered again only if the rows
differ: an edit made outside the app shows within that time.
Nothing per user or per request is in these parts (no CSRF token, no
name): the page around them is rendered afresh each time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, render_template
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import BindParameter, bindparam, select

from ..clock import local_day
from ..database import utcnow
from ..extensions import db
from ..models import (
    SETTINGS_RECHECK_SECONDS,
    Branch,
    FocusProduct,
    NeedTag,
    Product,
    Role,
    RouteRule,
    SelfServiceMachine,
    User,
    user_branches,
)
from ..vocabulary import COMPLAINT_CATEGORIES, COMPLAINT_CATEGORY_LABELS
from .views import static_context

# In app.extensions (one per app, so per database): (branch id, locale) -> (the
# settings rows they were rendered from, greet panel, the rest). Newest only.
_PANELS_CACHE = "datang_lobby_panels_cache"
# ~35 KB an entry: a worker serving many branches keeps at most ~9 MB of them
# (emptied when full; a full page load is rare beside the board's polls).
PANELS_CACHE_ENTRIES = 256

# Built once: building a statement costs more than running these small ones.
_BRANCH_ID: BindParameter[int] = bindparam("branch_id")
_DAY: BindParameter[date] = bindparam("day")
_SETTINGS = (
    select(Product.__table__)
    .where(Product.branch_id == _BRANCH_ID, Product.active.is_(True))
    .order_by(Product.id),
    select(FocusProduct.__table__)
    .where(
        FocusProduct.branch_id == _BRANCH_ID,
        FocusProduct.starts_on <= _DAY,
        FocusProduct.ends_on >= _DAY,
    )
    .order_by(FocusProduct.id),
    select(NeedTag.__table__).order_by(NeedTag.id),
    select(SelfServiceMachine.__table__)
    .where(SelfServiceMachine.branch_id == _BRANCH_ID)
    .order_by(SelfServiceMachine.id),
    select(RouteRule.__table__).where(RouteRule.branch_id == _BRANCH_ID).order_by(RouteRule.id),
    # wealth_managers(): the branch's active wealth managers.
    select(User.id, User.username, User.display_name)
    .join(user_branches, user_branches.c.user_id == User.id)
    .where(
        user_branches.c.branch_id == _BRANCH_ID,
        User.role == Role.WEALTH_MANAGER,
        User.active.is_(True),
    )
    .order_by(User.id),
)


def settings_rows(branch: Branch, day: date) -> tuple[Any, ...]:
    """The settings the panels are drawn from, as comparable rows."""
    connection = db.session.connection()
    params = {"branch_id": branch.id, "day": day}
    return tuple(tuple(tuple(row) for row in connection.execute(s, params)) for s in _SETTINGS)


@dataclass(frozen=True)
class _Panels:
    drawn_from: tuple[Any, ...]  # the branch's columns (settings_version too), day, settings_rows
    recheck_at: float  # time.monotonic() after which the rows are read again
    greet_panel: Markup
    lobby_tail: Markup


def lobby_panels(branch: Branch) -> dict[str, Markup]:
    """`greet_panel` and `lobby_tail` (dialogs, card template, data block) for the page."""
    day = local_day(branch, utcnow())
    columns = tuple(getattr(branch, c.key) for c in Branch.__table__.columns)
    key = (branch.id, str(get_locale()))
    cache = current_app.extensions.setdefault(_PANELS_CACHE, {})
    cached = cache.get(key)
    now = time.monotonic()
    if cached is None or cached.drawn_from[:2] != (columns, day) or now >= cached.recheck_at:
        drawn_from = (columns, day, settings_rows(branch, day))
        if cached is None or cached.drawn_from != drawn_from:
            # The close dialog lists the complaint categories (constants).
            context = {
                **static_context(branch),
                "complaint_categories": COMPLAINT_CATEGORIES,
                "category_labels": COMPLAINT_CATEGORY_LABELS,
            }
            greet = Markup(render_template("lobby/_greet.html", **context))  # noqa: S704 - rendered, escaped
            tail = Markup(render_template("lobby/_tail.html", **context))  # noqa: S704 - rendered, escaped
        else:
            greet, tail = cached.greet_panel, cached.lobby_tail
        if len(cache) >= PANELS_CACHE_ENTRIES and key not in cache:
            cache.clear()
        cached = cache[key] = _Panels(drawn_from, now + SETTINGS_RECHECK_SECONDS, greet, tail)
    return {"greet_panel": cached.greet_panel, "lobby_tail": cached.lobby_tail}
