"""Sign-ins: one row per signed-in session, so that a session can really end.

A Flask session lives in a signed cookie; without a row on the server a copy of
that cookie would keep working after sign-out until it expired. The row also
carries the idle clock and tells the admin's audit page which device it was.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .branch import User


class SignIn(db.Model):
    __tablename__ = "sign_in"
    __table_args__ = (Index("ix_sign_in_started_at", "started_at"),)

    # Random and unguessable: it travels in the (signed) session cookie.
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # "signed_out", "idle", "expired" or "replaced" (another sign-in on the same
    # browser); a password reset ends sessions through the user's session_version.
    ended_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    # Not joined: every request reads its sign-in, and needs only the row.
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<SignIn {self.user_id} {self.started_at:%Y-%m-%d %H:%M}>"
