"""A customer's visit to the lobby, derived from its `visit.*` events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime
from ..extensions import db


class Visit(db.Model):
    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_branch_status", "branch_id", "status", "greeted_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | closed
    purpose: Mapped[str] = mapped_column(String(16))
    ticket: Mapped[str | None] = mapped_column(String(10))
    segment: Mapped[str | None] = mapped_column(String(16))
    flags: Mapped[list] = mapped_column(JSON, default=list)
    greeted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    greeted_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    close_note: Mapped[str | None] = mapped_column(String(500))

    @property
    def is_waiting(self) -> bool:
        return self.status == "waiting"
