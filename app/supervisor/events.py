"""`spotcheck.recorded`: a supervisor's blind re-check of a checklist item or a visit.

The supervisor records what they found before the lobby manager's answer is
shown; the apply function stores that answer beside theirs, as it stood when
the spot-check was recorded, so the agreement rate never moves afterwards.
The verdict (agree or disagree) is the server's comparison of the two
answers: a `verdict` in the payload is accepted for older clients and ignored.
"""

from __future__ import annotations

from typing import Literal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import Field
from sqlalchemy import delete

from ..events import Applied, Payload, Rejected, event_type, register_aggregate
from ..extensions import db
from ..models import Role, Subject
from ..models.figures import SpotCheck
from ..privacy import FreeText
from .projection import BranchClock
from .spotchecks import ANSWERS, find_target

SUPERVISOR_ROLES = {Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR}


class SpotCheckRecorded(Payload):
    target_kind: Literal["checklist_item", "visit"]
    target_id: str = Field(min_length=1, max_length=64)
    run_id: str | None = Field(default=None, max_length=36)
    # Ignored: the server compares the answers itself (see `verdict_of`).
    verdict: Literal["agree", "disagree"] | None = None
    supervisor_answer: str = Field(max_length=32)
    note: FreeText | None = Field(default=None, max_length=500)  # refuses personal data


def _reset(subject: Subject) -> None:
    db.session.execute(delete(SpotCheck).where(SpotCheck.id == subject.id))


register_aggregate("spotcheck", _reset, label=_l("spot-check"))


def verdict_of(supervisor_answer: str, lobby_answer: str | None) -> str:
    return "agree" if supervisor_answer == lobby_answer else "disagree"


def _check(a: Applied) -> None:
    p: SpotCheckRecorded = a.payload
    if p.supervisor_answer not in ANSWERS[p.target_kind]:
        raise Rejected(
            "invalid_payload",
            _(
                "%(field)s must be one of: %(allowed)s",
                field="supervisor_answer",
                allowed=", ".join(ANSWERS[p.target_kind]),
            ),
        )
    if find_target(a.branch, p.target_kind, p.target_id, p.run_id) is None:
        raise Rejected("unknown_target", _("There is no such item or visit in this branch."))


@event_type(
    "spotcheck.recorded",
    kind="spotcheck",
    payload=SpotCheckRecorded,
    roles=SUPERVISOR_ROLES,
    creates_subject=True,
    check=_check,
    description="A supervisor re-checked a checklist item or a visit blind and "
    "recorded agree or disagree, with a note.",
)
def spotcheck_recorded(a: Applied) -> None:
    p: SpotCheckRecorded = a.payload
    target = find_target(a.branch, p.target_kind, p.target_id, p.run_id)
    db.session.add(
        SpotCheck(
            id=a.subject.id,
            branch_id=a.branch.id,
            day=BranchClock.of(a.branch).local(a.event.occurred_at).date(),
            recorded_at=a.event.occurred_at,
            supervisor_id=a.event.user_id,
            run_id=(target.run_id if target else None) or p.run_id,
            target_kind=p.target_kind,
            target_id=p.target_id,
            target_label=(target.label if target else "")[:200],
            checked_user_id=target.user_id if target else None,
            lobby_answer=target.answer if target else None,
            supervisor_answer=p.supervisor_answer,
            verdict=verdict_of(p.supervisor_answer, target.answer if target else None),
            note=p.note or None,
        )
    )
