"""Labels for the codes the supervisor's pages show: its own, and the shared ones of
app/vocabulary.py under the names its templates use."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..vocabulary import (
    BAND_LABELS,
    COMPLAINT_CATEGORY_LABELS,
    COMPLAINT_SOURCE_LABELS,
    COMPLAINT_STATUS_LABELS,
    PURPOSE_LABELS,
    REFERRAL_RESULT_LABELS,
    RESPONSE_LABELS,
    ROUTE_LABELS,
    TERMS,
)

CHECKLIST_ANSWER_LABELS = {"ok": _l("OK"), "fault": _l("Fault"), "na": _l("Not applicable")}
VISIT_ANSWER_LABELS = {
    **{code: TERMS[code] for code in ("served", "walked_away", "referred")},
    "waiting": _l("Still waiting"),
}
VERDICT_LABELS = {"agree": _l("Agree"), "disagree": _l("Disagree")}
TARGET_LABELS = {"checklist_item": _l("Checklist item"), "visit": _l("Visit")}
CHECKLIST_STATUS_LABELS = {
    "on_time": _l("Signed on time"),
    "late": _l("Signed late"),
    "in_progress": _l("In progress"),
    "not_started": _l("Not started"),
    "overdue": _l("Not started, and the branch is open"),
}
EXPORT_LABELS = {
    "visits": _l("Visits"),
    "referrals": _l("Referrals"),
    "checklist": _l("Checklist runs"),
    "spotchecks": _l("Spot-checks"),
}


def labels() -> dict:
    return {
        "complaint_category": COMPLAINT_CATEGORY_LABELS,
        "complaint_source": COMPLAINT_SOURCE_LABELS,
        "complaint_status": COMPLAINT_STATUS_LABELS,
        "purpose": PURPOSE_LABELS,
        "outcome": VISIT_ANSWER_LABELS,
        "route": ROUTE_LABELS,
        "response": RESPONSE_LABELS,
        "result": REFERRAL_RESULT_LABELS,
        "band": BAND_LABELS,
        "verdict": VERDICT_LABELS,
        "target": TARGET_LABELS,
        "checklist": CHECKLIST_STATUS_LABELS,
        "export": EXPORT_LABELS,
    }


def answer_label(kind: str, answer: str | None) -> str:
    table = CHECKLIST_ANSWER_LABELS if kind == "checklist_item" else VISIT_ANSWER_LABELS
    return str(table.get(answer or "", answer or "—"))
