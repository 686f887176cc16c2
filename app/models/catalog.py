"""What a branch can recommend: its product catalogue and the need tags products answer."""
from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("branch_id", "code", name="uq_product_branch_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # Need tags (NEED_TAGS codes) this product answers: matching products are offered first.
    needs: Mapped[list] = mapped_column(JSON, default=list)
    ends_on: Mapped[date | None] = mapped_column(Date)  # the product's sale ends; its leaflets expire
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def display_name(self, lang: str | None = None) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name
