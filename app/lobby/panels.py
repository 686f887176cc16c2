"""The lobby page's settings-driven parts, rendered once per branch, language and settings.

The greet panel, the dialogs, the card template and the page's data block
(`lobby-data`) show the branch's configuration only: products and the day's
focus, need tags, self-service machines, triage rules, wealth managers, the
board's warning times. Rendering them costs more than the rest of the page,
and they change only when an admin or the branch head edits something.

So each request reads that configuration as plain rows (prebuilt Core
statements, no ORM objects) and renders the parts again only when the rows,
the branch's own columns, the branch's day or the language differ from what
was rendered last: an edit shows on the next page load, on every worker.
Nothing per user or per request is in these parts (no CSRF token, no
name): the page around them is rendered afresh each time.
"""

from __future__ import annotations

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
    """Everything the panels are drawn from, as comparable rows."""
    connection = db.session.connection()
    params = {"branch_id": branch.id, "day": day}
    branch_columns = tuple(getattr(branch, c.key) for c in Branch.__table__.columns)
    return (
        branch_columns,
        day,
        *(tuple(tuple(row) for row in connection.execute(s, params)) for s in _SETTINGS),
    )


def lobby_panels(branch: Branch) -> dict[str, Markup]:
    """`greet_panel` and `lobby_tail` (dialogs, card template, data block) for the page."""
    rows = settings_rows(branch, local_day(branch, utcnow()))
    key = (branch.id, str(get_locale()))
    cache = current_app.extensions.setdefault(_PANELS_CACHE, {})
    cached = cache.get(key)
    if cached is None or cached[0] != rows:
        # The close dialog lists the complaint categories (constants).
        context = {
            **static_context(branch),
            "complaint_categories": COMPLAINT_CATEGORIES,
            "category_labels": COMPLAINT_CATEGORY_LABELS,
        }
        cached = (
            rows,
            Markup(render_template("lobby/_greet.html", **context)),  # noqa: S704 - rendered, escaped
            Markup(render_template("lobby/_tail.html", **context)),  # noqa: S704 - rendered, escaped
        )
        if len(cache) >= PANELS_CACHE_ENTRIES and key not in cache:
            cache.clear()
        cache[key] = cached
    return {"greet_panel": cached[1], "lobby_tail": cached[2]}
