"""A referral: a customer handed to a wealth manager or the corporate desk (铁三角).

A read model of its `referral.*` events (app/referrals/events.py). It is open
until the receiving side records an outcome.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .branch import User


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
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | cancelled
    result: Mapped[str | None] = mapped_column(String(16))  # met | sold | no_sale | did_not_come
    amount_band: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[str | None] = mapped_column(String(300))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    outcome_by: Mapped[User | None] = relationship(foreign_keys=[outcome_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.status == "open"
