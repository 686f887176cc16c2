"""Suggesting a triage route from the purpose (and, for transfers, the amount).

An admin changes the rules per branch (RouteRule rows, /lobby/settings); a
branch without rules uses DEFAULT_RULES. The same rules go to the tablet in
the page's data block, so the suggestion works offline too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import RouteRule
from ..vocabulary import AMOUNT_BANDS, PURPOSES


@dataclass(frozen=True)
class Rule:
    purpose: str
    route: str
    min_band: str | None = None

    def as_json(self) -> dict:
        return {"purpose": self.purpose, "route": self.route, "min_band": self.min_band}


# Only small cash goes to the machines (小额现金分流到自助设备): cash of ¥50,000
# and more goes to the counter, and the wealth managers are told (referrals
# page). Bills go to self-service; transfers of ¥50,000 and more and wealth
# questions to a wealth manager; corporate business to the corporate desk;
# everything else to the counter. The admin moves the thresholds per branch
# (/lobby/settings: the "large amount" rule of each purpose).
LARGE_CASH_BAND = "50k_200k"
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("cash", "self_service"),
    Rule("cash", "counter", LARGE_CASH_BAND),
    Rule("bills", "self_service"),
    Rule("transfer", "counter"),
    Rule("transfer", "wealth", "50k_200k"),
    Rule("wealth", "wealth"),
    Rule("corporate", "corporate"),
    *(
        Rule(p, "counter")
        for p in PURPOSES
        if p not in ("cash", "bills", "transfer", "wealth", "corporate")
    ),
)


def branch_rules(branch_id: int) -> list[Rule]:
    rows = db.session.scalars(select(RouteRule).where(RouteRule.branch_id == branch_id)).all()
    if not rows:
        return list(DEFAULT_RULES)
    return [Rule(r.purpose, r.route, r.min_band) for r in rows]


def suggest_route(rules: list[Rule], purpose: str, amount_band: str | None = None) -> str:
    """The route the rules suggest; "counter" when no rule covers the purpose."""
    reached = AMOUNT_BANDS.index(amount_band) if amount_band in AMOUNT_BANDS else -1
    best, best_rank = None, -2
    for rule in rules:
        if rule.purpose != purpose:
            continue
        rank = AMOUNT_BANDS.index(rule.min_band) if rule.min_band in AMOUNT_BANDS else -1
        if rule.min_band is not None and rank > reached:
            continue
        if rank > best_rank:
            best, best_rank = rule, rank
    return best.route if best else "counter"


def save_rules(branch_id: int, rules: list[Rule]) -> None:
    """Replace a branch's rules (the admin settings form)."""
    for row in db.session.scalars(select(RouteRule).where(RouteRule.branch_id == branch_id)):
        db.session.delete(row)
    db.session.flush()
    for rule in rules:
        db.session.add(
            RouteRule(
                branch_id=branch_id, purpose=rule.purpose, route=rule.route, min_band=rule.min_band
            )
        )


def large_cash_band(rules: list[Rule]) -> str | None:
    """The smallest amount band a branch sends cash to the counter for (its threshold)."""
    bands = [
        r.min_band
        for r in rules
        if r.purpose == "cash" and r.min_band in AMOUNT_BANDS and r.route != "self_service"
    ]
    return min(bands, key=AMOUNT_BANDS.index) if bands else None
