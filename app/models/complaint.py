"""A complaint followed through, like a fault: open → responded → resolved.

Its events are in app/lobby/complaints.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .branch import User


class Complaint(db.Model):
    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_branch_status", "branch_id", "status", "opened_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    category: Mapped[str] = mapped_column(String(16))  # COMPLAINT_CATEGORIES
    source: Mapped[str] = mapped_column(String(16))  # lobby | teller | comment_book
    visit_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | responded | resolved
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    response_note: Mapped[str | None] = mapped_column(String(500))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resolve_note: Mapped[str | None] = mapped_column(String(500))

    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"
