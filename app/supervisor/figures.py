"""The supervisor's figures for a period, read from the `figure_day` counters.

One query sums a period's counters by metric and key; a second gives the
per-day series; everything else is arithmetic on those sums. Days are the
branches' own local days (the projection files each subject under its
branch's date), so several branches in several time zones add up correctly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Branch, User
from ..models.figures import FigureDay
from .projection import FAULT_CAP_HOURS, WAIT_CAP_MINUTES, BranchClock
from .spotchecks import agreement

MAX_RANGE_DAYS = 400

PERIOD_LABELS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month"), "range": _l("Range")}


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month | range
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def shift(self, direction: int) -> Period:
        if self.kind == "day":
            return period_for("day", self.start + timedelta(days=direction))
        if self.kind == "week":
            return period_for("week", self.start + timedelta(days=7 * direction))
        if self.kind == "month":
            anchor = (
                (self.start - timedelta(days=1))
                if direction < 0
                else (self.end + timedelta(days=1))
            )
            return period_for("month", anchor)
        return Period(
            "range",
            self.start + timedelta(days=self.days * direction),
            self.end + timedelta(days=self.days * direction),
        )


def period_for(
    kind: str, anchor: date, start: date | None = None, end: date | None = None
) -> Period:
    if kind == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return Period("week", first, first + timedelta(days=6))
    if kind == "month":
        first = anchor.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return Period("month", first, nxt - timedelta(days=1))
    if kind == "range" and start and end:
        if end < start:
            start, end = end, start
        end = min(end, start + timedelta(days=MAX_RANGE_DAYS - 1))
        return Period("range", start, end)
    return Period("day", anchor, anchor)


# Dates a figure may be asked for: a week or a month around them, or a range
# from them, stays inside the calendar (date.max + 1 day is an OverflowError).
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2999, 12, 31)


def parse_date(value: str | None) -> date | None:
    """A date of the query (YYYY-MM-DD, ASCII digits); None if not one or out of range."""
    if not value or not value.isascii():
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if EARLIEST_DATE <= day <= LATEST_DATE else None


def parse_period(args, today: date) -> Period:
    kind = args.get("period", "day")
    if kind not in PERIOD_LABELS:
        kind = "day"
    anchor = parse_date(args.get("date")) or today
    return period_for(kind, anchor, parse_date(args.get("start")), parse_date(args.get("end")))


# --- reading the counters -----------------------------------------------------


def sum_counts(branch_ids: list[int], start: date, end: date) -> Counter:
    rows = db.session.execute(
        select(FigureDay.metric, FigureDay.key, func.sum(FigureDay.value))
        .where(FigureDay.branch_id.in_(branch_ids), FigureDay.day >= start, FigureDay.day <= end)
        .group_by(FigureDay.metric, FigureDay.key)
    ).all()
    return Counter({(m, k): int(v) for m, k, v in rows})


def by_branch(branch_ids: list[int], start: date, end: date, metrics: tuple[str, ...]) -> dict:
    rows = db.session.execute(
        select(FigureDay.branch_id, FigureDay.metric, FigureDay.key, func.sum(FigureDay.value))
        .where(
            FigureDay.branch_id.in_(branch_ids),
            FigureDay.day >= start,
            FigureDay.day <= end,
            FigureDay.metric.in_(metrics),
        )
        .group_by(FigureDay.branch_id, FigureDay.metric, FigureDay.key)
    ).all()
    out: dict[int, Counter] = defaultdict(Counter)
    for branch_id, m, k, v in rows:
        out[branch_id][(m, k)] = int(v)
    return out


def per_day(branch_ids: list[int], start: date, end: date, metric: str) -> dict[date, int]:
    rows = db.session.execute(
        select(FigureDay.day, func.sum(FigureDay.value))
        .where(
            FigureDay.branch_id.in_(branch_ids),
            FigureDay.day >= start,
            FigureDay.day <= end,
            FigureDay.metric == metric,
        )
        .group_by(FigureDay.day)
    ).all()
    return {d: int(v) for d, v in rows}


def keyed(counts: Counter, metric: str) -> dict[str, int]:
    return {k: v for (m, k), v in counts.items() if m == metric and v}


def scalar(counts: Counter, metric: str) -> int:
    return sum(keyed(counts, metric).values())


def percentile(histogram: dict[int, int], fraction: float) -> int | None:
    """Nearest-rank percentile of a histogram {bucket: count}; the bucket's lower edge."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-int(round(fraction * total * 1000)) // 1000))  # ceil(fraction * total)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max(histogram)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def compute(branches: list[Branch], period: Period, today: date | None = None) -> dict:
    """Every figure of the supervisor's dashboard for `branches` over `period`."""
    ids = [b.id for b in branches]
    c = sum_counts(ids, period.start, period.end)
    visits = scalar(c, "visits")

    hours = {int(k): v for k, v in keyed(c, "hour").items()}
    purposes = dict(sorted(keyed(c, "purpose").items(), key=lambda kv: -kv[1]))
    outcomes = keyed(c, "outcome")
    closed = sum(outcomes.values())

    wait_hist = {int(k): v for k, v in keyed(c, "wait").items()}
    waited = sum(wait_hist.values())
    over_warn = over_alert = 0
    per_branch_wait = (
        by_branch(ids, period.start, period.end, ("wait",))
        if len(ids) > 1
        else {ids[0]: Counter({("wait", str(k)): v for k, v in wait_hist.items()})}
    )
    for branch in branches:
        hist = {int(k): v for (m, k), v in per_branch_wait.get(branch.id, Counter()).items()}
        over_warn += sum(v for k, v in hist.items() if k >= branch.wait_warn_minutes)
        over_alert += sum(v for k, v in hist.items() if k >= branch.wait_alert_minutes)

    routes = keyed(c, "route")
    triaged = scalar(c, "triaged")
    recs, recs_ok = scalar(c, "recs"), scalar(c, "recs_ok")
    ref_outcomes = keyed(c, "ref_outcome")
    referrals = scalar(c, "referrals")
    sat = {int(k): v for k, v in keyed(c, "sat").items()}
    sat_n = sum(sat.values())

    today = today or max(
        BranchClock.of(b).local(datetime.now().astimezone()).date() for b in branches
    )
    elapsed = max(0, (min(period.end, today) - period.start).days + 1)
    branch_days = elapsed * len(branches)
    runs, on_time, late = scalar(c, "runs"), scalar(c, "run_on_time"), scalar(c, "run_late")
    fault_hist = {int(k): v for k, v in keyed(c, "fault_hours").items()}
    fixed = scalar(c, "fault_fixed")

    prep, guide, sell = keyed(c, "prep"), keyed(c, "guide"), keyed(c, "sell")
    no_need = keyed(c, "rec_no_need")
    user_ids = {int(k) for d in (prep, guide, sell, no_need) for k in d if k.isdigit()}
    names = names_of(user_ids)
    people: list[dict[str, Any]] = []
    for uid in sorted(user_ids, key=lambda i: names.get(i, "")):
        k = str(uid)
        people.append(
            {
                "name": names.get(uid, k),
                "prep": prep.get(k, 0),
                "guide": guide.get(k, 0),
                "sell": sell.get(k, 0),
            }
        )

    triangle = referral_figures(c, names_of)
    service = {int(k): v for k, v in keyed(c, "service").items()}  # called to closed, minutes

    daily = per_day(ids, period.start, period.end, "visits") if period.days > 1 else {}
    return {
        "period": period,
        "visits": visits,
        "hours": hours,
        "purposes": purposes,
        "daily": [(d, daily.get(d, 0)) for d in period.day_list()]
        if daily or period.days > 1
        else [],
        "outcomes": outcomes,
        "closed": closed,
        "walkaways": outcomes.get("walked_away", 0),
        "walkaway_share": share(outcomes.get("walked_away", 0), closed),
        "wait": {
            "hist": wait_hist,
            "n": waited,
            "median": percentile(wait_hist, 0.5),
            "p90": percentile(wait_hist, 0.9),
            "over_warn": over_warn,
            "over_alert": over_alert,
            "share_warn": share(over_warn, waited),
            "share_alert": share(over_alert, waited),
            "warn": branches[0].wait_warn_minutes if len(branches) == 1 else None,
            "alert": branches[0].wait_alert_minutes if len(branches) == 1 else None,
            "cap": WAIT_CAP_MINUTES,
        },
        "routes": routes,
        "triaged": triaged,
        "self_service": routes.get("self_service", 0),
        "diversion": share(routes.get("self_service", 0), visits),
        "engaged": scalar(c, "engaged"),
        "forms_checked": scalar(c, "form_checked"),
        "forms_redone": scalar(c, "form_redone"),
        "redone_share": share(scalar(c, "form_redone"), scalar(c, "form_checked")),
        # "interested" is what the customer said, not a sale: named for what it counts.
        "recs": recs,
        "recs_interested": recs_ok,
        "interest_share": share(recs_ok, recs),
        "recs_without_need": sum(no_need.values()),
        "without_need_people": sorted(
            ((names.get(int(k), k), n) for k, n in no_need.items() if k.isdigit()),
            key=lambda row: (-row[1], row[0]),
        ),
        "rec_responses": keyed(c, "rec_resp"),
        "to_other_bank": scalar(c, "to_other_bank"),
        "funds_kept": scalar(c, "funds_kept"),
        "funds_kept_bands": keyed(c, "funds_kept_band"),
        "referrals": referrals,
        "referred_visits": scalar(c, "referred"),
        "ref_outcomes": ref_outcomes,
        "ref_open": scalar(c, "ref_open"),
        "ref_sold": ref_outcomes.get("sold", 0),
        "conversion": share(ref_outcomes.get("sold", 0), referrals),
        "ref_bands": keyed(c, "ref_band"),
        "satisfaction": {
            "dist": sat,
            "n": sat_n,
            "mean": (sum(k * v for k, v in sat.items()) / sat_n) if sat_n else None,
        },
        "complaints": scalar(c, "complaints"),
        "complaint_visits": purposes.get("complaint", 0),
        "checklist": {
            "days": branch_days,
            "runs": runs,
            "on_time": on_time,
            "late": late,
            "unsigned": scalar(c, "run_unsigned"),
            "not_started": max(0, branch_days - runs),
            "on_time_rate": share(on_time, branch_days),
        },
        "faults": {
            "reported": scalar(c, "faults"),
            "fixed": fixed,
            "median_hours": percentile(fault_hist, 0.5),
            "p90_hours": percentile(fault_hist, 0.9),
            "mean_hours": (scalar(c, "fault_secs") / fixed / 3600) if fixed else None,
            "cap": FAULT_CAP_HOURS,
        },
        "time": {
            "prep": sum(prep.values()),
            "guide": sum(guide.values()),
            "sell": sum(sell.values()),
            "people": people,
            "rows": [
                [p["name"]] + [f"{p[k] / 3600:.1f}" for k in ("prep", "guide", "sell")]
                for p in people
            ],
        },
        "agreement": agreement(ids, period.start, period.end),
        "service": {
            "hist": service,
            "n": sum(service.values()),
            "median": percentile(service, 0.5),
            "p90": percentile(service, 0.9),
        },
        "triangle": triangle,
    }


def names_of(user_ids: set[int]) -> dict[int, str]:
    return (
        {
            u.id: u.display_name or u.username
            for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )


def referral_figures(c: Counter, names) -> dict:
    """The iron triangle: time to take and to meet, conversion by wealth manager and by
    who referred, referrals nobody took (app/supervisor/referral_facts.py, fold_referral)."""
    take = {int(k): v for k, v in keyed(c, "ref_take").items()}
    meet = {int(k): v for k, v in keyed(c, "ref_meet").items()}
    by_wm, sold_wm = keyed(c, "ref_wm"), keyed(c, "ref_sold_wm")
    by_from, sold_from = keyed(c, "ref_from"), keyed(c, "ref_sold_from")
    people = names({int(k) for d in (by_wm, by_from) for k in d if k.isdigit()})

    def rows(counts: dict, sold: dict) -> list[dict]:
        return sorted(
            (
                {
                    "name": people.get(int(k), k) if k.isdigit() else k,
                    "n": n,
                    "sold": sold.get(k, 0),
                    "conversion": share(sold.get(k, 0), n),
                }
                for k, n in counts.items()
            ),
            key=lambda r: (-r["n"], r["name"]),
        )

    return {
        "take_n": sum(take.values()),
        "take_median": percentile(take, 0.5),
        "take_p90": percentile(take, 0.9),
        "meet_n": sum(meet.values()),
        "meet_median": percentile(meet, 0.5),
        "meet_p90": percentile(meet, 0.9),
        "untaken": scalar(c, "ref_untaken"),
        "by_wealth_manager": rows(by_wm, sold_wm),
        "by_referrer": rows(by_from, sold_from),
    }
