"""The pre-opening checklist: a branch's inventory and template, runs, entries and faults.

`Equipment`, `Leaflet` and `TemplateItem` are configuration kept by the admin
(plain ORM writes). `ChecklistRun`, `ChecklistEntry`, `Fault` and `FaultPhoto`
are read models derived from the `checklist.*` and `fault.*` events
(app/checklist/events.py) and are never written any other way.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .branch import User
from .catalog import Product


class Equipment(db.Model):
    """One piece of lobby equipment that the checklist looks at (an ATM, a phone line, ...)."""

    __tablename__ = "checklist_equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    # atm | kiosk | ebank_pc | phone_line | recount | comment_book | signage
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # Every item about a critical piece is critical: its open fault is flagged at opening.
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Leaflet(db.Model):
    """A kind of leaflet kept in the racks, with its minimum stock and end date."""

    __tablename__ = "checklist_leaflet"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id", ondelete="SET NULL"))
    min_stock: Mapped[int] = mapped_column(Integer, default=20)
    # Its own end date; when empty, the linked product's `ends_on` is used.
    ends_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product | None] = relationship(lazy="joined")

    @property
    def effective_ends_on(self) -> date | None:
        if self.ends_on:
            return self.ends_on
        return self.product.ends_on if self.product else None


class TemplateItem(db.Model):
    """One line of a branch's checklist template.

    `kind` is one of the nine item kinds of the source (ITEM_KINDS in
    app/checklist/inventory.py), generated per piece of equipment, or `custom`
    for an item the branch added, with its own label.
    """

    __tablename__ = "checklist_template_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(200), default="")
    label_en: Mapped[str] = mapped_column(String(200), default="")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class ChecklistRun(db.Model):
    """One branch's checklist for one day. Its id is derived from branch code and day.

    `items` is the list of items, generated from the inventory and template
    when the run's first event arrived, so a past run keeps the items it had.
    """

    __tablename__ = "checklist_run"
    __table_args__ = (UniqueConstraint("branch_id", "day", name="uq_checklist_run_branch_day"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    items: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    signed_by: Mapped[User | None] = relationship(lazy="joined")


class ChecklistEntry(db.Model):
    """One mark on one item (every one is kept; the latest by event order counts)."""

    __tablename__ = "checklist_entry"
    __table_args__ = (Index("ix_checklist_entry_run_item", "run_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the event id
    run_id: Mapped[str] = mapped_column(ForeignKey("checklist_run.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # ok | fault | na
    note: Mapped[str | None] = mapped_column(String(500))
    count: Mapped[int | None] = mapped_column(Integer)
    fault_id: Mapped[str | None] = mapped_column(String(36))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))

    user: Mapped[User] = relationship(lazy="joined")
    # Never read; it tells the ORM's flush to write a run before its entries (a
    # day's first mark adds both; unrelated tables flush in their classes' order).
    run: Mapped[ChecklistRun] = relationship(lazy="raise")

    @property
    def order_key(self) -> tuple:
        return (self.occurred_at, self.device_id, self.seq)


class Fault(db.Model):
    """A fault found on a checklist item: a follow-up that stays open until marked fixed."""

    __tablename__ = "checklist_fault"
    __table_args__ = (Index("ix_checklist_fault_branch_open", "branch_id", "resolved_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("checklist_run.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    item: Mapped[dict] = mapped_column(JSON, default=dict)  # the run's item, as it was
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(500))
    has_photo: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resolve_note: Mapped[str | None] = mapped_column(String(500))

    run: Mapped[ChecklistRun] = relationship(lazy="joined")
    reported_by: Mapped[User] = relationship(foreign_keys=[reported_by_id], lazy="joined")
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class FaultPhoto(db.Model):
    """A fault's photo, kept apart so that pages listing faults stay light."""

    __tablename__ = "checklist_fault_photo"

    fault_id: Mapped[str] = mapped_column(
        ForeignKey("checklist_fault.id", ondelete="CASCADE"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
