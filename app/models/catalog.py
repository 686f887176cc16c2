"""What a branch can recommend: its product catalogue and the need tags products answer.

A product is one row per branch that offers it, all rows of one `code` holding
the same catalogue data (names, pitch, need tags, risk level, end date): the
code names one product across the bank, and a branch offers it while its row
there is active. `app/admin/catalogue.py` is the one place that writes them.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

# docs/product-rules.md, "Commands": letters, digits, `_` or `-`, at most 32.
PRODUCT_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
# The regulator's product risk levels, R1 (lowest) to R5.
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("branch_id", "code", name="uq_product_branch_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # One line the lobby manager can say about it, in each language.
    pitch: Mapped[str] = mapped_column(String(120), default="", server_default="")
    pitch_en: Mapped[str] = mapped_column(String(120), default="", server_default="")
    # Need tags (NEED_TAGS codes) this product answers: matching products are offered first.
    needs: Mapped[list] = mapped_column(JSON, default=list)
    risk_level: Mapped[str | None] = mapped_column(String(2))  # RISK_LEVELS
    ends_on: Mapped[date | None] = mapped_column(
        Date
    )  # the product's sale ends; its leaflets expire
    # Offered in this branch; a retired product is offered nowhere.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def display_name(self, lang: str | None = None) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name

    def display_pitch(self, lang: str | None = None) -> str:
        return self.pitch_en if lang == "en" and self.pitch_en else self.pitch

    def ended(self, day: date) -> bool:
        """True once the sale has ended: on `day` it can no longer be recommended."""
        return self.ends_on is not None and self.ends_on < day


# How much the branch head pushes a product: 重点产品 (focus) or 一般产品 (general).
FOCUS_PRIORITIES = ("focus", "general")


class FocusProduct(db.Model):
    """A product the branch head puts first for a day or a week, with a daily target.

    Set by the branch's supervisor (app/supervisor/focus.py); the lobby's
    recommend dialog lists focus products first.
    """

    __tablename__ = "focus_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), index=True)
    product_code: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default="focus")  # FOCUS_PRIORITIES
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # the same day, or six days later for a week
    # Recommendations of this product the branch aims at each day (0: no target).
    daily_recommendations: Mapped[int] = mapped_column(Integer, default=0)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyTarget(db.Model):
    """The branch's daily targets of referrals and sales for a day or a week."""

    __tablename__ = "daily_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    referrals: Mapped[int] = mapped_column(Integer, default=0)  # referrals handed over a day
    sales: Mapped[int] = mapped_column(Integer, default=0)  # referrals ending in a sale a day
    set_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
