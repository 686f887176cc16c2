"""The supervisor's read models: per-day figures, per-subject facts, spot-checks.

`FigureDay` holds counters per branch, local day, metric and key (visits by
hour, wait histogram minute buckets, ...). A month's figures for a branch are a
sum over about 30 × 150 rows, whatever the number of events behind them.

`FigureSubject` keeps, per visit, referral, checklist run or fault, the facts
derived from its events and the counters it added to `FigureDay`, so that a
later event (or a late one that reorders history) replaces exactly its own
contribution: new minus old. Both are rebuilt from the event log by
`flask --app run rebuild-figures` (app/supervisor/projection.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime
from ..extensions import db


class FigureDay(db.Model):
    __tablename__ = "figure_day"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the branch's local date
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class FigureSubject(db.Model):
    __tablename__ = "figure_subject"
    __table_args__ = (Index("ix_figure_subject_branch_kind_day", "branch_id", "kind", "day"),)

    subject_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The subject's kind as its events register it: visit, referral, checklist_run, fault.
    kind: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="")
    user_id: Mapped[int | None] = mapped_column(Integer)
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    # [[day iso, metric, key, value], ...]: what this subject added to figure_day.
    contributions: Mapped[list] = mapped_column(JSON, default=list)


class SpotCheck(db.Model):
    """A supervisor's blind re-check of a checklist item or a visit (`spotcheck.recorded`)."""

    __tablename__ = "spot_check"
    __table_args__ = (
        Index("ix_spot_check_branch_day", "branch_id", "day"),
        Index("ix_spot_check_target", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the subject id
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    day: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    run_id: Mapped[str | None] = mapped_column(String(36))
    target_kind: Mapped[str] = mapped_column(String(16))  # checklist_item | visit
    target_id: Mapped[str] = mapped_column(String(64))
    target_label: Mapped[str] = mapped_column(String(200), default="")
    # The lobby manager whose work was checked, and what they had recorded.
    checked_user_id: Mapped[int | None] = mapped_column(Integer)
    lobby_answer: Mapped[str | None] = mapped_column(String(32))
    supervisor_answer: Mapped[str | None] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))  # agree | disagree
    note: Mapped[str | None] = mapped_column(String(500))
