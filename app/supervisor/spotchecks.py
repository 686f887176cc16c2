"""What a supervisor can spot-check, and how often the lobby's answers hold up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import get_locale
from sqlalchemy import case, func, select

from ..checklist import entries_of, get_run, item_label, latest_entries
from ..extensions import db
from ..models import Branch, ChecklistRun, User, Visit
from ..models.figures import SpotCheck
from ..vocabulary import PURPOSE_LABELS
from .projection import BranchClock, zone

CHECKLIST_ANSWERS = ("ok", "fault", "na")
VISIT_ANSWERS = ("served", "walked_away", "referred", "waiting")
ANSWERS = {"checklist_item": CHECKLIST_ANSWERS, "visit": VISIT_ANSWERS}


@dataclass
class Target:
    kind: str  # checklist_item | visit
    id: str
    run_id: str | None
    label: str
    user_id: int | None  # the lobby manager whose answer it is
    answer: str | None  # what they recorded
    at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.run_id or ''}:{self.id}"


def day_bounds(branch: Branch, day: date) -> tuple[datetime, datetime]:
    tz = zone(BranchClock.of(branch).tz)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _visit_target(visit: Visit) -> Target:
    try:
        purpose = str(PURPOSE_LABELS.get(visit.purpose, visit.purpose))
    except Exception:  # noqa: BLE001  (no locale outside a request)
        purpose = visit.purpose
    label = " · ".join(x for x in (visit.ticket, purpose) if x)
    return Target(
        "visit",
        visit.id,
        None,
        label,
        visit.greeted_by_id,
        visit.outcome if visit.status == "closed" else "waiting",
        visit.greeted_at,
    )


def _lang() -> str | None:
    try:
        return "en" if get_locale().language == "en" else "zh"
    except Exception:  # noqa: BLE001  (no request: a rebuild from the command line)
        return None


def _run_targets(run) -> list[Target]:
    """A run's items that the lobby manager has answered, with their latest answer."""
    items = {i["id"]: i for i in run.items or []}
    lang = _lang()
    out = []
    for item_id, entry in latest_entries(entries_of(run.id)).items():
        item = items.get(item_id)
        label = item_label(item, lang) if item else item_id
        out.append(
            Target(
                "checklist_item",
                item_id,
                run.id,
                label,
                entry.user_id,
                entry.status,
                entry.occurred_at,
            )
        )
    order = {item_id: i for i, item_id in enumerate(items)}
    return sorted(out, key=lambda t: order.get(t.id, len(order)))


def find_target(branch: Branch, kind: str, target_id: str, run_id: str | None) -> Target | None:
    """The target in `branch`, with the lobby manager's answer; None if it is not there."""
    if kind == "visit":
        visit = db.session.get(Visit, target_id)
        if visit is None or visit.branch_id != branch.id or visit.status == "void":
            return None
        return _visit_target(visit)
    query = select(ChecklistRun).where(ChecklistRun.branch_id == branch.id)
    if run_id:
        query = query.where(ChecklistRun.id == run_id)
    for run in db.session.scalars(query.order_by(ChecklistRun.day.desc()).limit(31)):
        for target in _run_targets(run):
            if target.id == target_id:
                return target
    return None


def candidates(branch: Branch, day: date) -> list[Target]:
    """The day's answered checklist items and visits, not yet spot-checked."""
    run = get_run(branch, day)
    targets = _run_targets(run) if run is not None else []
    start, end = day_bounds(branch, day)
    visits = db.session.scalars(
        select(Visit)
        .where(
            Visit.branch_id == branch.id,
            Visit.greeted_at >= start,
            Visit.greeted_at < end,
            Visit.status != "void",
        )
        .order_by(Visit.greeted_at)
    ).all()
    targets += [_visit_target(v) for v in visits]
    ids = [t.id for t in targets]
    done = (
        set(
            db.session.scalars(
                select(SpotCheck.target_id).where(
                    SpotCheck.branch_id == branch.id, SpotCheck.target_id.in_(ids)
                )
            )
        )
        if ids
        else set()
    )
    return [t for t in targets if t.id not in done]


def draw(
    targets: list[Target], items: int = 3, visits: int = 2, rng: random.Random | None = None
) -> list[Target]:
    rng = rng or random.SystemRandom()
    pool_items = [t for t in targets if t.kind == "checklist_item"]
    pool_visits = [t for t in targets if t.kind == "visit"]
    return rng.sample(pool_items, min(items, len(pool_items))) + rng.sample(
        pool_visits, min(visits, len(pool_visits))
    )


def recorded(branch_ids: list[int], start: date, end: date) -> list[SpotCheck]:
    return list(
        db.session.scalars(
            select(SpotCheck)
            .where(
                SpotCheck.branch_id.in_(branch_ids), SpotCheck.day >= start, SpotCheck.day <= end
            )
            .order_by(SpotCheck.recorded_at.desc())
        )
    )


def agreement(branch_ids: list[int], start: date, end: date) -> list[dict]:
    """Per lobby manager: spot-checks, agreements and the rate, in the period."""
    agree = func.sum(case((SpotCheck.verdict == "agree", 1), else_=0))
    rows = db.session.execute(
        select(SpotCheck.checked_user_id, func.count(), agree)
        .where(SpotCheck.branch_id.in_(branch_ids), SpotCheck.day >= start, SpotCheck.day <= end)
        .group_by(SpotCheck.checked_user_id)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([r[0] for r in rows if r[0] is not None]))
        )
    }
    out = []
    for user_id, total, agreed in rows:
        user = users.get(user_id)
        out.append(
            {
                "user_id": user_id,
                "name": (user.display_name or user.username) if user else None,
                "total": int(total),
                "agree": int(agreed or 0),
                "rate": (int(agreed or 0) / total) if total else None,
            }
        )
    out.sort(key=lambda r: (r["name"] is None, r["name"] or ""))
    return out
