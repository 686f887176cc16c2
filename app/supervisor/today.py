"""Today at a glance for one branch: the checklist, faults, leaflets and the lobby now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from .. import clock
from ..checklist import critical_open_at_opening, open_faults, run_view
from ..clock import local_day, opening_time
from ..extensions import db
from ..lobby import open_complaints
from ..models import Branch, Visit


def now() -> datetime:
    """The server's now (app/clock.py), which tests may move."""
    return clock.now()


@dataclass
class Today:
    branch: Branch
    day: date
    now: datetime
    checklist: str  # on_time | late | in_progress | not_started | overdue
    done: int = 0
    total: int = 0
    signed_at: datetime | None = None
    faults: list = field(default_factory=list)  # [(fault, age in hours)]
    critical: list = field(default_factory=list)
    leaflets: list = field(default_factory=list)  # [(label, "low" | "expired")]
    waiting: int = 0
    longest_wait_minutes: int | None = None
    not_spoken: list = field(default_factory=list)  # waiting visits nobody has talked to
    complaints: list = field(default_factory=list)  # [(complaint, age in hours)], not resolved


def today_of(branch: Branch, lang: str | None = None) -> Today:
    moment = now()
    day = local_day(branch, moment)
    view = run_view(branch, day, lang, with_faults=False)
    signed = view.signed_at
    if signed is not None:
        status = "late" if view.run is not None and view.run.late else "on_time"
    elif view.done:
        status = "in_progress"
    else:
        status = "overdue" if moment > opening_time(branch, day) else "not_started"
    faults = [(f, (moment - f.reported_at).total_seconds() / 3600) for f in open_faults(branch)]
    leaflets = [
        (i.label, "expired" if i.leaflet.expired else "low")
        for i in view.items
        if i.leaflet and (i.leaflet.low or i.leaflet.expired)
    ]
    waiting = db.session.scalars(
        select(Visit)
        .where(Visit.branch_id == branch.id, Visit.status == "waiting")
        .order_by(Visit.greeted_at)
    ).all()
    longest = int((moment - waiting[0].greeted_at).total_seconds() // 60) if waiting else None
    not_spoken = [
        (v, int((moment - v.greeted_at).total_seconds() // 60))
        for v in waiting
        if not (v.engaged_count or 0)
    ]
    complaints = [
        (c, (moment - c.opened_at).total_seconds() / 3600) for c in open_complaints([branch.id])
    ]
    return Today(
        branch,
        day,
        moment,
        status,
        view.done,
        view.total,
        signed,
        faults,
        critical_open_at_opening(branch, day),
        leaflets,
        len(waiting),
        max(longest, 0) if longest is not None else None,
        not_spoken,
        complaints,
    )
