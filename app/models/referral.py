"""A referral: a customer handed to a wealth manager or the corporate desk (铁三角).

A read model of its `referral.*` events (app/referrals/events.py). It is open
until a wealth manager takes it (accepted), done once the outcome is recorded,
or cancelled by its sender. A hand-off to a colleague makes it open again,
assigned to the colleague.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .branch import User

STATUSES = ("open", "accepted", "done", "cancelled")


class Referral(db.Model):
    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_branch_status", "branch_id", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    visit_id: Mapped[str | None] = mapped_column(String(36), index=True)
    to: Mapped[str] = mapped_column(String(16))  # wealth | corporate
    note: Mapped[str | None] = mapped_column(String(300))
    purpose: Mapped[str | None] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # The wealth manager it is meant for (None: any wealth manager of the branch).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The customer agreed to go to the wealth area (None: not recorded, older clients).
    consent: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="open")  # STATUSES
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    result: Mapped[str | None] = mapped_column(String(16))  # met | sold | no_sale | did_not_come
    amount_band: Mapped[str | None] = mapped_column(String(16))
    product: Mapped[str | None] = mapped_column(String(32))  # the product sold, if any
    outcome_note: Mapped[str | None] = mapped_column(String(300))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    outcome_by: Mapped[User | None] = relationship(foreign_keys=[outcome_by_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        """Not finished yet: waiting for a wealth manager, or one is on the way."""
        return self.status in ("open", "accepted")
