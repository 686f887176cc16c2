"""The event store: every fact a device or a form records, never edited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .branch import Branch, User

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
PositionType = BigInteger().with_variant(Integer, "sqlite")


class Event(db.Model):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_branch_position", "branch_id", "position"),
        Index("ix_event_subject_order", "subject_id", "occurred_at", "device_id", "seq"),
    )

    # The order in which the server accepted events: the pull cursor.
    position: Mapped[int] = mapped_column(PositionType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    # The event's time by the server's clock: the device's own time corrected by
    # the device's skew (app.events.DeviceClock). Folds, figures and lateness use it.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The time the device gave, as it gave it (the envelope's occurred_at): what
    # repeats are compared with, what the audit log and the pull show.
    device_occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject_id: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    payload: Mapped[dict] = mapped_column(JSON)

    branch: Mapped[Branch] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")

    @property
    def order_key(self) -> tuple:
        """How a subject's events are ordered when its state is derived."""
        return (self.occurred_at, self.device_id, self.seq)

    def __repr__(self) -> str:
        return f"<Event {self.type} {self.id}>"


class Subject(db.Model):
    """A thing events are about (a visit, a checklist run, a fault, ...).

    Made by the event that creates it; pins its kind and branch so that later
    events cannot move it, and remembers the order key of the last event folded
    into its read model, so an event that arrives late triggers a rebuild.
    """

    __tablename__ = "subject"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_device_id: Mapped[str] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(BigInteger)

    @property
    def last_key(self) -> tuple:
        return (self.last_occurred_at, self.last_device_id, self.last_seq)


class QueuedEvent:
    """An accepted event that the write path's fast lane has not inserted yet.

    It has the attributes of an `Event` that the checks, the folds and the
    observers read, but none of the ORM's bookkeeping: building an `Event`
    costs more than inserting its row. `RowQueue.insert_all_before_commit`
    (app/events/fast_lane.py) inserts the rows of a batch with one executemany.
    """

    __slots__ = (
        "id",
        "type",
        "occurred_at",
        "device_occurred_at",
        "received_at",
        "subject_id",
        "branch_id",
        "branch",
        "device_id",
        "seq",
        "user_id",
        "user",
        "payload",
    )
    position = None  # given by the database when the row is inserted

    def __init__(
        self,
        *,
        id,
        type,
        occurred_at,
        device_occurred_at,
        received_at,
        subject_id,
        branch,
        device_id,
        seq,
        user,
        payload,
    ):
        self.id, self.type, self.subject_id, self.payload = id, type, subject_id, payload
        self.occurred_at, self.received_at = occurred_at, received_at
        self.device_occurred_at = device_occurred_at
        self.branch, self.branch_id, self.user, self.user_id = branch, branch.id, user, user.id
        self.device_id, self.seq = device_id, seq

    order_key = Event.order_key

    def row(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "device_occurred_at": self.device_occurred_at,
            "received_at": self.received_at,
            "subject_id": self.subject_id,
            "branch_id": self.branch_id,
            "device_id": self.device_id,
            "seq": self.seq,
            "user_id": self.user_id,
            "payload": self.payload,
        }


class QueuedSubject:
    """A subject started in the fast lane's batch, inserted with the batch (see QueuedEvent)."""

    __slots__ = ("id", "kind", "branch_id", "last_occurred_at", "last_device_id", "last_seq")

    def __init__(self, *, id, kind, branch_id, last_occurred_at, last_device_id, last_seq):
        self.id, self.kind, self.branch_id = id, kind, branch_id
        self.last_occurred_at, self.last_device_id, self.last_seq = (
            last_occurred_at,
            last_device_id,
            last_seq,
        )

    last_key = Subject.last_key

    def row(self, created_at: datetime) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "branch_id": self.branch_id,
            "created_at": created_at,
            "last_occurred_at": self.last_occurred_at,
            "last_device_id": self.last_device_id,
            "last_seq": self.last_seq,
        }
