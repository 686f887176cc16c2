"""From a branch's inventory and template to the items of a day's checklist run.

The rules here are shared by the server (which checks and stores events) and
mirrored by the tablet (static/js/checklist.js), which must be able to start a
new day's run with no network:

- a run's id is uuid5(RUN_NAMESPACE, "<branch code>/<YYYY-MM-DD>"), the day
  being the branch-local date; every tablet of the branch derives the same id;
- an item's id is stable across days: "<kind>:<equipment id>" for an item per
  piece of equipment, "leaflet:<leaflet id>", "custom:<template item id>", or
  the bare kind for a single item (e.g. "work_folder").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..clock import opening_time
from ..extensions import db
from ..models import Branch, Equipment, Leaflet, TemplateItem

RUN_NAMESPACE = uuid.UUID("6f1d3b52-7c1e-5a8e-9d2a-0c4b7e5f3a10")

# The nine item kinds of the source (营业前准备), in its order.
ITEM_KINDS: tuple[str, ...] = (
    "devices_running",
    "atm_advert",
    "operating_guide",
    "ebank_pc",
    "phone_line",
    "recount",
    "comment_book",
    "work_folder",
    "signage",
)

KIND_TITLES = {
    "devices_running": _l("ATMs and self-service kiosks are running"),
    "atm_advert": _l("ATM surrounds carry current advertising"),
    "operating_guide": _l("Self-service devices show their operating guide"),
    "ebank_pc": _l("Online-banking PCs can log in"),
    "phone_line": _l("Customer service phone line works"),
    "recount": _l("Cash re-count and counterfeit detection machines work"),
    "comment_book": _l("Customer comment book is in its place"),
    "work_folder": _l("Work folder restocked"),
    "signage": _l("Signs, screens, posters and leaflets"),
    "leaflet": _l("Leaflet stock"),
    "custom": _l("Branch items"),
}

# Which equipment each kind is generated for (empty: a single item).
KIND_EQUIPMENT = {
    "devices_running": ("atm", "kiosk"),
    "atm_advert": ("atm",),
    "operating_guide": ("atm", "kiosk"),
    "ebank_pc": ("ebank_pc",),
    "phone_line": ("phone_line",),
    "recount": ("recount",),
    "comment_book": ("comment_book",),
    "work_folder": (),
    "signage": ("signage",),
}
# Kinds that still give one item when the branch lists no equipment for them.
SINGLE_WHEN_NONE = {"comment_book", "work_folder", "signage"}

EQUIPMENT_KINDS = {
    "atm": _l("ATM"),
    "kiosk": _l("Self-service kiosk"),
    "ebank_pc": _l("Online-banking PC"),
    "phone_line": _l("Customer service phone line"),
    "recount": _l("Cash re-count / counterfeit detector"),
    "comment_book": _l("Customer comment book"),
    "signage": _l("Signs, screens and posters"),
}

MAX_LEAFLET_COUNT = 100_000


def run_id(branch_code: str, day: date) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{branch_code}/{day.isoformat()}"))


def is_late(branch: Branch, day: date, signed_at: datetime) -> bool:
    return signed_at > opening_time(branch, day)


@dataclass(frozen=True)
class LeafletState:
    low: bool
    expired: bool


def leaflet_state(item: dict, count: int | None, day: date) -> LeafletState:
    """Low: counted below its minimum. Expired: its product ended before `day` (remove it)."""
    ends_on = item.get("ends_on")
    expired = bool(ends_on and date.fromisoformat(ends_on) < day)
    low = not expired and count is not None and count < int(item.get("min_stock") or 0)
    return LeafletState(low=low, expired=expired)


def template_for(branch: Branch) -> list[TemplateItem]:
    """The branch's template rows; a branch with none gets the nine kinds, none critical."""
    rows = list(
        db.session.scalars(
            select(TemplateItem)
            .where(TemplateItem.branch_id == branch.id)
            .order_by(TemplateItem.sort, TemplateItem.id)
        )
    )
    known = {r.kind for r in rows}
    defaults = [
        TemplateItem(branch_id=branch.id, kind=k, enabled=True, critical=False, sort=i)
        for i, k in enumerate(ITEM_KINDS)
        if k not in known
    ]
    ordered = sorted(
        [r for r in rows if r.kind != "custom"] + defaults,
        key=lambda r: ITEM_KINDS.index(r.kind) if r.kind in ITEM_KINDS else 99,
    )
    return ordered + [r for r in rows if r.kind == "custom"]


def generate_items(branch: Branch) -> list[dict]:
    """The items of a run for `branch`, from its current inventory and template."""
    equipment = list(
        db.session.scalars(
            select(Equipment)
            .where(Equipment.branch_id == branch.id, Equipment.active.is_(True))
            .order_by(Equipment.sort, Equipment.id)
        )
    )
    leaflets = list(
        db.session.scalars(
            select(Leaflet)
            .where(Leaflet.branch_id == branch.id, Leaflet.active.is_(True))
            .order_by(Leaflet.sort, Leaflet.id)
        )
    )
    items: list[dict] = []
    for row in template_for(branch):
        if not row.enabled:
            continue
        if row.kind == "custom":
            items.append(
                {
                    "id": f"custom:{row.id}",
                    "kind": "custom",
                    "name": row.label,
                    "name_en": row.label_en,
                    "critical": row.critical,
                }
            )
            continue
        pieces = [e for e in equipment if e.kind in KIND_EQUIPMENT[row.kind]]
        # ATMs before kiosks for "every ATM and kiosk", keeping the admin's order within each.
        pieces.sort(key=lambda e: KIND_EQUIPMENT[row.kind].index(e.kind))
        for piece in pieces:
            items.append(
                {
                    "id": f"{row.kind}:{piece.id}",
                    "kind": row.kind,
                    "name": piece.name,
                    "name_en": piece.name_en,
                    "critical": row.critical or piece.critical,
                }
            )
        if not pieces and row.kind in SINGLE_WHEN_NONE:
            items.append(
                {
                    "id": row.kind,
                    "kind": row.kind,
                    "name": "",
                    "name_en": "",
                    "critical": row.critical,
                }
            )
        if row.kind == "signage":
            for leaflet in leaflets:
                ends_on = leaflet.effective_ends_on
                items.append(
                    {
                        "id": f"leaflet:{leaflet.id}",
                        "kind": "leaflet",
                        "name": leaflet.name,
                        "name_en": leaflet.name_en,
                        "critical": row.critical,
                        "min_stock": leaflet.min_stock,
                        "ends_on": ends_on.isoformat() if ends_on else None,
                    }
                )
    return items


# What an item of each kind asks, of the one thing it names (%(name)s) and of a kind
# with nothing named. Lazy: translated when an item is read, one string, not all of them.
_ASKS_OF_NAMED = {
    "devices_running": _l("%(name)s is running"),
    "atm_advert": _l("%(name)s: the surround carries the current advertising"),
    "operating_guide": _l("%(name)s: the operating guide is in place"),
    "ebank_pc": _l("%(name)s can log in to online banking"),
    "phone_line": _l("%(name)s works"),
    "recount": _l("%(name)s works"),
    "comment_book": _l("%(name)s is in its place"),
    "signage": _l("%(name)s: complete, compliant, nothing expired or damaged"),
}
_ASKS_OF_UNNAMED = {
    "comment_book": _l("The customer comment book is in its place"),
    "work_folder": _l(
        "Work folder restocked: best-selling product leaflets, common forms, notes and pens"
    ),
    "signage": _l(
        "Signs, guide boards and leaflet racks complete; LED screen, posters and "
        "light boxes compliant; expired or damaged material removed"
    ),
}


def item_label(item: dict, lang: str | None = None) -> str:
    """What an item asks, in the reader's language."""
    name = (item.get("name_en") if lang == "en" and item.get("name_en") else item.get("name")) or ""
    kind: str = item.get("kind", "")
    if kind == "custom":
        return name
    if kind == "leaflet":
        return _("Leaflets: %(name)s", name=name)
    if not name:
        return str(_ASKS_OF_UNNAMED.get(kind, KIND_TITLES.get(kind, kind)))
    asks = _ASKS_OF_NAMED.get(kind)
    return str(asks) % {"name": name} if asks is not None else name
