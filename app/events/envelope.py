"""An event's envelope before the database: its shape, its payload checked
against its type's model (`check_envelope_and_payload`), and its time, read
(`parse_time`) and corrected by the sending device's clock (`DeviceClock`).
Also the envelope's JSON form for the pull endpoint (`envelope_of`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..clock import now as server_now
from ..models import Event, Role
from .registry import EVENT_TYPES, Payload, Rejected
from .validation_messages import describe_validation_error

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
# A UUID as str(uuid.UUID(...)) writes it, the form tablets send.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(max_length=36)
    type: str = Field(max_length=64)
    occurred_at: str = Field(max_length=40)
    subject_id: str = Field(max_length=36)
    branch: str = Field(max_length=32)
    device_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=2**62)
    payload: dict[str, Any]

    @field_validator("id", "subject_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(_("must be a UUID")) from None

    @field_validator("occurred_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        if not RFC3339.match(value):
            raise ValueError(_("must be an RFC 3339 time with an offset or Z"))
        try:
            parse_time(value)
        except ValueError:
            raise ValueError(_("is not a valid time")) from None
        return value


class CheckedEnvelope(NamedTuple):
    """A well-formed envelope, as `_envelope` gives it (an `Envelope` costs 10 µs to build)."""

    id: str
    type: str
    occurred_at: str
    subject_id: str
    branch: str
    device_id: str
    seq: int
    payload: dict[str, Any]


def _envelope(raw: dict[str, Any]) -> Envelope | CheckedEnvelope:
    """`Envelope.model_validate(raw)`, without most of its cost for a well-formed envelope.

    The checks below are the model's, for the usual case (canonical UUIDs, exact
    types); anything else goes to the model itself, which gives the same
    answer and the message.
    """
    if len(raw) == 8:
        try:
            id_, type_, at = raw["id"], raw["type"], raw["occurred_at"]
            subject_id, branch, device_id = raw["subject_id"], raw["branch"], raw["device_id"]
            seq, payload = raw["seq"], raw["payload"]
        except KeyError:
            return Envelope.model_validate(raw)
        if (
            type(id_) is str
            and _CANONICAL_UUID.match(id_)
            and type(subject_id) is str
            and _CANONICAL_UUID.match(subject_id)
            and type(type_) is str
            and len(type_) <= 64
            and type(at) is str
            and len(at) <= 40
            and RFC3339.match(at)
            and type(branch) is str
            and len(branch) <= 32
            and type(device_id) is str
            and 1 <= len(device_id) <= 64
            and type(seq) is int
            and 0 <= seq <= 2**62
            and type(payload) is dict
            and all(type(key) is str for key in payload)
        ):
            try:
                parse_time(at)
            except ValueError:
                return Envelope.model_validate(raw)
            return CheckedEnvelope(id_, type_, at, subject_id, branch, device_id, seq, payload)
    return Envelope.model_validate(raw)


@lru_cache(maxsize=1024)  # the envelope's validator and the write path parse each time
def parse_time(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    if len(text) > 32:  # more than "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM"
        # Python keeps microseconds: cut nanoseconds that some clocks give.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("t", "T")).astimezone(UTC)


# An event may be dated at most this far ahead of the server's clock (clock_ahead).
CLOCK_AHEAD_LIMIT = timedelta(minutes=10)
# A measured skew this small is the network's delay, not a wrong clock: it
# differs from batch to batch, and correcting by it would reorder one tablet's
# own entries (a first batch slowed 300 ms would date its tap after the next
# batch's). Within it, the device's times stand.
SKEW_DEAD_BAND = timedelta(seconds=30)


@dataclass(frozen=True)
class DeviceClock:
    """How far the clock of the device that sent a batch is from the server's.

    `sent_at` is the device's clock when it sent the batch, so the server's
    clock minus it is the device's skew (plus the network's delay, a second or
    so): each event's time is corrected by it. Without `sent_at` (a form posted
    online, a client of before the trust rules) the device's time stands.
    """

    now: datetime = field(default_factory=server_now)
    skew: timedelta = timedelta(0)

    @classmethod
    def from_sent_at(cls, sent_at: datetime) -> DeviceClock:
        now = server_now()
        skew = now - sent_at
        return cls(now, skew if abs(skew) > SKEW_DEAD_BAND else timedelta(0))

    def corrected(self, device_time: datetime) -> datetime:
        """The event's time by the server's clock.

        :raise Rejected: when it leaves the calendar or lies ahead of the server's clock.
        """
        try:
            at = device_time + self.skew
        except OverflowError:
            raise Rejected(
                "invalid_envelope",
                _(
                    "Invalid value for %(field)s: %(reason)s",
                    field="occurred_at",
                    reason=_("is not a valid time"),
                ),
            ) from None
        if at - self.now > CLOCK_AHEAD_LIMIT:
            raise Rejected(
                "clock_ahead",
                _(
                    "This event is dated more than 10 minutes ahead of "
                    "the server's clock; check the device's date and "
                    "time."
                ),
            )
        return at


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope_of(event: Event, reader: Role | None = None) -> dict[str, Any]:
    """The JSON form of a stored event, as the pull endpoint gives it.

    `occurred_at` is the device's own time, as the envelope was sent;
    `corrected_at` the server's view of it (the fold order). For a `reader`,
    the payload loses what that role may not read (`EventType.payload_for`).
    """
    payload = event.payload
    if reader is not None:
        payload = EVENT_TYPES[event.type].payload_for(reader, payload)
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": format_time(event.device_occurred_at),
        "corrected_at": format_time(event.occurred_at),
        "received_at": format_time(event.received_at),
        "subject_id": event.subject_id,
        "branch": event.branch.code,
        "device_id": event.device_id,
        "seq": event.seq,
        "user": event.user.username,
        "payload": payload,
    }


def canonical_uuid(value: Any) -> str | None:
    """`str(uuid.UUID(value))`, or None when `value` is no UUID."""
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value  # what tablets send: str(uuid.UUID(value)) would give it back
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


class Checked(NamedTuple):
    """What `check_envelope_and_payload` found: each part, or the rejection it earned."""

    envelope: Envelope | CheckedEnvelope | Rejected
    payload: Payload | Rejected | None  # None: unknown type


def check_envelope_and_payload(raw: dict[str, Any]) -> Checked:
    """Check what needs no database: the envelope and, for a known type, the payload."""
    try:
        env = _envelope(raw)
    except ValidationError as exc:
        return Checked(Rejected("invalid_envelope", describe_validation_error(exc)), None)
    etype = EVENT_TYPES.get(env.type)
    if etype is None:
        return Checked(env, None)
    try:
        return Checked(env, etype.payload.model_validate(env.payload))
    except ValidationError as exc:
        return Checked(env, Rejected("invalid_payload", describe_validation_error(exc)))
