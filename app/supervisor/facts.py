"""What every fold of the supervisor's figures shares: the branch's clock, the
event as a fold reads it, the projection a fold returns and the time buckets.

A fold (app/supervisor/visit_facts.py, referral_facts.py, checklist_facts.py)
turns one subject's events, in fold order, into its facts and the counters it
adds to `figure_day`; app/supervisor/projection.py stores both. The payloads
it reads are those the event types' models validated (app/lobby/events.py,
app/referrals/events.py, app/checklist/events.py): a fold reads the fields
they define and nothing else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..models import Branch

WAIT_CAP_MINUTES = 240  # the last wait bucket holds every wait of 240 minutes or more
FAULT_CAP_HOURS = 720  # the last fault-age bucket: 30 days or more
GUIDE_CAP_SECONDS = 10 * 60  # greeting to triage: longer means the manager left and came back
SELL_CAP_SECONDS = 60 * 60  # a conversation that sells
PREP_CAP_SECONDS = 4 * 3600  # first checklist item to sign-off
CAP = WAIT_CAP_MINUTES * 60  # referral take/meet times share the wait buckets


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class BranchClock:
    """What a fold needs of a branch: its time zone and opening time."""

    id: int
    tz: str
    opens_at: time

    @classmethod
    def of(cls, branch: Branch) -> BranchClock:
        return cls(branch.id, branch.timezone or "Asia/Shanghai", branch.opens_at or time(9, 0))

    def local(self, at: datetime) -> datetime:
        return at.astimezone(zone(self.tz))


@dataclass
class Ev:
    """The part of an event a fold reads."""

    type: str
    occurred_at: datetime
    user_id: int
    payload: dict
    id: str = ""


@dataclass
class Projection:
    """One subject's facts and its counters, all on `day` (the branch's local day)."""

    day: date
    status: str = ""
    user_id: int | None = None
    facts: dict = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # (metric, key) -> value, on `day`

    def add(self, metric: str, key: Any = "", value: int = 1) -> None:
        if value:
            self.counts[(metric, str(key))] += int(value)

    def contributions(self) -> Counter:
        return Counter({(self.day, m, k): v for (m, k), v in self.counts.items() if v})


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def seconds_between(start: datetime | None, end: datetime | None, cap: int) -> int:
    """Whole seconds from start to end, at most `cap`; 0 when either is missing or out of order."""
    if start is None or end is None or end <= start:
        return 0
    return int(min((end - start).total_seconds(), cap))


def wait_bucket(seconds: float) -> int:
    return min(int(seconds // 60), WAIT_CAP_MINUTES)
