"""The supervisor's figures, projected from the event log.

Every write transaction hands its accepted events to `observe()` through
`app.events.EVENT_OBSERVERS`, once, before it commits. Each touched subject (a
visit, referral, checklist run or fault) is folded again from all of its
events, which gives its facts and the counters it contributes to `figure_day`;
the difference from what it contributed before is added. A late event that reorders a
subject's history, a correction, an undo: all come out right, because a
subject's contribution is always a function of its whole event list.

The folds, one per kind of subject, are app/supervisor/visit_facts.py,
referral_facts.py and checklist_facts.py (what they share: facts.py). An
event's kind of subject is the one its type registers (`app.events.EVENT_TYPES`);
`FOLDS` says which kinds the figures count.

`rebuild_figures()` derives the same tables from the event log alone; a test
checks that incremental and rebuilt agree.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import and_, delete, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from ..database import UNANSWERED
from ..events import EVENT_TYPES, Applied, in_fast_lane
from ..extensions import db
from ..models import Branch, Event
from ..models.figures import FigureDay, FigureSubject
from .checklist_facts import fold_fault, fold_run
from .facts import FAULT_CAP_HOURS, WAIT_CAP_MINUTES, BranchClock, Ev, Projection, zone
from .referral_facts import fold_referral
from .visit_facts import fold_visit

# Imported from here by the figures, routes, exports and benchmarks.
__all__ = [
    "FAULT_CAP_HOURS",
    "WAIT_CAP_MINUTES",
    "BranchClock",
    "Ev",
    "insert_projection",
    "observe",
    "project_events",
    "rebuild_figures",
    "zone",
]

log = logging.getLogger(__name__)

# The kinds of subject the figures count (as `register_aggregate` names them), and their folds.
FOLDS: dict[str, Callable[[list[Ev], BranchClock], Projection | None]] = {
    "visit": fold_visit,
    "referral": fold_referral,
    "checklist_run": fold_run,
    "fault": fold_fault,
}


def kind_of(event_type: str) -> str | None:
    """The kind of subject an event of this type is about, when the figures count that kind."""
    etype = EVENT_TYPES.get(event_type)
    return etype.kind if etype is not None and etype.kind in FOLDS else None


def projected_types() -> list[str]:
    """The event types whose subjects the figures count."""
    return sorted(name for name, etype in EVENT_TYPES.items() if etype.kind in FOLDS)


def fold(kind: str, events: list[Ev], clock: BranchClock) -> Projection | None:
    return FOLDS[kind](events, clock)


# --- incremental -------------------------------------------------------------


@cache
def _counter_upsert(dialect: str) -> Any:
    """Add to a day's counter or start it. Built once a dialect: building it (with its
    `excluded` alias of the table) cost a greet more than running it."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # the same API
    # One statement for any number of rows (executemany): its compiled form is
    # cached, where a multi-row VALUES would be compiled again every time.
    stmt = upsert(FigureDay)
    return stmt.on_conflict_do_update(
        index_elements=["branch_id", "day", "metric", "key"],
        set_={"value": FigureDay.value + stmt.excluded.value},
    )


def _upsert_counts(branch_id: int, delta: Counter) -> None:
    rows = [
        {"branch_id": branch_id, "day": d, "metric": m, "key": k, "value": v}
        for (d, m, k), v in delta.items()
        if v
    ]
    if not rows:
        return
    session = db.session
    connection = session.connection()
    # Core's executemany: the ORM's bulk INSERT path cost a greet four times as much.
    connection.execute(_counter_upsert(connection.dialect.name), rows, execution_options=UNANSWERED)
    # A counter back at zero goes, so the table equals a rebuild from scratch.
    keys = [(d, m, k) for (d, m, k), v in delta.items() if v < 0]
    if keys:
        session.execute(
            delete(FigureDay).where(
                FigureDay.branch_id == branch_id,
                FigureDay.value == 0,
                tuple_(FigureDay.day, FigureDay.metric, FigureDay.key).in_(keys),
            )
        )


def _decode(contributions: list) -> Counter:
    return Counter({(date.fromisoformat(d), m, k): v for d, m, k, v in contributions or []})


def _encode(counts: Counter) -> list:
    return sorted([d.isoformat(), m, k, v] for (d, m, k), v in counts.items() if v)


def load_events(subject_ids: list[str]) -> dict[str, list[Ev]]:
    """The events of several subjects, each subject's in fold order: one query a chunk."""
    by_subject: dict[str, list[Ev]] = {sid: [] for sid in subject_ids}
    for start in range(0, len(subject_ids), 500):
        rows = db.session.execute(
            select(
                Event.subject_id,
                Event.id,
                Event.type,
                Event.occurred_at,
                Event.user_id,
                Event.payload,
            )
            .where(Event.subject_id.in_(subject_ids[start : start + 500]))
            .order_by(Event.subject_id, Event.occurred_at, Event.device_id, Event.seq)
        ).all()
        for r in rows:
            by_subject[r.subject_id].append(Ev(r.type, r.occurred_at, r.user_id, r.payload, r.id))
    return by_subject


def project_subjects(
    touched: dict[str, tuple[str, Branch]], known: dict[str, list[Ev]] | None = None
) -> dict[int, Counter]:
    """Fold the touched subjects again; returns, per branch, the change in the daily counters.

    `known` gives the whole event list of subjects that the write transaction
    started: they are folded from it, with no query for their events or for a
    figure_subject row (they cannot have either yet), and their rows are
    inserted together at the end.
    """
    session = db.session
    known = known or {}
    ids = [sid for sid in touched if sid not in known]
    events = load_events(ids)
    events.update(known)
    rows = {}
    for start in range(0, len(ids), 500):
        rows.update(
            {
                r.subject_id: r
                for r in session.scalars(
                    select(FigureSubject).where(
                        FigureSubject.subject_id.in_(ids[start : start + 500])
                    )
                )
            }
        )
    deltas: dict[int, Counter] = defaultdict(Counter)
    inserts = []  # rows for subjects projected for the first time: one executemany
    for subject_id, (kind, branch) in touched.items():
        proj = fold(kind, events[subject_id], BranchClock.of(branch))
        row = rows.get(subject_id)
        new = proj.contributions() if proj is not None else Counter()
        deltas[branch.id].update(new)
        if row is not None:
            deltas[branch.id].subtract(_decode(row.contributions))
        if proj is None:
            if row is not None:
                session.delete(row)
            continue
        values = {
            "kind": kind,
            "branch_id": branch.id,
            "day": proj.day,
            "status": proj.status,
            "user_id": proj.user_id,
            "facts": proj.facts,
            "contributions": _encode(new),
        }
        if row is None:
            inserts.append({"subject_id": subject_id, **values})
        else:
            for name, value in values.items():
                setattr(row, name, value)
    if inserts:
        session.connection().execute(
            insert(FigureSubject.__table__), inserts, execution_options=UNANSWERED
        )
    return deltas


def observe(accepted: list[Applied]) -> None:
    """Project the subjects a write transaction touched, once each, after all its events.

    A fault in the figures must never refuse a lobby event: in the safe lane
    they are projected in a savepoint of their own, and a fault is logged
    (`flask rebuild-figures` repairs the summaries).
    """
    touched: dict[str, tuple[str, Branch]] = {}
    # Subjects started in this transaction: all their events are right here.
    known: dict[str, list[tuple[tuple, Ev]]] = defaultdict(list)
    for applied in accepted:
        kind = kind_of(applied.event.type)
        if kind is not None:
            e = applied.event
            touched[applied.subject.id] = (kind, applied.branch)
            if applied.new_subject:
                known[applied.subject.id].append(
                    (e.order_key, Ev(e.type, e.occurred_at, e.user_id, e.payload, e.id))
                )
    if not touched:
        return
    # In fold order, as load_events and rebuild_figures give them.
    known_events = {
        sid: [ev for _key, ev in sorted(pairs, key=lambda p: p[0])] for sid, pairs in known.items()
    }
    if in_fast_lane():
        # No savepoint (two round trips, under the branch's write lock): a fault
        # here fails the fast lane, and the batch is judged again in the safe
        # lane, where the savepoint below keeps it from refusing the events.
        _project(touched, known_events)
        return
    try:
        with db.session.begin_nested():
            _project(touched, known_events)
    except Exception:  # noqa: BLE001
        log.exception("figures: could not project %d subjects; run rebuild-figures", len(touched))


def _project(touched: dict[str, tuple[str, Branch]], known_events: dict[str, list[Ev]]) -> None:
    for branch_id, delta in project_subjects(touched, known_events).items():
        _upsert_counts(branch_id, Counter({k: v for k, v in delta.items() if v}))


# --- rebuild -----------------------------------------------------------------


def project_events(
    events: Iterable[Ev | Any], clock: BranchClock, subject_of
) -> tuple[list[dict], Counter]:
    """Fold a branch's events, grouped by subject: (figure_subject rows, figure_day totals)."""
    by_subject: dict[str, list] = defaultdict(list)
    for e in events:
        by_subject[subject_of(e)].append(e)
    rows: list[dict] = []
    totals: Counter = Counter()
    for subject_id, evs in by_subject.items():
        kind = kind_of(evs[0].type)
        if kind is None:
            continue
        proj = fold(kind, evs, clock)
        if proj is None:
            continue
        counts = proj.contributions()
        totals.update(counts)
        rows.append(
            {
                "subject_id": subject_id,
                "kind": kind,
                "branch_id": clock.id,
                "day": proj.day,
                "status": proj.status,
                "user_id": proj.user_id,
                "facts": proj.facts,
                "contributions": _encode(counts),
            }
        )
    return rows, totals


def insert_projection(
    conn, branch_id: int, rows: list[dict], totals: Counter, chunk: int = 5000
) -> None:
    """Bulk-insert what `project_events` made (Core, for rebuilds and the benchmark)."""
    for i in range(0, len(rows), chunk):
        conn.execute(FigureSubject.__table__.insert(), rows[i : i + chunk])
    day_rows = [
        {"branch_id": branch_id, "day": d, "metric": m, "key": k, "value": v}
        for (d, m, k), v in totals.items()
        if v
    ]
    for i in range(0, len(day_rows), chunk):
        conn.execute(FigureDay.__table__.insert(), day_rows[i : i + chunk])


def rebuild_figures(branch_ids: Iterable[int] | None = None, echo=None) -> dict[str, int]:
    """Recompute figure_subject and figure_day from the events, branch by branch."""
    session = db.session
    branches = session.scalars(select(Branch).order_by(Branch.id)).all()
    if branch_ids is not None:
        wanted = set(branch_ids)
        branches = [b for b in branches if b.id in wanted]
    done = {"branches": 0, "subjects": 0, "rows": 0}
    types = projected_types()
    for branch in branches:
        clock = BranchClock.of(branch)
        session.execute(delete(FigureDay).where(FigureDay.branch_id == branch.id))
        session.execute(delete(FigureSubject).where(FigureSubject.branch_id == branch.id))
        result = session.execute(
            select(
                Event.id,
                Event.type,
                Event.occurred_at,
                Event.user_id,
                Event.payload,
                Event.subject_id,
                Event.device_id,
                Event.seq,
            ).where(and_(Event.branch_id == branch.id, Event.type.in_(types)))
        )
        evs = sorted(result.all(), key=lambda r: (r.subject_id, r.occurred_at, r.device_id, r.seq))
        events = [
            (r.subject_id, Ev(r.type, r.occurred_at, r.user_id, r.payload, r.id)) for r in evs
        ]
        rows, totals = project_events(
            (e for _, e in events), clock, subject_of=_subject_lookup(events)
        )
        insert_projection(session.connection(), branch.id, rows, totals)
        session.commit()
        done["branches"] += 1
        done["subjects"] += len(rows)
        done["rows"] += sum(1 for v in totals.values() if v)
        if echo:
            echo(f"{branch.code}: {len(rows)} subjects, {len(totals)} day counters")
    return done


def _subject_lookup(pairs: list[tuple[str, Ev]]):
    index = {id(ev): sid for sid, ev in pairs}
    return lambda ev: index[id(ev)]
