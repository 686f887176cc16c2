"""A visit's facts and counters for the figures, folded from its `visit.*` events.

The lobby folds the same events into its `Visit` (app/lobby/events.py); the
figures fold them again here because they must also be derived from the event
log alone (`rebuild-figures`, the benchmarks) and count what the `Visit` keeps
no trace of (who guided, how long the selling took). Both folds take the
greeting first, then the other steps in (occurred_at, device_id, seq) order,
without the steps a `visit.undone` took back; tests/test_visit_facts.py checks
that they agree. Where the figures count differently, the docstring of
`fold_visit` says so.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .facts import (
    GUIDE_CAP_SECONDS,
    SELL_CAP_SECONDS,
    BranchClock,
    Ev,
    Projection,
    iso,
    seconds_between,
    wait_bucket,
)


def _undone_ids(events: list[Ev]) -> set[str]:
    """Events that a `visit.undone` takes back."""
    return {e.payload["event_id"] for e in events if e.type == "visit.undone"}


def fold_visit(events: list[Ev], clock: BranchClock) -> Projection | None:
    """The visit's facts, or None when its greeting was undone (a void visit counts nowhere).

    As the figures count, unlike the `Visit`: a form redone counts as checked too
    (the redone share is redone ÷ checked); recommendations are the lobby
    manager's (`visit.recommended`), not the teller's pitches (`visit.pitched`).
    """
    undone = _undone_ids(events)
    greeted = next((e for e in events if e.type == "visit.greeted"), None)
    if greeted is None or greeted.id in undone:
        return None
    p0 = greeted.payload
    local = clock.local(greeted.occurred_at)
    proj = Projection(local.date(), "waiting", greeted.user_id)
    f: dict[str, Any] = {
        "greeted_at": iso(greeted.occurred_at),
        "purpose": p0["purpose"],
        "ticket": p0.get("ticket") or None,
        "segment": p0.get("segment"),
        "route": None,
        "form_checked": False,
        "form_redone": False,
        "recommendations": 0,
        "accepted": 0,
        "responses": [],
        "products": [],
        "referred": False,
        "engaged": False,
        "closed_at": None,
        "outcome": None,
        "satisfaction": None,
        "complaints": 0,
        "wait_seconds": None,
        "to_other_bank": False,
        "funds_kept": None,
    }
    triaged_at = engaged_at = first_sell = last_sell = closed_at = called_at = None
    guide_user = sell_user = greeted.user_id
    # Recommendations made before any need was learnt, per recorder: the source
    # document warns against exactly that (docs/events-supervisor.md).
    need_known, without_need = False, Counter[int]()
    for e in events:
        if e.id in undone or e.type == "visit.greeted":
            continue
        p, t, at = e.payload, e.type, e.occurred_at
        if t == "visit.updated":
            for k in ("purpose", "ticket", "segment"):
                if k in p:
                    f[k] = p[k]
            f["ticket"] = f["ticket"] or None  # an empty ticket is none, as in the Visit
        elif t == "visit.triaged":
            # The last triage wins, as in the Visit.
            f["route"] = p["route"]
            f["form_redone"] = p.get("form_redone") is True
            f["form_checked"] = f["form_redone"] or p.get("form_checked") is True
            f["to_other_bank"] = p.get("to_other_bank") is True
            if triaged_at is None:
                triaged_at, guide_user = at, e.user_id
        elif t == "visit.engaged":
            f["engaged"] = True
            need_known = need_known or bool(p.get("needs"))
            if engaged_at is None:
                engaged_at, sell_user = at, e.user_id
        elif t == "visit.recommended":
            # One recommendation per product, as the Visit counts them.
            products = list(dict.fromkeys(p["products"]))
            f["recommendations"] += len(products)
            f["responses"].extend([p["response"]] * len(products))
            f["products"].extend(products)
            if p["response"] == "interested":
                f["accepted"] += len(products)
            if not need_known:
                without_need[e.user_id] += len(products)
            first_sell = first_sell or at
            last_sell, sell_user = at, e.user_id
        elif t == "visit.referred":
            f["referred"] = True
            first_sell = first_sell or at
            last_sell, sell_user = at, e.user_id
        elif t == "visit.closed":
            closed_at = at  # a later close corrects an earlier one
            f["outcome"] = p["outcome"]
            f["satisfaction"] = p.get("satisfaction")
        elif t == "visit.funds_kept":
            f["funds_kept"] = p["amount_band"]  # the last one corrects earlier ones
        elif t == "visit.called":
            called_at = called_at or at  # the first call ends the wait
        elif t == "visit.complaint":
            f["complaints"] += 1
            f["complaint_note"] = p["note"]
    f["closed_at"] = iso(closed_at)

    proj.add("visits")
    proj.add("hour", f"{local.hour:02d}")
    proj.add("purpose", f["purpose"])
    if f["engaged"]:
        proj.add("engaged")
    if f["route"]:
        proj.add("triaged")
        proj.add("route", f["route"])
    if f["form_checked"]:
        proj.add("form_checked")
    if f["form_redone"]:
        proj.add("form_redone")
    if f["to_other_bank"]:
        proj.add("to_other_bank")
    if f["funds_kept"]:
        proj.add("funds_kept")
        proj.add("funds_kept_band", f["funds_kept"])
    proj.add("recs", "", f["recommendations"])
    proj.add("recs_ok", "", f["accepted"])
    f["recs_without_need"] = sum(without_need.values())
    for user_id, n in without_need.items():
        proj.add("rec_no_need", user_id, n)
    for response in f["responses"]:
        proj.add("rec_resp", response)
    if f["referred"]:
        proj.add("referred")
    f["called_at"] = iso(called_at)
    if called_at is not None:
        # Called to a counter: the wait is greeting to call, the service call to close.
        seconds = max(0.0, (called_at - greeted.occurred_at).total_seconds())
        f["wait_seconds"] = int(seconds)
        proj.add("wait", wait_bucket(seconds))
        if closed_at is not None:
            proj.add("service", wait_bucket(max(0.0, (closed_at - called_at).total_seconds())))
    if closed_at is not None:
        proj.status = "closed"
        proj.add("outcome", f["outcome"])
        if f["outcome"] in ("served", "referred") and called_at is None:
            # Never called: the wait runs open-ended to the close, as before visit.called.
            seconds = max(0.0, (closed_at - greeted.occurred_at).total_seconds())
            f["wait_seconds"] = int(seconds)
            proj.add("wait", wait_bucket(seconds))
        if f["satisfaction"] is not None:
            proj.add("sat", f["satisfaction"])
    proj.add("complaints", "", f["complaints"])
    proj.add(
        "guide", guide_user, seconds_between(greeted.occurred_at, triaged_at, GUIDE_CAP_SECONDS)
    )
    proj.add(
        "sell", sell_user, seconds_between(engaged_at or first_sell, last_sell, SELL_CAP_SECONDS)
    )
    proj.facts = f
    return proj
