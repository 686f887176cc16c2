"""Labels for the codes the supervisor's pages show (the lobby's own labels where it has them)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..glossary import TERMS
from ..templating import PURPOSE_LABELS

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
    from ..lobby import codes, complaints

    return {
        "complaint_category": complaints.CATEGORY_LABELS,
        "complaint_source": complaints.SOURCE_LABELS,
        "complaint_status": complaints.STATUS_LABELS,
        "purpose": PURPOSE_LABELS,
        "outcome": VISIT_ANSWER_LABELS,
        "route": getattr(codes, "ROUTE_LABELS", {}),
        "response": getattr(codes, "RESPONSE_LABELS", {}),
        "result": getattr(codes, "REFERRAL_RESULT_LABELS", {}),
        "band": getattr(codes, "BAND_LABELS", {}),
        "verdict": VERDICT_LABELS,
        "target": TARGET_LABELS,
        "checklist": CHECKLIST_STATUS_LABELS,
        "export": EXPORT_LABELS,
    }


def answer_label(kind: str, answer: str | None) -> str:
    table = CHECKLIST_ANSWER_LABELS if kind == "checklist_item" else VISIT_ANSWER_LABELS
    return str(table.get(answer or "", answer or "—"))
