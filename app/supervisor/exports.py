"""CSV exports for a period: UTF-8 with a BOM, so Excel opens the Chinese correctly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Branch, User
from ..models.figures import FigureSubject, SpotCheck
from .projection import zone

BOM = "\ufeff"
KINDS = ("visits", "referrals", "checklist", "spotchecks")


def _safe(value) -> str:
    """A cell as text; one that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _local(iso: str | None, tz: str) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _headers(kind: str) -> list[str]:
    common = [_("Branch"), _("Day")]
    return (
        common
        + {
            "visits": [
                _("Visit id"),
                _("Greeted at"),
                _("Purpose"),
                _("Ticket"),
                _("Segment"),
                _("Route"),
                _("Form checked"),
                _("Form redone"),
                _("Spoken to"),
                _("Products recommended"),
                _("Interested"),
                _("Referred"),
                _("Closed at"),
                _("Outcome"),
                _("Wait (minutes)"),
                _("Satisfaction"),
                _("Complaints"),
                _("Lobby manager"),
                _("To another bank"),
                _("Funds kept"),
                _("Recommended before a need was known"),
            ],
            "referrals": [
                _("Referral id"),
                _("Created at"),
                _("Visit id"),
                _("To"),
                _("Result"),
                _("Amount band"),
                _("Result recorded at"),
                _("Sent by"),
            ],
            "checklist": [
                _("Run id"),
                _("Started at"),
                _("Signed at"),
                _("Status"),
                _("Items OK"),
                _("Items with a fault"),
                _("Items not applicable"),
                _("Signed by"),
            ],
            "spotchecks": [
                _("Spot-check id"),
                _("Recorded at"),
                _("Supervisor"),
                _("Spot-checked"),
                _("Target"),
                _("Lobby manager"),
                _("Lobby manager's answer"),
                _("Supervisor's answer"),
                _("Verdict"),
                _("Note"),
            ],
        }[kind]
    )


def _names() -> dict[int | None, str]:
    return {u.id: u.display_name or u.username for u in db.session.scalars(select(User))}


def _rows(kind: str, branches: list[Branch], start: date, end: date) -> Iterator[list]:
    names = _names()
    by_id = {b.id: b for b in branches}
    if kind == "spotchecks":
        rows = db.session.scalars(
            select(SpotCheck)
            .where(SpotCheck.branch_id.in_(by_id), SpotCheck.day >= start, SpotCheck.day <= end)
            .order_by(SpotCheck.branch_id, SpotCheck.recorded_at)
        )
        for s in rows:
            b = by_id[s.branch_id]
            yield [
                b.code,
                s.day.isoformat(),
                s.id,
                _local(s.recorded_at.isoformat(), b.timezone),
                names.get(s.supervisor_id, ""),
                s.target_kind,
                s.target_label or s.target_id,
                names.get(s.checked_user_id, ""),
                s.lobby_answer,
                s.supervisor_answer,
                s.verdict,
                s.note,
            ]
        return
    subject_kind = {"visits": "visit", "referrals": "referral", "checklist": "checklist_run"}[kind]
    result = db.session.execute(
        select(
            FigureSubject.branch_id,
            FigureSubject.day,
            FigureSubject.subject_id,
            FigureSubject.status,
            FigureSubject.user_id,
            FigureSubject.facts,
        )
        .where(
            FigureSubject.branch_id.in_(by_id),
            FigureSubject.kind == subject_kind,
            FigureSubject.day >= start,
            FigureSubject.day <= end,
        )
        .order_by(FigureSubject.branch_id, FigureSubject.day)
        .execution_options(yield_per=2000)
    )
    for branch_id, day, sid, status, user_id, f in result:
        b = by_id[branch_id]
        tz = b.timezone
        head = [b.code, day.isoformat(), sid]
        if kind == "visits":
            wait = f.get("wait_seconds")
            yield head + [
                _local(f.get("greeted_at"), tz),
                f.get("purpose"),
                f.get("ticket"),
                f.get("segment"),
                f.get("route"),
                f.get("form_checked"),
                f.get("form_redone"),
                f.get("engaged"),
                f.get("recommendations"),
                f.get("accepted"),
                f.get("referred"),
                _local(f.get("closed_at"), tz),
                f.get("outcome"),
                round(wait / 60, 1) if wait is not None else None,
                f.get("satisfaction"),
                f.get("complaints"),
                names.get(user_id, ""),
                f.get("to_other_bank"),
                f.get("funds_kept"),
                f.get("recs_without_need"),
            ]
        elif kind == "referrals":
            yield head + [
                _local(f.get("created_at"), tz),
                f.get("visit_id"),
                f.get("to"),
                f.get("outcome"),
                f.get("amount_band"),
                _local(f.get("outcome_at"), tz),
                names.get(user_id, ""),
            ]
        else:
            items = (f.get("items") or {}).values()
            counts = {
                s: sum(1 for i in items if i.get("status") == s) for s in ("ok", "fault", "na")
            }
            yield head + [
                _local(f.get("started_at"), tz),
                _local(f.get("signed_at"), tz),
                status,
                counts["ok"],
                counts["fault"],
                counts["na"],
                names.get(user_id, "") if f.get("signed_at") else "",
            ]


def generate_csv(kind: str, branches: list[Branch], start: date, end: date) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_headers(kind))
    yield BOM + buffer.getvalue()
    for row in _rows(kind, branches, start, end):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe(v) for v in row])
        yield buffer.getvalue()
