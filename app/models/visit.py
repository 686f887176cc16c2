"""A customer's visit to the lobby, derived from its `visit.*` events.

Everything here is a read model: `app/lobby/events.py` and
`app/lobby/sales_events.py` fold the events into these rows, and the write path
rebuilds them from the events whenever one arrives late or a step is undone.
Never write to these tables anywhere else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .branch import User


class Visit(db.Model):
    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_branch_status", "branch_id", "status", "greeted_at"),
        # The board's "just closed" list: a range at the end, however long the history.
        Index("ix_visit_branch_status_closed", "branch_id", "status", "closed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    # waiting | closed | void (the greeting itself was undone: recorded by mistake)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    purpose: Mapped[str] = mapped_column(String(16))
    ticket: Mapped[str | None] = mapped_column(String(10))
    segment: Mapped[str | None] = mapped_column(String(16))
    flags: Mapped[list] = mapped_column(JSON, default=list)
    greeted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    greeted_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))

    # Triage: the route the customer was sent on (ROUTES codes), last one wins.
    route: Mapped[str | None] = mapped_column(String(16))
    suggested_route: Mapped[str | None] = mapped_column(String(16))
    machine: Mapped[str | None] = mapped_column(String(60))
    amount_band: Mapped[str | None] = mapped_column(String(16))
    form_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    form_redone: Mapped[bool] = mapped_column(Boolean, default=False)
    # A large transfer to another bank (大额跨行转账), and what was kept here (挽留成功).
    to_other_bank: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    funds_kept_band: Mapped[str | None] = mapped_column(String(16))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Waiting area: talked to, and what was learnt.
    engaged_count: Mapped[int] = mapped_column(Integer, default=0)
    first_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needs: Mapped[list] = mapped_column(JSON, default=list)
    engage_note: Mapped[str | None] = mapped_column(String(300))

    # Referral (the referral itself is its own subject, app/models/referral.py).
    referral_id: Mapped[str | None] = mapped_column(String(36))
    referred_to: Mapped[str | None] = mapped_column(String(16))

    # Called to a counter (visit.called): the wait ends, service begins. The first call counts.
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_counter: Mapped[str | None] = mapped_column(String(10))
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    # A wealth manager's walk through the waiting area (visit.claimed, visit.wealth_outcome).
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wealth_result: Mapped[str | None] = mapped_column(String(16))
    wealth_amount_band: Mapped[str | None] = mapped_column(String(16))
    wealth_product: Mapped[str | None] = mapped_column(String(32))

    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_note: Mapped[str | None] = mapped_column(String(500))

    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    close_note: Mapped[str | None] = mapped_column(String(500))
    closed_event_id: Mapped[str | None] = mapped_column(String(36))

    # The last step that an "undo" would take back (not undone, not an undo).
    last_step_event_id: Mapped[str | None] = mapped_column(String(36))
    last_step_type: Mapped[str | None] = mapped_column(String(64))

    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id], lazy="select")
    recommendations: Mapped[list[VisitRecommendation]] = relationship(
        lazy="selectin", order_by="VisitRecommendation.id", viewonly=True
    )

    @property
    def is_waiting(self) -> bool:
        return self.status == "waiting"

    @property
    def spoken_to(self) -> bool:
        return self.engaged_count > 0

    @property
    def diverted(self) -> bool:
        """Sent to a self-service machine (分流): counted in the diversion rate."""
        return self.route == "self_service"


class VisitRecommendation(db.Model):
    """One product recommended during a visit and the customer's response."""

    __tablename__ = "visit_recommendation"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    product_code: Mapped[str] = mapped_column(String(32))
    response: Mapped[str] = mapped_column(String(16))  # interested|declined|already_has|later
    recommended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # No need was known when it was made (in event order): against the source's advice.
    without_need: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lobby manager confirmed recommending with no need known.
    confirmed_without_need: Mapped[bool] = mapped_column(Boolean, default=False)
    # The teller's one-sentence pitch at the counter (visit.pitched), not the lobby's.
    at_counter: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
