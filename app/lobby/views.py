"""What the lobby's pages show: the waiting board and a visit's history, built from read models."""
from __future__ import annotations

import weakref
from datetime import timedelta

from flask import current_app
from flask_babel import get_translations, gettext as _
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import func, select

from ..database import utcnow
from ..i18n import ui_lang as lang
from ..events import format_time
from ..extensions import db
from ..privacy import refusal_message
from ..models import Branch, Event, NeedTag, Product, Referral, SelfServiceMachine, User, Visit
from ..templating import PURPOSE_LABELS
from .codes import (AMOUNT_BANDS, BAND_LABELS, DEFAULT_NEED_TAGS, EVENT_LABELS, FLAG_LABELS,
                    FLAGS, OUTCOME_LABELS, OUTCOMES, PURPOSES, REFER_TO, REFER_TO_LABELS,
                    REFERRAL_RESULT_LABELS, REFERRAL_STATUS_LABELS, RESPONSE_LABELS, RESPONSES,
                    ROUTE_LABELS, ROUTES, SEGMENT_LABELS, SEGMENTS, label)
from .rules import branch_rules

RECENTLY_CLOSED = timedelta(minutes=30)
_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # translations -> labels()




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
    labels.update({t.code: t.display_name(language)
                   for t in db.session.scalars(select(NeedTag))})
    return labels


def products(branch: Branch) -> list[Product]:
    today = utcnow().date()
    rows = db.session.scalars(select(Product).where(
        Product.branch_id == branch.id, Product.active.is_(True)).order_by(Product.id)).all()
    return [p for p in rows if p.ends_on is None or p.ends_on >= today]


def machines(branch: Branch) -> list[str]:
    return list(db.session.scalars(select(SelfServiceMachine.name).where(
        SelfServiceMachine.branch_id == branch.id).order_by(SelfServiceMachine.position,
                                                            SelfServiceMachine.id)))


def board_version(branch: Branch) -> int:
    """The position of the branch's latest event: the board changes only when it does."""
    return db.session.scalar(select(func.max(Event.position)).where(
        Event.branch_id == branch.id)) or 0


def waiting_visits(branch: Branch) -> list[Visit]:
    return list(db.session.scalars(
        select(Visit).where(Visit.branch_id == branch.id, Visit.status == "waiting")
        .order_by(Visit.greeted_at, Visit.id)))


def recently_closed(branch: Branch) -> list[Visit]:
    return list(db.session.scalars(
        select(Visit).where(Visit.branch_id == branch.id, Visit.status == "closed",
                            Visit.closed_at >= utcnow() - RECENTLY_CLOSED)
        .order_by(Visit.closed_at.desc()).limit(5)))


def referrals_of(visits: list[Visit]) -> dict[str, Referral]:
    ids = [v.referral_id for v in visits if v.referral_id]
    if not ids:
        return {}
    # A visit names its referral by id, as a tablet sent it: only its own branch's counts.
    branches = {v.branch_id for v in visits}
    return {r.id: r for r in db.session.scalars(
        select(Referral).where(Referral.id.in_(ids), Referral.branch_id.in_(branches)))}


def labels() -> dict:
    """Every code label the lobby's templates and lobby.js need, in the current language.

    Made once per catalogue (the tables are constants, so the labels depend only on
    the translations in use) and shared between requests: treat it as read-only.
    """
    translations = get_translations()
    cached = _LABELS.get(translations)
    if cached is not None:
        return cached
    def strings(table):
        return {k: str(v) for k, v in table.items()}
    result = {
        "purposes": strings(PURPOSE_LABELS), "segments": strings(SEGMENT_LABELS),
        "flags": strings(FLAG_LABELS), "routes": strings(ROUTE_LABELS),
        "bands": strings(BAND_LABELS), "responses": strings(RESPONSE_LABELS),
        "outcomes": strings(OUTCOME_LABELS), "refer_to": strings(REFER_TO_LABELS),
        "referral_results": strings(REFERRAL_RESULT_LABELS),
        "referral_status": strings(REFERRAL_STATUS_LABELS), "events": strings(EVENT_LABELS),
    }
    _LABELS[translations] = result
    return result


def request_gettext():
    """The templates' `gettext`, remembering each translation for one render.

    A board repeats the same dozen words on every card; Flask-Babel looks each
    one up through several context-locals. Same strings, same escaping, same
    `%(n)d` formatting: the answer of the app's own gettext, kept in a dict.
    """
    base = current_app.jinja_env.globals["gettext"]
    cache: dict = {}

    @pass_context
    def gettext(context, string, **variables):
        try:
            key = (string, context.eval_ctx.autoescape,
                   tuple(sorted((k, type(v), v) for k, v in variables.items())))
            return cache[key]
        except KeyError:
            rv = cache[key] = base(context, string, **variables)
            return rv
        except TypeError:  # an unhashable variable: not remembered
            return base(context, string, **variables)
    return gettext


def board_context(branch: Branch) -> dict:
    visits = waiting_visits(branch)
    closed = recently_closed(branch)
    language = lang()
    product_names = {p.code: p.display_name(language) for p in db.session.scalars(
        select(Product).where(Product.branch_id == branch.id))}
    now = utcnow()
    return {
        "branch": branch, "visits": visits, "closed": closed,
        "referrals": referrals_of(visits + closed), "now": now, "iso": format_time,
        "not_talked": sum(1 for v in visits if not v.spoken_to),
        "longest": max(((now - v.greeted_at).total_seconds() // 60 for v in visits), default=0),
        "version": board_version(branch), "product_names": product_names,
        "need_labels": all_need_labels(), "labels": labels(), "label": label,
        "wait_minutes": lambda v: max(0, int((now - v.greeted_at).total_seconds() // 60)),
        "wait_class": lambda v: wait_class(branch, now, v),
        "gettext": request_gettext(), "purpose_label": purpose_labeler(),
    }


def purpose_labeler():
    """The templates' purpose_label (app/templating.py) with each label translated once.

    A lazy label renders unescaped (it has __html__), hence Markup here.
    """
    names = {code: Markup(text)  # noqa: S704 - our own translated labels
             for code, text in labels()["purposes"].items()}
    return lambda code: names.get(code, code)


def wait_class(branch: Branch, now, visit: Visit) -> str:
    minutes = (now - visit.greeted_at).total_seconds() / 60
    if minutes >= (branch.wait_alert_minutes or 30):
        return "wait-alert"
    if minutes >= (branch.wait_warn_minutes or 10):
        return "wait-warn"
    return "wait-ok"


def page_data(branch: Branch, tags: list[tuple[str, str]] | None = None,
              offered: list[Product] | None = None, machine_names: list[str] | None = None) -> dict:
    """The JSON block lobby.js draws dialogs and not-yet-synced entries from (works offline).

    `tags`, `offered` and `machine_names`: need_tags(), products() and machines()
    when the caller has them already.
    """
    return {
        "branch": branch.code,
        "warn": branch.wait_warn_minutes or 10, "alert": branch.wait_alert_minutes or 30,
        "rules": [r.as_json() for r in branch_rules(branch.id)],
        "bands": list(AMOUNT_BANDS),
        "needs": dict(need_tags() if tags is None else tags),
        "products": [{"code": p.code, "name": p.display_name(lang()), "needs": p.needs or []}
                     for p in (products(branch) if offered is None else offered)],
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
    tags, offered, machine_names = need_tags(), products(branch), machines(branch)
    return {
        "purposes": PURPOSES, "segments": SEGMENTS, "flags": FLAGS, "routes": ROUTES,
        "bands": AMOUNT_BANDS, "responses": RESPONSES, "outcomes": OUTCOMES,
        "refer_to": REFER_TO, "need_tags": tags, "products": offered,
        "machines": machine_names, "labels": labels(),
        "lobby_data": page_data(branch, tags, offered, machine_names),
    }


def history(visit: Visit) -> list[dict]:
    """The visit's events in fold order, each with who, when, a summary and whether undone."""
    events = db.session.scalars(select(Event).where(Event.subject_id == visit.id)
                                .order_by(Event.occurred_at, Event.device_id, Event.seq)).all()
    undone = {e.payload.get("event_id") for e in events if e.type == "visit.undone"}
    by_id = {e.id: e for e in events}
    product_names = {p.code: p.display_name(lang()) for p in db.session.scalars(
        select(Product).where(Product.branch_id == visit.branch_id))}
    needs = all_need_labels()
    rows = []
    for e in events:
        rows.append({"event": e, "label": label(EVENT_LABELS, e.type),
                     "summary": summarize(e, by_id, product_names, needs),
                     "undone": e.id in undone, "user": e.user})
    return rows


def summarize(e: Event, by_id: dict, product_names: dict, needs: dict) -> str:
    p = e.payload
    parts: list[str] = []
    if e.type in ("visit.greeted", "visit.updated"):
        if p.get("purpose"):
            parts.append(label(PURPOSE_LABELS, p["purpose"]))
        if p.get("ticket"):
            parts.append(p["ticket"])
        if p.get("segment"):
            parts.append(label(SEGMENT_LABELS, p["segment"]))
        parts += [label(FLAG_LABELS, f) for f in p.get("flags") or []]
    elif e.type == "visit.triaged":
        parts.append(label(ROUTE_LABELS, p.get("route")))
        if p.get("machine"):
            parts.append(p["machine"])
        if p.get("amount_band"):
            parts.append(label(BAND_LABELS, p["amount_band"]))
    elif e.type == "visit.engaged":
        parts += [needs.get(n, n) for n in p.get("needs") or []]
        if p.get("note"):
            parts.append(p["note"])
    elif e.type == "visit.recommended":
        parts += [product_names.get(c, c) for c in p.get("products", [])]
        parts.append(label(RESPONSE_LABELS, p.get("response")))
    elif e.type == "visit.referred":
        parts.append(label(REFER_TO_LABELS, p.get("to")))
        if p.get("note"):
            parts.append(p["note"])
    elif e.type == "visit.complaint":
        parts.append(p.get("note", ""))
    elif e.type == "visit.closed":
        parts.append(label(OUTCOME_LABELS, p.get("outcome")))
        if p.get("satisfaction"):
            parts.append("★" * p["satisfaction"])
    elif e.type == "visit.undone":
        target = by_id.get(p.get("event_id"))
        if target is not None:
            parts.append(label(EVENT_LABELS, target.type))
    return " · ".join(x for x in parts if x)


def user_name(user: User | None) -> str:
    return (user.display_name or user.username) if user else ""
