"""What one write transaction knows (`Batch`): the events, subjects and
branches it looked up, the events it accepted, and the fast lane's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import bindparam, select

from ..database import as_loaded, loadable_columns
from ..extensions import db
from ..models import Branch, Event, Subject, User
from .envelope import Checked, DeviceClock, canonical_uuid, check_envelope_and_payload
from .fast_lane import RowQueue
from .registry import EVENT_OBSERVERS, EVENT_TYPES, Applied, Rejected

# Built once (every sync asks both): building a statement cost more than running it.
# An event already stored is rare (a device sending again): its id alone is asked
# for first, and only one found is loaded whole (with its branch and user).
_STORED_EVENT_IDS = select(Event.id).where(Event.id.in_(bindparam("ids", expanding=True)))
_EVENTS_BY_ID = select(Event).where(Event.id.in_(bindparam("ids", expanding=True)))
_SUBJECT_KEYS, _SUBJECT_COLUMNS = loadable_columns(Subject)
_SUBJECTS_BY_ID = select(*_SUBJECT_COLUMNS).where(Subject.id.in_(bindparam("ids", expanding=True)))
_BRANCH_BY_CODE = select(Branch).where(Branch.code == bindparam("code"))


class Batch:
    """What one write transaction knows: looked-up branches, events and subjects.

    `prefetch` reads the known events and subjects of a whole batch in two
    queries, so judging each event costs no look-up of its own.
    """

    def __init__(self, safe: bool = True, clock: DeviceClock | None = None) -> None:
        # safe: each event's writes in a savepoint of their own. A batch from a
        # device is first tried without (savepoints cost a flush and two
        # statements an event); should any event's effects fail, the whole
        # transaction is rolled back and the batch judged again, safely.
        self.safe = safe
        self.clock = clock or DeviceClock()
        self.branches: dict[str, Branch | None] = {}
        self.writable: dict[tuple[int, int], bool] = {}
        self.events: dict[str, Event | None] = {}
        self.subjects: dict[str, Subject | None] = {}
        self.accepted: list[Applied] = []
        # The fast lane's rows, kept out of the ORM session till they are
        # inserted (app/events/fast_lane.py); the safe lane leaves it empty.
        self.queue = RowQueue()
        # Ids of the subjects this batch started (either lane), for Applied.new_subject.
        self.created: set[str] = set()
        # id(raw event) -> its checked envelope and payload (or why not), from `precheck`.
        self.checked: dict[int, Checked] = {}

    def precheck(self, raw_events: list[Any]) -> set[str]:
        """Check each event's envelope and payload, which needs no database, and
        give the codes of the branches the batch names: the ones to lock.

        Runs before the write transaction, so the write lock is held for the
        look-ups and writes alone; `apply_event` raises what was found at the same
        step as ever, so every answer is what it would be without.
        """
        codes = set()
        for raw in raw_events:
            if isinstance(raw, dict):
                checked = self.checked[id(raw)] = check_envelope_and_payload(raw)
                if not isinstance(checked.envelope, Rejected):
                    codes.add(checked.envelope.branch)
        return codes

    def prefetch(self, raw_events: list[Any]) -> None:
        """Read the batch's stored events and subjects, or, in the fast lane, take them as new.

        The fast lane asks for no event id, nor for a subject whose first event
        in the batch starts it (a greet, then its close): a batch of new visits
        reads nothing under the lock. Were one in fact stored, its insert fails
        (a unique key) or an event is refused; either way the batch is judged
        again in the safe lane (app/events/apply.py), which asks for them all.
        """
        ids: set[str] = set()
        started_here: dict[str, bool] = {}  # subject id -> whether its first event here starts it
        for raw in raw_events:
            if not isinstance(raw, dict):
                continue
            event_id = canonical_uuid(raw.get("id"))
            subject_id = canonical_uuid(raw.get("subject_id"))
            if event_id is not None:
                ids.add(event_id)
            if subject_id is not None and subject_id not in started_here:
                started_here[subject_id] = self._starts_subject(raw)
        subject_ids = set(started_here)
        if not self.safe:
            taken_new = {subject_id for subject_id, new in started_here.items() if new}
            self.events.update(dict.fromkeys(ids))
            self.subjects.update(dict.fromkeys(taken_new))
            ids, subject_ids = set(), subject_ids - taken_new
        session = db.session
        connection = session.connection()
        for chunk in _chunks(sorted(ids)):
            self.events.update(dict.fromkeys(chunk))
            stored = list(connection.execute(_STORED_EVENT_IDS, {"ids": chunk}).scalars())
            if stored:
                for event in session.scalars(_EVENTS_BY_ID, {"ids": stored}):
                    self.events[event.id] = event
        for chunk in _chunks(sorted(subject_ids)):
            self.subjects.update(dict.fromkeys(chunk))
            for row in connection.execute(_SUBJECTS_BY_ID, {"ids": chunk}):
                subject = as_loaded(Subject, dict(zip(_SUBJECT_KEYS, row, strict=True)))
                self.subjects[subject.id] = subject

    def _starts_subject(self, raw: dict[str, Any]) -> bool:
        """Whether `raw` is of a type that always starts its subject (a greet)."""
        checked = self.checked.get(id(raw))
        if checked is None or isinstance(checked.envelope, Rejected):
            return False
        etype = EVENT_TYPES.get(checked.envelope.type)
        return etype is not None and etype.creates_subject is True

    def event(self, event_id: str) -> Event | None:
        if event_id not in self.events:
            self.events[event_id] = db.session.scalar(select(Event).where(Event.id == event_id))
        return self.events[event_id]

    def subject(self, subject_id: str) -> Subject | None:
        if subject_id not in self.subjects:
            self.subjects[subject_id] = db.session.get(Subject, subject_id)
        return self.subjects[subject_id]

    def can_write(self, user: User, branch: Branch) -> bool:
        """`user.can_write(branch)`, asked once a batch (it walks the user's branches)."""
        key = (user.id, branch.id)
        if key not in self.writable:
            self.writable[key] = user.can_write(branch)
        return self.writable[key]

    def branch(self, code: str, user: User) -> Branch | None:
        """The branch of this code: one of the user's as this request read them, or looked up."""
        if code not in self.branches:
            mine = next((b for b in user.branches if b.code == code), None)
            self.branches[code] = mine or db.session.scalar(_BRANCH_BY_CODE, {"code": code})
        return self.branches[code]

    def notify_observers(self) -> None:
        """Give the observers the events accepted, once, before the transaction commits."""
        if self.accepted:
            for observer in EVENT_OBSERVERS:
                observer(self.accepted)


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
