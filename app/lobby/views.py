"""What the lobby's pages show: the waiting board and a visit's history, built from read models."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta

from cachelib import FileSystemCache
from flask import Flask, current_app, render_template
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from ..clock import local_day
from ..database import utcnow
from ..events import format_time, newest_positions
from ..extensions import db
from ..i18n import ui_lang as lang
from ..models import (
    Branch,
    NeedTag,
    Product,
    Referral,
    Role,
    SelfServiceMachine,
    User,
    Visit,
    user_branches,
)
from ..privacy import refusal_message
from ..supervisor import focus_first
from ..vocabulary import (
    AMOUNT_BANDS,
    FLAGS,
    OUTCOMES,
    PRIORITY_LABELS,
    PURPOSES,
    REFER_TO,
    RESPONSES,
    ROUTES,
    SEGMENTS,
    label,
    labels,
)
from .codes import DEFAULT_NEED_TAGS
from .rules import branch_rules

RECENTLY_CLOSED = timedelta(minutes=30)


def need_tags(active_only: bool = True) -> list[tuple[str, str]]:
    """(code, label) of the need tags, in the admin's order; the built-in ones if none kept."""
    query = select(NeedTag).order_by(NeedTag.position, NeedTag.id)
    if active_only:
        query = query.where(NeedTag.active.is_(True))
    rows = db.session.scalars(query).all()
    if not rows and not db.session.scalar(select(func.count(NeedTag.id))):
        return [(code, en if lang() == "en" else zh) for code, zh, en in DEFAULT_NEED_TAGS]
    return [(t.code, t.display_name(lang())) for t in rows]


def all_need_labels() -> dict[str, str]:
    language = lang()
    labels = {code: (en if language == "en" else zh) for code, zh, en in DEFAULT_NEED_TAGS}
    labels.update({t.code: t.display_name(language) for t in db.session.scalars(select(NeedTag))})
    return labels


def products(branch: Branch) -> list[Product]:
    """What the branch offers today: ended products cannot be recommended."""
    today = local_day(branch, utcnow())
    rows = db.session.scalars(
        select(Product)
        .where(Product.branch_id == branch.id, Product.active.is_(True))
        .order_by(Product.id)
    ).all()
    return [p for p in rows if not p.ended(today)]


def machines(branch: Branch) -> list[str]:
    return list(
        db.session.scalars(
            select(SelfServiceMachine.name)
            .where(SelfServiceMachine.branch_id == branch.id)
            .order_by(SelfServiceMachine.position, SelfServiceMachine.id)
        )
    )


def board_version(branch: Branch) -> int:
    """The position of the branch's latest event: the board changes only when it does."""
    return newest_positions([branch.id])[branch.id]


def waiting_visits(branch: Branch) -> list[Visit]:
    return list(
        db.session.scalars(
            select(Visit)
            .where(Visit.branch_id == branch.id, Visit.status == "waiting")
            .order_by(Visit.greeted_at, Visit.id)
        )
    )


def recently_closed(branch: Branch) -> list[Visit]:
    return list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.branch_id == branch.id,
                Visit.status == "closed",
                Visit.closed_at >= utcnow() - RECENTLY_CLOSED,
            )
            .order_by(Visit.closed_at.desc())
            .limit(5)
        )
    )


def referrals_of(visits: list[Visit]) -> dict[str, Referral]:
    ids = [v.referral_id for v in visits if v.referral_id]
    if not ids:
        return {}
    # A visit names its referral by id, as a tablet sent it: only its own branch's counts.
    branches = {v.branch_id for v in visits}
    return {
        r.id: r
        for r in db.session.scalars(
            select(Referral).where(Referral.id.in_(ids), Referral.branch_id.in_(branches))
        )
    }


BOARD_CACHE_SECONDS = 15
_SERVER_NOW = 'data-server-now="'
# In app.extensions (one per app, so per database): (branch id, language) -> (board
# version, expiry (time.time()), the fragment before and after its server time). One
# entry per branch and language: the newest version only.
BOARD_CACHE = "datang_board_cache"
# The same entries shared by the workers of one server (install_shared_board_cache).
SHARED_BOARD_CACHE = "datang_shared_board_cache"


def install_shared_board_cache(app: Flask) -> None:
    """The rendered boards shared by a server's workers: files under BOARD_CACHE_DIR
    (None: instance/board-cache; "": none, each worker keeps its own).

    One folder per database (the URL's hash): a test suite's databases, or a
    server's two, never read each other's boards.
    """
    folder = app.config.get("BOARD_CACHE_DIR")
    if folder == "":
        return
    folder = folder or os.path.join(app.instance_path, "board-cache")
    database = hashlib.sha256(str(app.config["SQLALCHEMY_DATABASE_URI"]).encode()).hexdigest()
    app.extensions[SHARED_BOARD_CACHE] = FileSystemCache(
        os.path.join(folder, database[:16]), threshold=0, default_timeout=BOARD_CACHE_SECONDS
    )


def board_html(branch: Branch) -> Markup:
    """The waiting board's fragment, rendered once per branch, board version and language.

    Only a new event changes what the board shows; the wait times and colours
    tick on the tablet from `data-server-now`, which is set afresh on every
    answer. The entry also expires after BOARD_CACHE_SECONDS, which bounds how
    long the "just closed" list, the summary's minutes and the branch's
    settings (labels, products, warning times) can lag behind in a quiet lobby.
    Kept per process and, with BOARD_CACHE_DIR, shared by the server's workers:
    a branch's three tablets poll through different workers, and each would
    otherwise render the same new version.
    """
    version = board_version(branch)
    key, now = (branch.id, lang()), time.time()

    def current(entry) -> bool:
        return entry is not None and entry[0] == version and entry[1] >= now

    cache = current_app.extensions.setdefault(BOARD_CACHE, {})
    cached = cache.get(key)
    if not current(cached):
        shared = current_app.extensions.get(SHARED_BOARD_CACHE)
        shared_key = f"{key[0]}-{key[1]}"
        cached = shared.get(shared_key) if shared is not None else None
        if not current(cached):
            html = render_template("lobby/_board.html", **board_context(branch, version))
            head, _attr, rest = html.partition(_SERVER_NOW)
            cached = (version, now + BOARD_CACHE_SECONDS, head, rest.partition('"')[2])
            if shared is not None:
                shared.set(shared_key, cached, timeout=BOARD_CACHE_SECONDS)
        cache[key] = cached
    # The parts are the rendered (escaped) template and a time we format ourselves.
    return Markup(f'{cached[2]}{_SERVER_NOW}{format_time(utcnow())}"{cached[3]}')  # noqa: S704


def board_context(branch: Branch, version: int | None = None) -> dict:
    visits = waiting_visits(branch)
    closed = recently_closed(branch)
    language = lang()
    product_names = {
        p.code: p.display_name(language)
        for p in db.session.scalars(select(Product).where(Product.branch_id == branch.id))
    }
    now = utcnow()
    return {
        "branch": branch,
        "visits": visits,
        "closed": closed,
        "referrals": referrals_of(visits + closed),
        "now": now,
        "iso": format_time,
        "not_talked": sum(1 for v in visits if not v.spoken_to),
        "longest": max(((now - v.greeted_at).total_seconds() // 60 for v in visits), default=0),
        "version": board_version(branch) if version is None else version,
        "product_names": product_names,
        "need_labels": all_need_labels(),
        "labels": labels(),
        "label": label,
        "wait_minutes": lambda v: max(0, int((now - v.greeted_at).total_seconds() // 60)),
        "wait_class": lambda v: wait_class(branch, now, v),
        "purpose_label": purpose_labeler(),
        "user_name": user_name,
        "unattended": unattended_wealth(visits),
        "referral_overdue_in": lambda r: referral_overdue_in(r, branch, now),
    }


# What suggests wealth business (巡视等候区, the board's warning): a wealth purpose, a
# high-value customer, a need a wealth manager serves, a large amount, a wealth route.
WEALTH_PURPOSES = {"wealth"}
WEALTH_NEEDS = {"wealth_management", "deposits", "insurance", "pension", "foreign_exchange"}
LARGE_BANDS = {"200k_1m", "gt_1m"}


def suggests_wealth(visit: Visit) -> bool:
    return (
        visit.purpose in WEALTH_PURPOSES
        or visit.segment == "high_value"
        or bool(WEALTH_NEEDS & set(visit.needs or []))
        or visit.amount_band in LARGE_BANDS
        or visit.route in ("wealth", "vip")
    )


def unattended_wealth(visits: list[Visit]) -> Visit | None:
    """The high-value or wealth-need customer nobody has spoken to who has waited longest."""
    return next(
        (
            v
            for v in visits
            if suggests_wealth(v)
            and not v.spoken_to
            and v.claimed_by_id is None
            and v.called_at is None
        ),
        None,
    )


def referral_overdue_in(referral: Referral, branch: Branch, now) -> int | None:
    """Seconds until an open referral nobody took turns amber (0: it is amber); None if taken."""
    if referral.status != "open":
        return None
    return max(0, int((referral.created_at + referral_take_time(branch) - now).total_seconds()))


def wealth_managers(branch: Branch) -> list[User]:
    """The branch's active wealth managers, the people a referral can be assigned to.

    Asked of the branch's members only: a province has thousands of wealth managers.
    """
    return list(
        db.session.scalars(
            select(User)
            .join(user_branches, user_branches.c.user_id == User.id)
            .where(
                user_branches.c.branch_id == branch.id,
                User.role == Role.WEALTH_MANAGER,
                User.active.is_(True),
            )
            .order_by(User.username)
        )
    )


def referral_take_time(branch: Branch) -> timedelta:
    return timedelta(minutes=branch.referral_take_minutes or 3)


def purpose_labeler():
    """The templates' purpose_label (app/templating.py) with each label translated once.

    A lazy label renders unescaped (it has __html__), hence Markup here.
    """
    names = {
        code: Markup(text)  # noqa: S704 - our own translated labels
        for code, text in labels()["purposes"].items()
    }
    return lambda code: names.get(code, code)


def wait_class(branch: Branch, now, visit: Visit) -> str:
    minutes = (now - visit.greeted_at).total_seconds() / 60
    if minutes >= (branch.wait_alert_minutes or 30):
        return "wait-alert"
    if minutes >= (branch.wait_warn_minutes or 10):
        return "wait-warn"
    return "wait-ok"


def page_data(
    branch: Branch,
    tags: list[tuple[str, str]] | None = None,
    offered: list[Product] | None = None,
    machine_names: list[str] | None = None,
) -> dict:
    """The JSON block lobby.js draws dialogs and not-yet-synced entries from (works offline).

    `tags`, `offered` and `machine_names`: need_tags(), products() and machines()
    when the caller has them already.
    """
    return {
        "branch": branch.code,
        "warn": branch.wait_warn_minutes or 10,
        "alert": branch.wait_alert_minutes or 30,
        "rules": [r.as_json() for r in branch_rules(branch.id)],
        "bands": list(AMOUNT_BANDS),
        "needs": dict(need_tags() if tags is None else tags),
        "products": [
            {"code": p.code, "name": p.display_name(lang()), "needs": p.needs or []}
            for p in (products(branch) if offered is None else offered)
        ],
        "machines": list(machines(branch) if machine_names is None else machine_names),
        "labels": labels(),
        "strings": {
            "pending": _("Not yet synced"),
            "rejected": _("Refused by the server"),
            "nothing_to_undo": _("Nothing to undo here yet (sync first)."),
            "history_offline": _("The history needs a connection."),
            "not_on_server": _("Not on the server yet."),
            "privacy_id": refusal_message("id"),
            "privacy_card": refusal_message("card"),
            "privacy_mobile": refusal_message("mobile"),
            "too_long": _("This note is too long."),
            "record_failed": _("Could not save on this tablet: %(reason)s", reason="{reason}"),
        },
    }


def static_context(branch: Branch) -> dict:
    """What the greet panel and the dialogs list: codes in order, with labels."""
    offered, focus = focus_first(branch, local_day(branch, utcnow()), products(branch))
    tags, machine_names = need_tags(), machines(branch)
    return {
        "focus": focus,
        "priority_labels": PRIORITY_LABELS,
        "purposes": PURPOSES,
        "segments": SEGMENTS,
        "flags": FLAGS,
        "routes": ROUTES,
        "bands": AMOUNT_BANDS,
        "responses": RESPONSES,
        "outcomes": OUTCOMES,
        "refer_to": REFER_TO,
        "need_tags": tags,
        "products": offered,
        "machines": machine_names,
        "labels": labels(),
        "lobby_data": page_data(branch, tags, offered, machine_names),
        "wealth_managers": wealth_managers(branch),
    }


def user_name(user: User | None) -> str:
    return (user.display_name or user.username) if user else ""
