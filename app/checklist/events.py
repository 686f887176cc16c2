"""The `checklist.*` and `fault.*` event types (documented in docs/events-checklist.md).

A run is the subject `checklist_run`; its id is derived from branch and day
(inventory.run_id), so the first event any tablet sends for the day starts it
(`creates_subject="if_missing"`) and the others join it. A fault is its own
subject, `fault`, started by `fault.reported` with an id made on the device,
so that `fault.resolved` can close it on any later day.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from flask_babel import gettext as _
from pydantic import AfterValidator, Field, field_validator
from sqlalchemy import delete, select

from ..clock import local_day
from ..events import (
    Applied,
    Payload,
    Rejected,
    event_type,
    find_row,
    new_row,
    queue_row,
    register_aggregate,
)
from ..extensions import db
from ..models import ChecklistEntry, ChecklistRun, Fault, FaultPhoto, Role, Subject
from ..privacy import FreeText
from .inventory import MAX_LEAFLET_COUNT, generate_items, is_late, run_id

LOBBY = {Role.LOBBY_MANAGER}
FIXERS = {Role.LOBBY_MANAGER, Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR}

PHOTO_MAX_BYTES = 300 * 1024
# base64 grows by 4/3; room for the "data:image/jpeg;base64," prefix.
PHOTO_MAX_CHARS = (PHOTO_MAX_BYTES + 2) // 3 * 4 + 32
_DATA_URL = re.compile(r"^data:(image/jpeg|image/png);base64,([A-Za-z0-9+/]*={0,2})$")
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(_("must be a UUID")) from None


def _check_day(value: str) -> str:
    try:
        if not _DAY.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("must be a date written YYYY-MM-DD")) from None
    return value


def decode_photo(data_url: str) -> tuple[str, bytes]:
    """The content type and bytes of a photo sent as a data URL.

    :raise ValueError: with a message for people when it is too large or not a JPEG/PNG.
    """
    if len(data_url) > PHOTO_MAX_CHARS:
        raise ValueError(
            _("The photo is too large (at most 300 KB). Take it again or choose a smaller one.")
        )
    match = _DATA_URL.match(data_url)
    if not match:
        raise ValueError(_("The photo must be a JPEG or PNG image."))
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(_("The photo must be a JPEG or PNG image.")) from None
    if len(data) > PHOTO_MAX_BYTES:
        raise ValueError(
            _("The photo is too large (at most 300 KB). Take it again or choose a smaller one.")
        )
    if not data.startswith(_MAGIC[match.group(1)]):
        raise ValueError(_("The photo must be a JPEG or PNG image."))
    return match.group(1), data


Day = Annotated[str, Field(max_length=10), AfterValidator(_check_day)]
Uuid = Annotated[str, Field(max_length=36), AfterValidator(_check_uuid)]


class ItemRecorded(Payload):
    day: Day
    item_id: str = Field(min_length=1, max_length=64)
    status: Literal["ok", "fault", "na"]
    note: FreeText | None = Field(default=None, max_length=500)
    count: int | None = None
    fault_id: Uuid | None = None

    @field_validator("count")
    @classmethod
    def _count(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_LEAFLET_COUNT:
            raise ValueError(_("A leaflet count must be a whole number from 0 to 100000."))
        return value


class SignedOff(Payload):
    day: Day


class FaultReported(Payload):
    run_id: Uuid
    item_id: str = Field(min_length=1, max_length=64)
    note: FreeText = Field(max_length=500)
    photo: str | None = None

    @field_validator("photo")
    @classmethod
    def _photo(cls, value: str | None) -> str | None:
        if value is not None:
            decode_photo(value)
        return value


class FaultResolved(Payload):
    note: FreeText = Field(max_length=500)


# --- read-model plumbing ----------------------------------------------------


def _reset_run(subject: Subject) -> None:
    """Entries and sign-off are derived again; the run's item list stays as it was taken."""
    db.session.execute(delete(ChecklistEntry).where(ChecklistEntry.run_id == subject.id))
    run = db.session.get(ChecklistRun, subject.id)
    if run is not None:
        run.started_at = run.signed_at = run.signed_by_id = None
        run.late = False


def _reset_fault(subject: Subject) -> None:
    db.session.execute(delete(FaultPhoto).where(FaultPhoto.fault_id == subject.id))
    db.session.execute(delete(Fault).where(Fault.id == subject.id))


register_aggregate("checklist_run", _reset_run)
register_aggregate("fault", _reset_fault)


def run_items(a: Applied) -> list[dict]:
    run = find_row(ChecklistRun, a.subject.id)
    return run.items if run is not None else generate_items(a.branch)


def _run_of(a: Applied, day: str) -> ChecklistRun:
    # `find_row`/`queue_row`: the run started by an earlier event of the batch is found
    # before any flush, and is written before its entries (which refer to it).
    run = find_row(ChecklistRun, a.subject.id)
    if run is None:
        run = ChecklistRun(
            id=a.subject.id,
            branch_id=a.branch.id,
            day=date.fromisoformat(day),
            items=generate_items(a.branch),
        )
        queue_row(run)
    return run


def _check_run_day(a: Applied, day: str) -> date:
    """The run must be the one derived for this branch and day, and the day near the event's."""
    the_day = date.fromisoformat(day)
    if a.subject.id != run_id(a.branch.code, the_day):
        raise Rejected(
            "wrong_run",
            _(
                "This is not the checklist of branch %(code)s for %(day)s.",
                code=a.branch.code,
                day=day,
            ),
        )
    made_on = local_day(a.branch, a.event.occurred_at)
    if abs(the_day - made_on) > timedelta(days=1):
        raise Rejected("wrong_day", _("A checklist can only be filled in on its own day."))
    return the_day


def _check_item(a: Applied) -> None:
    p: ItemRecorded = a.payload
    _check_run_day(a, p.day)
    item = next((i for i in run_items(a) if i["id"] == p.item_id), None)
    if item is None:
        raise Rejected("unknown_item", _("This item is not on the branch's checklist."))
    if p.status == "fault" and not (p.note or "").strip():
        raise Rejected("note_required", _("A fault needs a note saying what is wrong."))
    if item["kind"] == "leaflet":
        if p.status == "ok" and p.count is None:
            raise Rejected("count_required", _("Enter how many leaflets are in stock."))
    elif p.count is not None:
        raise Rejected("count_not_allowed", _("Only leaflet items take a count."))


def _check_signed(a: Applied) -> None:
    p: SignedOff = a.payload
    _check_run_day(a, p.day)
    done = set(
        db.session.scalars(
            select(ChecklistEntry.item_id).where(ChecklistEntry.run_id == a.subject.id)
        )
    )
    missing = [i for i in run_items(a) if i["id"] not in done]
    if missing:
        raise Rejected("incomplete", _("%(n)d items are not checked yet.", n=len(missing)))


def _check_fault(a: Applied) -> None:
    p: FaultReported = a.payload
    run = db.session.get(ChecklistRun, p.run_id)
    if run is None or run.branch_id != a.branch.id:
        raise Rejected("unknown_run", _("The server does not know the checklist of this fault."))
    if not any(i["id"] == p.item_id for i in run.items):
        raise Rejected("unknown_item", _("This item is not on the branch's checklist."))
    if not p.note.strip():
        raise Rejected("note_required", _("A fault needs a note saying what is wrong."))


def _check_resolved(a: Applied) -> None:
    if not a.payload.note.strip():
        raise Rejected("note_required", _("Say in a note how the fault was fixed."))


# --- the event types --------------------------------------------------------


@event_type(
    "checklist.item_recorded",
    kind="checklist_run",
    payload=ItemRecorded,
    roles=LOBBY,
    creates_subject="if_missing",
    check=_check_item,
    description="One item of a day's checklist was marked ok, fault or not applicable "
    "(a leaflet item with its count). The latest entry per item counts; "
    "every entry stays in the run's history.",
)
def item_recorded(a: Applied) -> None:
    p: ItemRecorded = a.payload
    run = _run_of(a, p.day)
    e = a.event
    queue_row(
        new_row(
            ChecklistEntry,
            id=e.id,
            run_id=run.id,
            item_id=p.item_id,
            status=p.status,
            note=(p.note or "").strip() or None,
            count=p.count,
            fault_id=p.fault_id,
            occurred_at=e.occurred_at,
            device_id=e.device_id,
            seq=e.seq,
            user_id=e.user_id,
        )
    )
    if run.started_at is None or e.occurred_at < run.started_at:
        run.started_at = e.occurred_at


@event_type(
    "checklist.signed_off",
    kind="checklist_run",
    payload=SignedOff,
    roles=LOBBY,
    creates_subject="if_missing",
    check=_check_signed,
    description="The day's checklist was signed off. The first sign-off counts; "
    "it is late when after the branch's opening time.",
)
def signed_off(a: Applied) -> None:
    p: SignedOff = a.payload
    run = _run_of(a, p.day)
    if run.signed_at is None:
        run.signed_at = a.event.occurred_at
        run.signed_by_id = a.event.user_id
        run.late = is_late(a.branch, run.day, a.event.occurred_at)


@event_type(
    "fault.reported",
    kind="fault",
    payload=FaultReported,
    roles=LOBBY,
    private_fields=("note", "photo"),
    creates_subject=True,
    check=_check_fault,
    description="A fault found on a checklist item, with a note and maybe a photo "
    "(a JPEG or PNG data URL of at most 300 KB). It stays open until "
    "fault.resolved.",
)
def fault_reported(a: Applied) -> None:
    p: FaultReported = a.payload
    run = db.session.get_one(ChecklistRun, p.run_id)
    item = next(i for i in run.items if i["id"] == p.item_id)
    db.session.add(
        Fault(
            id=a.subject.id,
            branch_id=a.branch.id,
            run_id=run.id,
            item_id=p.item_id,
            item=item,
            critical=bool(item.get("critical")),
            note=p.note.strip(),
            has_photo=p.photo is not None,
            reported_at=a.event.occurred_at,
            reported_by_id=a.event.user_id,
        )
    )
    if p.photo is not None:
        content_type, data = decode_photo(p.photo)
        db.session.flush()
        db.session.add(
            FaultPhoto(fault_id=a.subject.id, content_type=content_type, data=data, size=len(data))
        )


@event_type(
    "fault.resolved",
    kind="fault",
    payload=FaultResolved,
    roles=FIXERS,
    check=_check_resolved,
    description="A fault was fixed, with a note. The first resolution counts.",
)
def fault_resolved(a: Applied) -> None:
    fault = db.session.get_one(Fault, a.subject.id)
    if fault.resolved_at is None:
        fault.resolved_at = a.event.occurred_at
        fault.resolved_by_id = a.event.user_id
        fault.resolve_note = a.payload.note.strip()
