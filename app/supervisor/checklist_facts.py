"""A checklist run's and a fault's facts and counters for the figures, folded
from their `checklist.*` and `fault.*` events (app/checklist/events.py).

A run is on time when its first sign-off is at or before the branch's opening
on the run's day; its preparation time runs from the first item recorded to
the sign-off (or, unsigned, to the last item). A fault counts from its report
to its first resolution.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from .facts import (
    FAULT_CAP_HOURS,
    PREP_CAP_SECONDS,
    BranchClock,
    Ev,
    Projection,
    iso,
    seconds_between,
    zone,
)


def fold_run(events: list[Ev], clock: BranchClock) -> Projection | None:
    if not events:
        return None
    first = events[0]
    # Every event of a run names its day (YYYY-MM-DD, checked when it arrived).
    day = date.fromisoformat(first.payload["day"])
    proj = Projection(day, "started", first.user_id)
    items: dict[str, dict] = {}
    signed = None
    first_item_at = last_item_at = None
    for e in events:
        if e.type == "checklist.item_recorded":
            items[e.payload["item_id"]] = {  # an item recorded again: the last answer counts
                "status": e.payload["status"],
                "user_id": e.user_id,
                "at": iso(e.occurred_at),
            }
            first_item_at = first_item_at or e.occurred_at
            last_item_at = e.occurred_at
        elif e.type == "checklist.signed_off" and signed is None:
            signed = e  # the first sign-off counts
    proj.add("runs")
    for status, n in Counter(i["status"] for i in items.values()).items():
        proj.add("items", status, n)
    if signed is not None:
        opening = datetime.combine(day, clock.opens_at, tzinfo=zone(clock.tz))
        on_time = signed.occurred_at <= opening
        proj.status = "on_time" if on_time else "late"
        proj.add("run_on_time" if on_time else "run_late")
        proj.user_id = signed.user_id
        end: datetime | None = signed.occurred_at
    else:
        proj.add("run_unsigned")
        end = last_item_at
    proj.add("prep", proj.user_id, seconds_between(first_item_at, end, PREP_CAP_SECONDS))
    proj.facts = {
        "started_at": iso(first.occurred_at),
        "signed_at": iso(signed.occurred_at) if signed else None,
        "items": items,
        "day": day.isoformat(),
    }
    return proj


def fold_fault(events: list[Ev], clock: BranchClock) -> Projection | None:
    reported = next((e for e in events if e.type == "fault.reported"), None)
    if reported is None:
        return None
    p0 = reported.payload
    proj = Projection(clock.local(reported.occurred_at).date(), "open", reported.user_id)
    resolved = next((e for e in events if e.type == "fault.resolved"), None)  # the first counts
    proj.facts = {
        "reported_at": iso(reported.occurred_at),
        "item": p0["item_id"],
        "note": p0["note"],
        "run_id": p0["run_id"],
        "resolved_at": iso(resolved.occurred_at) if resolved else None,
    }
    proj.add("faults")
    if resolved is not None:
        proj.status = "resolved"
        seconds = max(0.0, (resolved.occurred_at - reported.occurred_at).total_seconds())
        proj.add("fault_fixed")
        proj.add("fault_hours", min(int(seconds // 3600), FAULT_CAP_HOURS))
        proj.add("fault_secs", "", int(seconds))
    return proj
