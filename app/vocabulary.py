"""The shared vocabulary: the codes events carry and the one word for each.

Codes are what events carry (stable, English); labels are for people. Every
table here is used by more than one feature (a visit's purpose reads the same
on the lobby board, the referral desk, the counter and the supervisor's
spot-check), so a code never reads two ways on two pages. A feature keeps its
own private labels beside its code (app/supervisor/labels.py,
app/checklist/inventory.py, ...), but takes any word for a code of this module
from here. This module sits below the models (app/models/branch.py takes the
roles' words from TERMS), so it imports nothing of app/.

The Chinese is in app/translations/zh/LC_MESSAGES/messages.po (Flask-Babel merges
every feature's catalogue, app/i18n.py); tests/test_glossary.py fails when a
table labels a glossary code with another word, or when one English term has
two Chinese translations in the catalogues.
"""

from __future__ import annotations

import weakref
from typing import Literal, get_args

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l

# --- the glossary: the terms of the source document --------------------------

TERMS = {
    # people (docs/product-rules.md, "People and roles")
    "lobby_manager": _l("Lobby manager"),  # 大堂经理
    "teller": _l("Teller"),  # 柜员
    "wealth_manager": _l("Wealth manager"),  # 理财经理
    "branch_supervisor": _l("Branch supervisor"),  # 网点负责人
    "area_supervisor": _l("Area supervisor"),  # 区域主管
    "admin": _l("Administrator"),  # 系统管理员
    # a visit and how it ends
    "visit": _l("Visit"),  # 来访
    "served": _l("Served"),  # 已办理
    "walked_away": _l("Walked away"),  # 未办理离开
    "referred": _l("Referred"),  # 已转介
    # places and things in the lobby
    "self_service": _l("Self-service machine"),  # 自助设备
    "online_banking_area": _l("Online-banking area"),  # 网银服务区
    "comment_book": _l("Customer comment book"),  # 客户意见簿
    # the checklist
    "signed_off": _l("Signed off"),  # 签字确认
    # selling
    "focus": _l("Focus product"),  # 重点产品
    "general": _l("General product"),  # 一般产品
    "funds_kept": _l("Funds kept"),  # 挽留成功
}


# --- the codes of a visit and a referral --------------------------------------

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

PURPOSE_LABELS = {
    "cash": _l("Cash"),
    "transfer": _l("Transfer"),
    "account": _l("Account"),
    "card": _l("Card"),
    "wealth": _l("Wealth"),
    "loan": _l("Loan"),
    "bills": _l("Bills"),
    "inquiry": _l("Inquiry"),
    "complaint": _l("Complaint"),
    "corporate": _l("Corporate"),
    "other": _l("Other"),
}
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
# The steps of a visit, as its history lists them (the lobby card, the counter).
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
# A product the branch head puts first for a day or week, or any other one.
PRIORITY_LABELS = {code: TERMS[code] for code in ("focus", "general")}  # 重点产品 / 一般产品

# --- complaints ---------------------------------------------------------------

ComplaintCategory = Literal[
    "waiting", "attitude", "fees", "machines", "products", "environment", "other"
]
COMPLAINT_CATEGORIES: tuple[str, ...] = get_args(ComplaintCategory)
ComplaintSource = Literal["lobby", "teller", "comment_book"]
COMPLAINT_SOURCES: tuple[str, ...] = get_args(ComplaintSource)

COMPLAINT_CATEGORY_LABELS = {
    "waiting": _l("Waiting time"),
    "attitude": _l("Staff attitude"),
    "fees": _l("Fees"),
    "machines": _l("Self-service machines"),
    "products": _l("Products"),
    "environment": _l("Branch environment"),
    "other": _l("Other"),
}
COMPLAINT_SOURCE_LABELS = {
    "lobby": _l("Lobby"),
    "teller": TERMS["teller"],
    "comment_book": TERMS["comment_book"],
}
COMPLAINT_STATUS_LABELS = {
    "open": _l("Open"),
    "responded": _l("Responded"),
    "resolved": _l("Resolved"),
}


def label(table: dict, code: str | None) -> str:
    """`code`'s word in `table`, or the code itself when the table has none."""
    return str(table.get(code, code or ""))


_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # translations -> labels()


def labels() -> dict:
    """Every shared code's label, in the current language, as the templates and lobby.js use them.

    Made once per catalogue (the tables are constants, so the labels depend only on
    the translations in use) and shared between requests: treat it as read-only.
    """
    translations = get_translations()
    cached = _LABELS.get(translations)
    if cached is not None:
        return cached

    def strings(table):
        return {k: str(v) for k, v in table.items()}

    result = {
        "purposes": strings(PURPOSE_LABELS),
        "segments": strings(SEGMENT_LABELS),
        "flags": strings(FLAG_LABELS),
        "routes": strings(ROUTE_LABELS),
        "bands": strings(BAND_LABELS),
        "responses": strings(RESPONSE_LABELS),
        "outcomes": strings(OUTCOME_LABELS),
        "refer_to": strings(REFER_TO_LABELS),
        "referral_results": strings(REFERRAL_RESULT_LABELS),
        "referral_status": strings(REFERRAL_STATUS_LABELS),
        "events": strings(EVENT_LABELS),
        "complaint_categories": strings(COMPLAINT_CATEGORY_LABELS),
        "complaint_sources": strings(COMPLAINT_SOURCE_LABELS),
        "complaint_status": strings(COMPLAINT_STATUS_LABELS),
    }
    _LABELS[translations] = result
    return result
