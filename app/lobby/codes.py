"""The lobby's codes and their labels: routes, amount bands, responses, outcomes.

Codes are what events carry (stable, English); labels are for people.
"""

from __future__ import annotations

from typing import Literal, get_args

from flask_babel import lazy_gettext as _l

from ..glossary import TERMS

Purpose = Literal[
    "cash",
    "transfer",
    "account",
    "card",
    "wealth",
    "loan",
    "bills",
    "inquiry",
    "complaint",
    "corporate",
    "other",
]
PURPOSES: tuple[str, ...] = get_args(Purpose)
Segment = Literal["new", "regular", "high_value"]
SEGMENTS: tuple[str, ...] = get_args(Segment)
Flag = Literal["elderly", "needs_help", "vip_appointment"]
FLAGS: tuple[str, ...] = get_args(Flag)
Outcome = Literal["served", "walked_away", "referred"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
Route = Literal["self_service", "counter", "wealth", "corporate", "vip"]
ROUTES: tuple[str, ...] = get_args(Route)
AmountBand = Literal["lt_50k", "50k_200k", "200k_1m", "gt_1m"]
AMOUNT_BANDS: tuple[str, ...] = get_args(AmountBand)
Response = Literal["interested", "declined", "already_has", "later"]
RESPONSES: tuple[str, ...] = get_args(Response)
ReferTo = Literal["wealth", "corporate"]
REFER_TO: tuple[str, ...] = get_args(ReferTo)
ReferralResult = Literal["met", "sold", "no_sale", "did_not_come"]
REFERRAL_RESULTS: tuple[str, ...] = get_args(ReferralResult)

SEGMENT_LABELS = {
    "new": _l("New customer"),
    "regular": _l("Regular"),
    "high_value": _l("High-value"),
}
FLAG_LABELS = {
    "elderly": _l("Elderly"),
    "needs_help": _l("Needs help"),
    "vip_appointment": _l("VIP appointment"),
}
OUTCOME_LABELS = {code: TERMS[code] for code in ("served", "walked_away", "referred")}
ROUTE_LABELS = {
    "self_service": TERMS["self_service"],
    "counter": _l("Teller counter"),
    "wealth": _l("Wealth manager"),
    "corporate": _l("Corporate desk"),
    "vip": _l("VIP room"),
}
BAND_LABELS = {
    "lt_50k": _l("Under ¥50,000"),
    "50k_200k": _l("¥50,000–200,000"),
    "200k_1m": _l("¥200,000–1 million"),
    "gt_1m": _l("Over ¥1 million"),
}
RESPONSE_LABELS = {
    "interested": _l("Interested"),
    "declined": _l("Declined"),
    "already_has": _l("Already has it"),
    "later": _l("Maybe later"),
}
REFER_TO_LABELS = {
    "wealth": _l("Wealth manager"),
    "corporate": _l("Corporate desk"),
}
REFERRAL_RESULT_LABELS = {
    "met": _l("Met"),
    "sold": _l("Sold"),
    "no_sale": _l("No sale"),
    "did_not_come": _l("Did not come"),
}
REFERRAL_STATUS_LABELS = {
    "open": _l("Waiting for the wealth manager"),
    "accepted": _l("Taken: on the way"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}

# What the built-in need tags are called until an admin renames them (NeedTag rows).
DEFAULT_NEED_TAGS = [
    ("wealth_management", "理财", "Wealth management"),
    ("deposits", "存款", "Deposits"),
    ("loans", "贷款", "Loans"),
    ("credit_card", "信用卡", "Credit card"),
    ("mobile_banking", "手机银行", "Mobile banking"),
    ("insurance", "保险", "Insurance"),
    ("pension", "养老金", "Pension"),
    ("foreign_exchange", "外汇", "Foreign exchange"),
]

EVENT_LABELS = {
    "visit.greeted": _l("Greeted"),
    "visit.updated": _l("Details changed"),
    "visit.triaged": _l("Triaged"),
    "visit.engaged": _l("Talked to"),
    "visit.recommended": _l("Recommended"),
    "visit.referred": _l("Referred"),
    "visit.funds_kept": TERMS["funds_kept"],
    "visit.called": _l("Called to a counter"),
    "visit.pitched": _l("One-sentence pitch"),
    "visit.complaint": _l("Complaint"),
    "visit.closed": _l("Closed"),
    "visit.undone": _l("Step undone"),
}


def label(table: dict, code: str | None) -> str:
    return str(table.get(code, code or ""))
