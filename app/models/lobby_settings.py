"""What an admin sets for the lobby: triage rules, self-service machines, need tags."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class RouteRule(db.Model):
    """Suggests a triage route for a purpose, per branch.

    A rule with `min_band` applies only when the amount is in that band or
    above (e.g. a transfer of 50,000 and more goes to a wealth manager); the
    rule with the highest band the amount reaches wins, else the one without.
    """

    __tablename__ = "route_rule"
    __table_args__ = (
        UniqueConstraint(
            "branch_id", "purpose", "min_band", name="uq_route_rule_branch_purpose_band"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    min_band: Mapped[str | None] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))


class SelfServiceMachine(db.Model):
    """An ATM or kiosk customers can be sent to (a simple per-branch list)."""

    __tablename__ = "self_service_machine"
    __table_args__ = (UniqueConstraint("branch_id", "name", name="uq_machine_branch_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)


class NeedTag(db.Model):
    """A need a lobby manager can learn in the waiting area; Product.needs uses the codes."""

    __tablename__ = "need_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def display_name(self, lang: str | None = None) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name
