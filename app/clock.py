"""The server's "now", which tests may move: the checklist's "today", the
supervisor's figures, and the trust rules of device clocks (app/events/envelope.py)
measure time by it.

Only when DATANG_ENV=testing: `app.config["CHECKLIST_NOW"]` (an aware
datetime, for the Flask client tests) or the file named by the environment
variable DATANG_TEST_CLOCK_FILE holding an RFC 3339 time (for the live server
of the browser tests, which runs in another process). Anywhere else it is the
real clock.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app

from .database import utcnow
from .models import Branch


def now() -> datetime:
    if current_app.config.get("ENV_NAME") != "testing":
        return utcnow()
    fixed = current_app.config.get("CHECKLIST_NOW")
    if fixed is not None:
        return fixed
    path = os.environ.get("DATANG_TEST_CLOCK_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
        if text:
            return datetime.fromisoformat(text)
    return utcnow()


# --- a branch's own time: its zone, its day, its opening -----------------------


def branch_zone(branch: Branch) -> ZoneInfo:
    return ZoneInfo(branch.timezone or "Asia/Shanghai")


def local_day(branch: Branch, moment: datetime) -> date:
    return moment.astimezone(branch_zone(branch)).date()


def opening_time(branch: Branch, day: date) -> datetime:
    """The moment (UTC) the branch opens on `day`, in its own time zone."""
    local = datetime.combine(day, branch.opens_at or time(9, 0), tzinfo=branch_zone(branch))
    return local.astimezone(UTC)
