"""The one write path: validate an event, store it, fold it into the read models.

Every write, whether a form posted online or a batch from a tablet's outbox,
comes through `apply_event` inside `write_transaction()`. Its modules:

- `registry`: the event types (`@event_type`), kinds of subject, observers;
- `envelope`: the envelope and payload checked before the database, the
  device's clock (`DeviceClock`), the envelope's JSON form;
- `validation_messages`: pydantic's errors as sentences for people;
- `batch`: what one write transaction knows (`Batch`);
- `fast_lane`: a batch's rows queued and inserted with one executemany a
  table; `new_row`, `queue_row`, `find_row` for the read models' handlers,
  `in_fast_lane` for the observers;
- `apply`: `apply_event`, `ingest`, `record`, `record_together`, `rebuild`;
- `positions`: `newest_positions`, the board's version and the pull cursor's start.

Everything the rest of the application uses is imported from here.
"""

from .apply import (
    SERVER_DEVICE_PREFIX,
    Result,
    RetrySafely,
    apply_event,
    ingest,
    new_id,
    rebuild,
    record,
    record_together,
)
from .batch import Batch
from .envelope import (
    CLOCK_AHEAD_LIMIT,
    RFC3339,
    SKEW_DEAD_BAND,
    Checked,
    CheckedEnvelope,
    DeviceClock,
    Envelope,
    canonical_uuid,
    check_envelope_and_payload,
    envelope_of,
    format_time,
    parse_time,
)
from .fast_lane import RowQueue, find_row, in_fast_lane, new_row, queue_row
from .positions import newest_positions, page_read, remember_positions
from .registry import (
    AGGREGATES,
    DESK_ROLES,
    EVENT_OBSERVERS,
    EVENT_TYPES,
    NOTES_KEPT_FROM_DESK,
    OVERSEERS,
    Aggregate,
    Applied,
    Apply,
    EventType,
    Payload,
    Rejected,
    event_type,
    kind_label,
    readable_types,
    register_aggregate,
)
from .validation_messages import describe_validation_error

__all__ = [
    "AGGREGATES",
    "CLOCK_AHEAD_LIMIT",
    "DESK_ROLES",
    "EVENT_OBSERVERS",
    "EVENT_TYPES",
    "NOTES_KEPT_FROM_DESK",
    "OVERSEERS",
    "RFC3339",
    "SERVER_DEVICE_PREFIX",
    "SKEW_DEAD_BAND",
    "Aggregate",
    "Applied",
    "Apply",
    "Batch",
    "Checked",
    "CheckedEnvelope",
    "DeviceClock",
    "Envelope",
    "EventType",
    "Payload",
    "Rejected",
    "Result",
    "RetrySafely",
    "RowQueue",
    "apply_event",
    "canonical_uuid",
    "check_envelope_and_payload",
    "describe_validation_error",
    "envelope_of",
    "event_type",
    "find_row",
    "format_time",
    "in_fast_lane",
    "ingest",
    "kind_label",
    "new_id",
    "new_row",
    "newest_positions",
    "page_read",
    "parse_time",
    "queue_row",
    "readable_types",
    "rebuild",
    "record",
    "record_together",
    "register_aggregate",
    "remember_positions",
]
