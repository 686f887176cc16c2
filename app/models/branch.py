"""Branches, the people who work in them, and what each role may do."""

from __future__ import annotations

import enum
from datetime import datetime, time

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Time, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..vocabulary import TERMS


class Role(str, enum.Enum):
    LOBBY_MANAGER = "lobby_manager"
    TELLER = "teller"
    WEALTH_MANAGER = "wealth_manager"
    BRANCH_SUPERVISOR = "branch_supervisor"
    AREA_SUPERVISOR = "area_supervisor"
    ADMIN = "admin"

    @property
    def is_supervisor(self) -> bool:
        return self in (Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR)

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {role: TERMS[role.value] for role in Role}  # app/vocabulary.py


user_branches = Table(
    "user_branch",
    db.metadata,
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("branch_id", Integer, ForeignKey("branch.id", ondelete="CASCADE"), primary_key=True),
)


class Branch(db.Model):
    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    # Waiting-board colours: a wait past these many minutes is amber, then red.
    wait_warn_minutes: Mapped[int] = mapped_column(Integer, default=10)
    wait_alert_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # A referral nobody took within these many minutes turns amber (lobby card, /referrals).
    referral_take_minutes: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One more at every change to what the lobby page's settings-driven parts are
    # drawn from (app/models/settings_version.py): those parts are rendered again
    # only when it moves, with no query for the settings themselves.
    settings_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def display_name(self, locale: str | None = None) -> str:
        if locale and locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    def __repr__(self) -> str:
        return f"<Branch {self.code}>"


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(
        db.Enum(Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password reset or deactivation: old sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    branches: Mapped[list[Branch]] = relationship(
        secondary=user_branches, lazy="selectin", order_by=Branch.code
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def readable_branches(self) -> list[Branch]:
        """Branches whose data this user may see: admins all, others their own."""
        if self.is_admin:
            return list(db.session.scalars(select(Branch).order_by(Branch.code)))
        return list(self.branches)

    def readable_branch_ids(self) -> set[int]:
        return {b.id for b in self.readable_branches()}

    def can_read(self, branch: Branch | int) -> bool:
        branch_id = branch if isinstance(branch, int) else branch.id
        return self.is_admin or any(b.id == branch_id for b in self.branches)

    def can_write(self, branch: Branch | int) -> bool:
        # Members write in their branches. An admin may address any branch, but no
        # event type lists the admin role: admins administer, they do not act in a lobby.
        branch_id = branch if isinstance(branch, int) else branch.id
        return any(b.id == branch_id for b in self.branches) or self.is_admin

    @property
    def home_branch(self) -> Branch | None:
        return self.branches[0] if self.branches else None

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"
