"""A visit's history page: its events in fold order, each said in a line of words."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..i18n import ui_lang as lang
from ..models import Event, Product, Visit
from ..vocabulary import (
    BAND_LABELS,
    EVENT_LABELS,
    FLAG_LABELS,
    OUTCOME_LABELS,
    PURPOSE_LABELS,
    REFER_TO_LABELS,
    RESPONSE_LABELS,
    ROUTE_LABELS,
    SEGMENT_LABELS,
    label,
)
from .views import all_need_labels


def history(visit: Visit) -> list[dict]:
    """The visit's events in fold order, each with who, when, a summary and whether undone."""
    events = db.session.scalars(
        select(Event)
        .where(Event.subject_id == visit.id)
        .order_by(Event.occurred_at, Event.device_id, Event.seq)
    ).all()
    undone = {e.payload.get("event_id") for e in events if e.type == "visit.undone"}
    by_id = {e.id: e for e in events}
    product_names = {
        p.code: p.display_name(lang())
        for p in db.session.scalars(select(Product).where(Product.branch_id == visit.branch_id))
    }
    needs = all_need_labels()
    rows = []
    for e in events:
        rows.append(
            {
                "event": e,
                "label": label(EVENT_LABELS, e.type),
                "summary": summarize(e, by_id, product_names, needs),
                "undone": e.id in undone,
                "user": e.user,
            }
        )
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
    elif e.type == "visit.pitched":
        parts.append(product_names.get(p["product"], p["product"]))
        parts.append(label(RESPONSE_LABELS, p.get("response")))
    elif e.type == "visit.called":
        parts.append(p.get("counter") or "")
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
