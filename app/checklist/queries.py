"""Reading the checklist: today's run, open faults, history, and what the supervisor needs.

The supervisor dashboard uses `open_faults(branch)`, `critical_open_at_opening(branch, day)`
and `run_summary(branch, day)`; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from sqlalchemy import select

from .. import clock
from ..clock import local_day, opening_time
from ..extensions import db
from ..models import Branch, ChecklistEntry, ChecklistRun, Fault
from .inventory import (
    KIND_TITLES,
    LeafletState,
    generate_items,
    item_label,
    leaflet_state,
    run_id,
)


def branch_today(branch: Branch, now: datetime | None = None) -> date:
    """The branch-local date now (the server's clock, which tests may move)."""
    return local_day(branch, now or clock.now())


def get_run(branch: Branch, day: date) -> ChecklistRun | None:
    return db.session.get(ChecklistRun, run_id(branch.code, day))


def entries_of(run_id_: str) -> list[ChecklistEntry]:
    """Every entry of a run, in event order (occurred_at, device_id, seq)."""
    rows = db.session.scalars(select(ChecklistEntry).where(ChecklistEntry.run_id == run_id_))
    return sorted(rows, key=lambda e: e.order_key)


def latest_entries(entries: list[ChecklistEntry]) -> dict[str, ChecklistEntry]:
    """Each item's entry that counts: the last by event order, whatever order they arrived in."""
    latest: dict[str, ChecklistEntry] = {}
    for entry in sorted(entries, key=lambda e: e.order_key):
        latest[entry.item_id] = entry
    return latest


def open_faults(branch: Branch) -> list[Fault]:
    """Faults not yet marked fixed, critical first, then oldest first."""
    rows = db.session.scalars(
        select(Fault).where(Fault.branch_id == branch.id, Fault.resolved_at.is_(None))
    )
    return sorted(rows, key=lambda f: (not f.critical, f.reported_at))


def critical_open_at_opening(branch: Branch, day: date) -> list[Fault]:
    """Critical faults reported before the branch opened on `day` and still open then."""
    opening = opening_time(branch, day)
    rows = db.session.scalars(
        select(Fault).where(
            Fault.branch_id == branch.id, Fault.critical.is_(True), Fault.reported_at <= opening
        )
    )
    return sorted(
        (f for f in rows if f.resolved_at is None or f.resolved_at > opening),
        key=lambda f: f.reported_at,
    )


def last_counts(branch: Branch, before: date) -> dict[str, int]:
    """The latest count of each leaflet item from earlier runs: the tablet's starting value."""
    rows = db.session.execute(
        select(ChecklistEntry, ChecklistRun.day)
        .join(ChecklistRun, ChecklistRun.id == ChecklistEntry.run_id)
        .where(
            ChecklistRun.branch_id == branch.id,
            ChecklistRun.day < before,
            ChecklistEntry.count.is_not(None),
        )
    )
    best: dict[str, tuple] = {}
    for entry, day in rows:
        key = (day, entry.order_key)
        if entry.item_id not in best or best[entry.item_id][0] < key:
            best[entry.item_id] = (key, entry.count)
    return {item_id: count for item_id, (_key, count) in best.items()}


@dataclass
class ItemView:
    item: dict
    lang: str | None  # the reader's language for `label` (None: the request's)
    entry: ChecklistEntry | None = None
    leaflet: LeafletState | None = None
    open_fault: Fault | None = None
    last_count: int | None = None

    @cached_property
    def label(self) -> str:
        """What the item asks, translated when read: the supervisor's summary of a run
        counts its items and names only the leaflets running low."""
        return item_label(self.item, self.lang)

    @property
    def id(self) -> str:
        return self.item["id"]

    @property
    def kind(self) -> str:
        return self.item["kind"]

    @property
    def critical(self) -> bool:
        return bool(self.item.get("critical"))

    @property
    def status(self) -> str:
        return self.entry.status if self.entry else ""


@dataclass
class RunView:
    branch: Branch
    day: date
    run_id: str
    run: ChecklistRun | None
    items: list[ItemView]
    faults: list[Fault] = field(default_factory=list)
    entries: list[ChecklistEntry] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.entry)

    @property
    def opening(self) -> datetime:
        return opening_time(self.branch, self.day)

    @property
    def signed_at(self) -> datetime | None:
        return self.run.signed_at if self.run else None

    @property
    def sections(self) -> list[tuple[str, str, list[ItemView]]]:
        out: list[tuple[str, str, list[ItemView]]] = []
        for view in self.items:
            kind = view.kind
            if not out or out[-1][0] != kind:
                out.append((kind, str(KIND_TITLES.get(kind, kind)), []))
            out[-1][2].append(view)
        return out

    @property
    def faults_found(self) -> int:
        return sum(1 for i in self.items if i.status == "fault")

    @property
    def leaflets_low(self) -> int:
        return sum(1 for i in self.items if i.leaflet and i.leaflet.low)

    @property
    def leaflets_expired(self) -> int:
        return sum(1 for i in self.items if i.leaflet and i.leaflet.expired)


def run_view(
    branch: Branch, day: date, lang: str | None = None, *, with_faults: bool = True
) -> RunView:
    """Everything the checklist page draws for one branch and day."""
    run = get_run(branch, day)
    items = run.items if run is not None else generate_items(branch)
    entries = entries_of(run.id) if run is not None else []
    latest = latest_entries(entries)
    faults = open_faults(branch) if with_faults else []
    fault_by_item: dict[str, Fault] = {}
    for fault in faults:
        fault_by_item.setdefault(fault.item_id, fault)
    counts = last_counts(branch, day) if any(i["kind"] == "leaflet" for i in items) else {}
    views = []
    for item in items:
        entry = latest.get(item["id"])
        view = ItemView(
            item,
            lang,
            entry,
            open_fault=fault_by_item.get(item["id"]),
            last_count=counts.get(item["id"]),
        )
        if item["kind"] == "leaflet":
            view.leaflet = leaflet_state(item, entry.count if entry else None, day)
        views.append(view)
    return RunView(branch, day, run_id(branch.code, day), run, views, faults, entries)


def runs_of(branch: Branch, limit: int = 60) -> list[ChecklistRun]:
    return list(
        db.session.scalars(
            select(ChecklistRun)
            .where(ChecklistRun.branch_id == branch.id)
            .order_by(ChecklistRun.day.desc())
            .limit(limit)
        )
    )


@dataclass
class RunSummary:
    day: date
    run_id: str
    total: int
    done: int
    signed_at: datetime | None
    late: bool
    faults: int
    leaflets_low: int
    leaflets_expired: int


def run_summary(branch: Branch, day: date) -> RunSummary:
    """One line per run for history lists and the supervisor: done, signed, late, faults."""
    view = run_view(branch, day, with_faults=False)
    run = view.run
    if run is not None and run.signed_at is not None:
        late = run.late
    else:  # not signed: late once the branch has opened
        late = clock.now() > view.opening
    return RunSummary(
        day,
        view.run_id,
        view.total,
        view.done,
        view.signed_at,
        bool(late),
        view.faults_found,
        view.leaflets_low,
        view.leaflets_expired,
    )
