"""The day's or week's focus (重点产品 / 一般产品) and targets, and how far the branch got.

The branch head sets them at /supervisor/focus (app/supervisor/focus.py). What
is *done* is read from the read models the events fold into:

- recommendations of a focus product: `VisitRecommendation` rows, by the
  recorder of their event;
- referrals: `Referral` rows by creation time and sender;
- sales: referrals whose outcome is `sold`, by outcome time and wealth manager.

`progress()` feeds the small "today: target / done" partial
(templates/_targets.html) that the lobby, referral and desk pages include
(through `today_lines`, which app/supervisor/__init__.py offers them).
"""

from __future__ import annotations

import time as monotonic_clock
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from .. import clock
from ..clock import branch_zone, local_day
from ..extensions import db
from ..i18n import ui_lang as lang
from ..models import (
    SETTINGS_RECHECK_SECONDS,
    Branch,
    DailyTarget,
    Event,
    FocusProduct,
    Product,
    Referral,
    User,
    VisitRecommendation,
)

# Targets against results are drawn day by day: up to a month of them.
TARGET_DAYS = 31


def day_bounds(branch: Branch, day: date, days: int = 1) -> tuple[datetime, datetime]:
    """The UTC moments the branch's local `day` (and `days` - 1 more) starts and ends."""
    start = datetime.combine(day, time(0), tzinfo=branch_zone(branch))
    return (start.astimezone(UTC), (start + timedelta(days=days)).astimezone(UTC))


# Built once: every tablet page load asks both (its targets), and building a
# statement cost more than running it.
_FOCUS_ON = (
    select(FocusProduct)
    .where(
        FocusProduct.branch_id == bindparam("branch_id"),
        FocusProduct.starts_on <= bindparam("day"),
        FocusProduct.ends_on >= bindparam("day"),
    )
    .order_by(FocusProduct.set_at.desc(), FocusProduct.id.desc())
)
_TARGET_ON = (
    select(DailyTarget)
    .where(
        DailyTarget.branch_id == bindparam("branch_id"),
        DailyTarget.starts_on <= bindparam("day"),
        DailyTarget.ends_on >= bindparam("day"),
    )
    .order_by(DailyTarget.set_at.desc(), DailyTarget.id.desc())
)


def focus_on(branch: Branch, day: date) -> list[FocusProduct]:
    """The focus products of `day`: focus before general, the latest setting of a code wins."""
    rows = db.session.scalars(_FOCUS_ON, {"branch_id": branch.id, "day": day})
    latest: dict[str, FocusProduct] = {}
    for row in rows:
        latest.setdefault(row.product_code, row)
    return sorted(latest.values(), key=lambda f: (f.priority != "focus", f.product_code))


def target_on(branch: Branch, day: date) -> DailyTarget | None:
    return db.session.scalars(_TARGET_ON, {"branch_id": branch.id, "day": day}).first()


@dataclass(frozen=True)
class DayPlan:
    """What the branch aims at on a day, as plain values."""

    focus: tuple[tuple[str, int], ...]  # (product code, recommendations a day), focus first
    target: tuple[int, int] | None  # (referrals, sales) a day


# In app.extensions: (branch id, day) -> (the branch's settings version, when to
# read the rows again, DayPlan). Every desk page draws today's, and most days
# have none: it was two queries a page to find that out.
_DAY_PLANS = "datang_day_plans"
DAY_PLANS_KEPT = 4096  # a city's branches, a few days each; emptied when full


def day_plan(branch: Branch, day: date) -> DayPlan:
    """The day's focus products and targets, read again only when the branch's
    settings version moves (app/models/settings_version.py) or after a while."""
    plans = current_app.extensions.setdefault(_DAY_PLANS, {})
    now = monotonic_clock.monotonic()
    kept = plans.get((branch.id, day))
    if kept is not None and kept[0] == branch.settings_version and now < kept[1]:
        return kept[2]
    target = target_on(branch, day)
    plan = DayPlan(
        tuple((f.product_code, f.daily_recommendations) for f in focus_on(branch, day)),
        (target.referrals, target.sales) if target is not None else None,
    )
    if len(plans) >= DAY_PLANS_KEPT:
        plans.clear()
    plans[(branch.id, day)] = (branch.settings_version, now + SETTINGS_RECHECK_SECONDS, plan)
    return plan


@dataclass
class TargetLine:
    key: str  # rec:<code> | referrals | sales
    label: str
    target: int
    done: int
    mine: int | None = None  # the signed-in person's part, where asked

    @property
    def reached(self) -> bool:
        return self.target > 0 and self.done >= self.target


def _done(branch: Branch, start: datetime, end: datetime, codes: list[str]) -> dict:
    """Per line key: Counter of user id -> count, in [start, end)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    if codes:
        for code, user_id in db.session.execute(
            select(VisitRecommendation.product_code, Event.user_id)
            .join(Event, Event.id == VisitRecommendation.event_id)
            .where(
                VisitRecommendation.branch_id == branch.id,
                VisitRecommendation.product_code.in_(codes),
                VisitRecommendation.recommended_at >= start,
                VisitRecommendation.recommended_at < end,
            )
        ):
            counts[f"rec:{code}"][user_id] += 1
    for (user_id,) in db.session.execute(
        select(Referral.created_by_id).where(
            Referral.branch_id == branch.id, Referral.created_at >= start, Referral.created_at < end
        )
    ):
        counts["referrals"][user_id] += 1
    for (seller_id,) in db.session.execute(
        select(Referral.outcome_by_id).where(
            Referral.branch_id == branch.id,
            Referral.result == "sold",
            Referral.outcome_at >= start,
            Referral.outcome_at < end,
        )
    ):
        counts["sales"][seller_id] += 1
    return counts


def progress(branch: Branch, day: date, user: User | None = None) -> list[TargetLine]:
    """The day's targets and what is done: the branch's, and `user`'s part of it."""
    plan = day_plan(branch, day)
    if not plan.focus and plan.target is None:
        return []
    language = lang()
    codes = [code for code, _daily in plan.focus]
    names = {
        p.code: p.display_name(language)
        for p in db.session.scalars(
            select(Product).where(Product.branch_id == branch.id, Product.code.in_(codes))
        )
    }
    counts = _done(branch, *day_bounds(branch, day), codes)
    lines = [
        TargetLine(f"rec:{code}", _("Recommend %(name)s", name=names.get(code, code)), daily, 0)
        for code, daily in plan.focus
    ]
    if plan.target is not None:
        referrals, sales = plan.target
        lines += [
            TargetLine("referrals", _("Referrals"), referrals, 0),
            TargetLine("sales", _("Sales"), sales, 0),
        ]
    for line in lines:
        line.done = sum(counts[line.key].values())
        if user is not None:
            line.mine = counts[line.key][user.id]
    return lines


def period_results(branch: Branch, days: list[date]) -> dict:
    """Per day: target and done of each line; per person: what each did over the days."""
    by_day = [(day, progress(branch, day)) for day in days]
    start, end = day_bounds(branch, days[0], len(days))
    codes = sorted(
        {line.key[4:] for _day, lines in by_day for line in lines if line.key.startswith("rec:")}
    )
    counts = _done(branch, start, end, codes)
    people: defaultdict[int, dict[str, int]] = defaultdict(
        lambda: {"recs": 0, "referrals": 0, "sales": 0}
    )
    for key, per_user in counts.items():
        column = "recs" if key.startswith("rec:") else key
        for user_id, n in per_user.items():
            people[user_id][column] += n
    names = (
        {
            u.id: u.display_name or u.username
            for u in db.session.scalars(select(User).where(User.id.in_(list(people))))
        }
        if people
        else {}
    )
    return {
        "days": [(day, lines) for day, lines in by_day if lines],
        "people": sorted(
            ({"name": names.get(uid, "?"), **done} for uid, done in people.items()),
            key=lambda p: p["name"],
        ),
    }


def today_lines(branch: Branch, user: User | None = None) -> list[TargetLine]:
    """progress() for the branch's today, as the desk pages show it."""
    return progress(branch, local_day(branch, clock.now()), user)


def focus_first(branch: Branch, day: date, products: list[Product]) -> tuple[list, dict]:
    """The products with the day's focus products first; code -> priority of those."""
    priority = {f.product_code: f.priority for f in focus_on(branch, day)}
    rank = {"focus": 0, "general": 1}
    return sorted(products, key=lambda p: rank.get(priority.get(p.code) or "", 2)), priority
