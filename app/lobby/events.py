"""The `visit.*` event types and how they shape a `Visit`.

`visit.greeted` and `visit.closed` have payloads fixed by the sync contract
(docs/events.md); outside clients rely on them exactly.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, conint
from sqlalchemy import delete

from ..events import Applied, Payload, event_type, register_aggregate
from ..extensions import db
from ..models import Role, Subject, Visit
from ..privacy import FreeText

Purpose = Literal["cash", "transfer", "account", "card", "wealth", "loan", "bills", "inquiry",
                  "complaint", "corporate", "other"]
PURPOSES: tuple[str, ...] = Purpose.__args__
Segment = Literal["new", "regular", "high_value"]
Flag = Literal["elderly", "needs_help", "vip_appointment"]
Outcome = Literal["served", "walked_away", "referred"]

LOBBY_ROLES = {Role.LOBBY_MANAGER}


class VisitGreeted(Payload):
    purpose: Purpose
    ticket: Optional[str] = Field(default=None, max_length=10)
    segment: Optional[Segment] = None
    flags: Optional[list[Flag]] = Field(default=None, max_length=3)


class VisitClosed(Payload):
    outcome: Outcome
    satisfaction: Optional[conint(ge=1, le=5)] = None
    note: Optional[FreeText] = Field(default=None, max_length=500)


def _reset(subject: Subject) -> None:
    db.session.execute(delete(Visit).where(Visit.id == subject.id))


register_aggregate("visit", _reset)


@event_type("visit.greeted", kind="visit", payload=VisitGreeted, roles=LOBBY_ROLES,
            creates_subject=True,
            description="A customer was greeted at the door: a new visit begins, waiting.")
def greeted(a: Applied) -> None:
    p: VisitGreeted = a.payload
    db.session.add(Visit(
        id=a.subject.id, branch_id=a.branch.id, status="waiting", purpose=p.purpose,
        ticket=p.ticket or None, segment=p.segment, flags=sorted(set(p.flags or [])),
        greeted_at=a.event.occurred_at, greeted_by_id=a.event.user_id))


@event_type("visit.closed", kind="visit", payload=VisitClosed, roles=LOBBY_ROLES,
            description="The visit ended: served, walked away or referred. A later "
                        "visit.closed corrects an earlier one.")
def closed(a: Applied) -> None:
    p: VisitClosed = a.payload
    visit = db.session.get(Visit, a.subject.id)
    visit.status = "closed"
    visit.closed_at = a.event.occurred_at
    visit.outcome = p.outcome
    visit.satisfaction = p.satisfaction
    visit.close_note = p.note
