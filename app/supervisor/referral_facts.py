"""A referral's facts and counters for the figures, folded from its `referral.*` events.

The iron triangle's times (docs/events-supervisor.md): created to the first
`referral.accepted` (time to take), created to the last `referral.outcome`
(time to meet); conversion by wealth manager and by who referred.
"""

from __future__ import annotations

from typing import Any

from .facts import CAP, BranchClock, Ev, Projection, iso, seconds_between, wait_bucket


def fold_referral(events: list[Ev], clock: BranchClock) -> Projection | None:
    """The referral's facts, or None when its sender cancelled it (not a referral any more)."""
    created = next((e for e in events if e.type == "referral.created"), None)
    if created is None:
        return None
    p0 = created.payload
    proj = Projection(clock.local(created.occurred_at).date(), "open", created.user_id)
    f: dict[str, Any] = {
        "created_at": iso(created.occurred_at),
        "visit_id": p0.get("visit_id"),
        "to": p0["to"],
        "outcome": None,
        "amount_band": None,
        "outcome_at": None,
        "outcome_by": None,
        "taken_at": None,
        "taken_by": None,
    }
    taken_at = outcome_at = None
    for e in events:
        if e.type == "referral.cancelled":
            return None
        if e.type == "referral.accepted" and taken_at is None:
            taken_at = e.occurred_at  # the first "on my way": how long the customer waited
            f["taken_at"], f["taken_by"] = iso(taken_at), e.user_id
        if e.type == "referral.outcome":  # a later outcome corrects an earlier one
            f["outcome"] = e.payload["result"]
            f["amount_band"] = e.payload.get("amount_band")
            outcome_at = e.occurred_at
            f["outcome_at"], f["outcome_by"] = iso(outcome_at), e.user_id
    proj.add("referrals")
    proj.add("ref_from", created.user_id)
    if taken_at is not None:
        proj.add("ref_take", wait_bucket(seconds_between(created.occurred_at, taken_at, CAP)))
    elif f["outcome"] in (None, "did_not_come"):
        proj.add("ref_untaken")  # nobody said "on my way" (yet)
    if f["outcome"] and f["outcome"] != "did_not_come":
        proj.add("ref_meet", wait_bucket(seconds_between(created.occurred_at, outcome_at, CAP)))
    if f["outcome"]:
        proj.status = f["outcome"]
        proj.add("ref_outcome", f["outcome"])
        wealth_manager = f["taken_by"] or f["outcome_by"]
        proj.add("ref_wm", wealth_manager)
        if f["outcome"] == "sold":
            proj.add("ref_sold_wm", wealth_manager)
            proj.add("ref_sold_from", created.user_id)
            proj.add("ref_band", f["amount_band"])  # a sale always has its band
    else:
        proj.add("ref_open")
    proj.facts = f
    return proj
