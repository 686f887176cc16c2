"""The supervisor's figures, projected from the event log.

Every write transaction hands its accepted events to `observe()` through
`app.events.EVENT_OBSERVERS`, once, before it commits. Each touched subject (a
visit, referral, checklist run or fault) is folded again from all of its
events, which gives its facts and the counters it contributes to `figure_day`;
the difference from what it contributed before is added. A late event that reorders a
subject's history, a correction, an undo: all come out right, because a
subject's contribution is always a function of its whole event list.

`rebuild_figures()` derives the same tables from the event log alone; a test
checks that incremental and rebuilt agree. The folds read payloads leniently
(`.get`): the lobby and checklist features own those payloads and validate
them; the figures only count what is there.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, insert, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from ..events import Applied
from ..extensions import db
from ..models import Branch, Event
from ..models.figures import FigureDay, FigureSubject

log = logging.getLogger(__name__)

WAIT_CAP_MINUTES = 240  # the last wait bucket holds every wait of 240 minutes or more
FAULT_CAP_HOURS = 720  # the last fault-age bucket: 30 days or more
GUIDE_CAP_SECONDS = 10 * 60  # greeting to triage: longer means the manager left and came back
SELL_CAP_SECONDS = 60 * 60  # a conversation that sells
PREP_CAP_SECONDS = 4 * 3600  # first checklist item to sign-off
CAP = WAIT_CAP_MINUTES * 60  # referral take/meet times share the wait buckets

PREFIX_KIND = {"visit.": "visit", "referral.": "referral", "checklist.": "run", "fault.": "fault"}


def kind_of(event_type: str) -> str | None:
    for prefix, kind in PREFIX_KIND.items():
        if event_type.startswith(prefix):
            return kind
    return None


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class BranchClock:
    """What a fold needs of a branch: its time zone and opening time."""

    id: int
    tz: str
    opens_at: time

    @classmethod
    def of(cls, branch: Branch) -> BranchClock:
        return cls(branch.id, branch.timezone or "Asia/Shanghai", branch.opens_at or time(9, 0))

    def local(self, at: datetime) -> datetime:
        return at.astimezone(zone(self.tz))


@dataclass
class Ev:
    """The part of an event a fold reads."""

    type: str
    occurred_at: datetime
    user_id: int
    payload: dict
    id: str = ""


@dataclass
class Projection:
    kind: str
    day: date
    status: str = ""
    user_id: int | None = None
    facts: dict = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # (metric, key) -> value, on `day`

    def add(self, metric: str, key: Any = "", value: int = 1) -> None:
        if value:
            self.counts[(metric, str(key))] += int(value)

    def contributions(self) -> Counter:
        return Counter({(self.day, m, k): v for (m, k), v in self.counts.items() if v})


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def _seconds(start: datetime | None, end: datetime | None, cap: int) -> int:
    if start is None or end is None or end <= start:
        return 0
    return int(min((end - start).total_seconds(), cap))


def wait_bucket(seconds: float) -> int:
    return min(int(seconds // 60), WAIT_CAP_MINUTES)


def _undone_ids(events: list[Ev]) -> set[str | None]:
    """Events that a `visit.undone` takes back (payload `event_id`)."""
    return {(e.payload or {}).get("event_id") for e in events if e.type == "visit.undone"}


# --- folds -------------------------------------------------------------------


def fold_visit(events: list[Ev], clock: BranchClock) -> Projection | None:
    undone = _undone_ids(events)
    greeted = next((e for e in events if e.type == "visit.greeted"), None)
    if greeted is None or greeted.id in undone:
        return None  # undoing the greeting voids the visit: nothing counts it
    p0 = greeted.payload or {}
    local = clock.local(greeted.occurred_at)
    proj = Projection("visit", local.date(), "waiting", greeted.user_id)
    f = {
        "greeted_at": _iso(greeted.occurred_at),
        "purpose": p0.get("purpose", "other"),
        "ticket": p0.get("ticket"),
        "segment": p0.get("segment"),
        "route": None,
        "form_checked": False,
        "form_redone": False,
        "recommendations": 0,
        "accepted": 0,
        "responses": [],
        "products": [],
        "referred": False,
        "engaged": False,
        "closed_at": None,
        "outcome": None,
        "satisfaction": None,
        "complaints": 0,
        "wait_seconds": None,
        "to_other_bank": False,
        "funds_kept": None,
    }
    triaged_at = engaged_at = first_sell = last_sell = closed_at = called_at = None
    guide_user = sell_user = greeted.user_id
    # Recommendations made before any need was learnt, per recorder: the source
    # document warns against exactly that (docs/events-supervisor.md).
    need_known, without_need = False, Counter[int]()
    for e in events:
        if e.id and e.id in undone:
            continue
        p, t, at = e.payload or {}, e.type, e.occurred_at
        if t == "visit.updated":
            for k in ("purpose", "ticket", "segment"):
                if k in p:
                    f[k] = p[k]
        elif t == "visit.triaged":
            f["route"] = p.get("route", f["route"])
            form = p.get("form")
            redone = p.get("form_redone") is True or p.get("redone") is True or form == "redone"
            checked = redone or p.get("form_checked") is True or form in ("checked", "ok")
            # The last triage wins, as in the lobby's Visit read model.
            f["form_checked"], f["form_redone"] = checked, redone
            f["to_other_bank"] = p.get("to_other_bank") is True
            if triaged_at is None:
                triaged_at, guide_user = at, e.user_id
        elif t == "visit.engaged":
            f["engaged"] = True
            need_known = need_known or bool(p.get("needs"))
            if engaged_at is None:
                engaged_at, sell_user = at, e.user_id
        elif t == "visit.recommended":
            # One recommendation per product, as the lobby's read model counts them.
            products = list(dict.fromkeys(str(x) for x in (p.get("products") or []))) or ["?"]
            response = p.get("response")
            f["recommendations"] += len(products)
            f["responses"].extend([response] * len(products))
            f["products"].extend(products)
            if response == "interested":
                f["accepted"] += len(products)
            if not need_known:
                without_need[e.user_id] += len(products)
            first_sell = first_sell or at
            last_sell, sell_user = at, e.user_id
        elif t == "visit.referred":
            f["referred"] = True
            first_sell = first_sell or at
            last_sell, sell_user = at, e.user_id
        elif t == "visit.closed":
            closed_at = at
            f["outcome"] = p.get("outcome")
            f["satisfaction"] = p.get("satisfaction")
        elif t == "visit.funds_kept":
            f["funds_kept"] = p.get("amount_band")  # the last one corrects earlier ones
        elif t == "visit.called":
            called_at = called_at or at  # the first call ends the wait
        elif t == "visit.complaint":
            f["complaints"] += 1
            f["complaint_note"] = p.get("note")
    f["closed_at"] = _iso(closed_at)

    proj.add("visits")
    proj.add("hour", f"{local.hour:02d}")
    proj.add("purpose", f["purpose"])
    if f["engaged"]:
        proj.add("engaged")
    if f["route"]:
        proj.add("triaged")
        proj.add("route", f["route"])
    if f["form_checked"]:
        proj.add("form_checked")
    if f["form_redone"]:
        proj.add("form_redone")
    if f["to_other_bank"]:
        proj.add("to_other_bank")
    if f["funds_kept"]:
        proj.add("funds_kept")
        proj.add("funds_kept_band", f["funds_kept"])
    proj.add("recs", "", f["recommendations"])
    proj.add("recs_ok", "", f["accepted"])
    f["recs_without_need"] = sum(without_need.values())
    for user_id, n in without_need.items():
        proj.add("rec_no_need", user_id, n)
    for response in f["responses"]:
        proj.add("rec_resp", response or "none")
    if f["referred"]:
        proj.add("referred")
    f["called_at"] = _iso(called_at)
    if called_at is not None:
        # Called to a counter: the wait is greeting to call, the service call to close.
        seconds = max(0.0, (called_at - greeted.occurred_at).total_seconds())
        f["wait_seconds"] = int(seconds)
        proj.add("wait", wait_bucket(seconds))
        if closed_at is not None:
            proj.add("service", wait_bucket(max(0.0, (closed_at - called_at).total_seconds())))
    if closed_at is not None:
        proj.status = "closed"
        proj.add("outcome", f["outcome"] or "none")
        if f["outcome"] in ("served", "referred") and called_at is None:
            # Never called: the wait runs open-ended to the close, as before visit.called.
            seconds = max(0.0, (closed_at - greeted.occurred_at).total_seconds())
            f["wait_seconds"] = int(seconds)
            proj.add("wait", wait_bucket(seconds))
        if isinstance(f["satisfaction"], int):
            proj.add("sat", f["satisfaction"])
    proj.add("complaints", "", f["complaints"])
    proj.add("guide", guide_user, _seconds(greeted.occurred_at, triaged_at, GUIDE_CAP_SECONDS))
    proj.add("sell", sell_user, _seconds(engaged_at or first_sell, last_sell, SELL_CAP_SECONDS))
    proj.facts = f
    return proj


REFERRAL_OUTCOMES = ("met", "sold", "no_sale", "did_not_come")


def fold_referral(events: list[Ev], clock: BranchClock) -> Projection | None:
    created = next((e for e in events if e.type == "referral.created"), None)
    if created is None:
        return None
    p0 = created.payload or {}
    proj = Projection("referral", clock.local(created.occurred_at).date(), "open", created.user_id)
    f: dict[str, Any] = {
        "created_at": _iso(created.occurred_at),
        "visit_id": p0.get("visit_id"),
        "to": p0.get("to") or p0.get("to_user") or p0.get("wealth_manager"),
        "products": p0.get("products") or ([p0["product"]] if p0.get("product") else []),
        "outcome": None,
        "amount_band": None,
        "outcome_at": None,
        "outcome_by": None,
        "taken_at": None,
        "taken_by": None,
    }
    taken_at = outcome_at = None
    for e in events:
        if e.type == "referral.cancelled":
            return None  # taken back by its sender: not a referral any more
        if e.type == "referral.accepted" and taken_at is None:
            taken_at = e.occurred_at  # the first "on my way": how long the customer waited
            f["taken_at"], f["taken_by"] = _iso(taken_at), e.user_id
        if e.type == "referral.outcome":
            p = e.payload or {}
            f["outcome"] = p.get("result") or p.get("outcome")
            f["amount_band"] = p.get("amount_band") or p.get("band") or p.get("amount")
            outcome_at = e.occurred_at
            f["outcome_at"], f["outcome_by"] = _iso(outcome_at), e.user_id
    proj.add("referrals")
    proj.add("ref_from", created.user_id)
    if taken_at is not None:
        proj.add("ref_take", wait_bucket(_seconds(created.occurred_at, taken_at, CAP)))
    elif f["outcome"] in (None, "did_not_come"):
        proj.add("ref_untaken")  # nobody said "on my way" (yet)
    if f["outcome"] and f["outcome"] != "did_not_come":
        proj.add("ref_meet", wait_bucket(_seconds(created.occurred_at, outcome_at, CAP)))
    if f["outcome"]:
        proj.status = f["outcome"]
        proj.add("ref_outcome", f["outcome"])
        wealth_manager = f["taken_by"] or f["outcome_by"]
        proj.add("ref_wm", wealth_manager)
        if f["outcome"] == "sold":
            proj.add("ref_sold_wm", wealth_manager)
            proj.add("ref_sold_from", created.user_id)
        if f["outcome"] == "sold" and f["amount_band"]:
            proj.add("ref_band", str(f["amount_band"])[:24])
    else:
        proj.add("ref_open")
    proj.facts = f
    return proj


def _item_key(p: dict) -> str | None:
    for k in ("item_id", "item", "item_key", "code"):
        if p.get(k) is not None:
            value = p[k]
            if k == "item_id" and p.get("equipment_id") is not None:
                return f"{value}:{p['equipment_id']}"
            return str(value)
    return None


def _item_status(p: dict) -> str | None:
    for k in ("status", "result", "state", "mark"):
        if isinstance(p.get(k), str):
            return p[k]
    return None


def fold_run(events: list[Ev], clock: BranchClock) -> Projection | None:
    if not events:
        return None
    first = events[0]
    p0 = first.payload or {}
    day = None
    for k in ("day", "date", "business_day"):
        if isinstance(p0.get(k), str):
            try:
                day = date.fromisoformat(p0[k])
            except ValueError:
                pass
            break
    day = day or clock.local(first.occurred_at).date()
    proj = Projection("run", day, "started", first.user_id)
    items: dict[str, dict] = {}
    signed = None
    first_item_at = last_item_at = None
    for e in events:
        p = e.payload or {}
        if e.type == "checklist.item_recorded":
            key = _item_key(p) or e.id
            items[key] = {
                "status": _item_status(p),
                "user_id": e.user_id,
                "at": _iso(e.occurred_at),
                "label": p.get("label") or p.get("name"),
            }
            first_item_at = first_item_at or e.occurred_at
            last_item_at = e.occurred_at
        elif e.type == "checklist.signed_off" and signed is None:
            signed = e  # the first sign-off counts
    proj.add("runs")
    statuses = Counter(i["status"] or "none" for i in items.values())
    for status, n in statuses.items():
        proj.add("items", status, n)
    if signed is not None:
        opening = datetime.combine(day, clock.opens_at, tzinfo=zone(clock.tz))
        on_time = signed.occurred_at <= opening
        proj.status = "on_time" if on_time else "late"
        proj.add("run_on_time" if on_time else "run_late")
        proj.user_id = signed.user_id
        end: datetime | None = signed.occurred_at
    else:
        proj.add("run_unsigned")
        end = last_item_at
    proj.add("prep", proj.user_id, _seconds(first_item_at, end, PREP_CAP_SECONDS))
    proj.facts = {
        "started_at": _iso(first.occurred_at),
        "signed_at": _iso(signed.occurred_at) if signed else None,
        "items": items,
        "day": day.isoformat(),
    }
    return proj


def fold_fault(events: list[Ev], clock: BranchClock) -> Projection | None:
    reported = next((e for e in events if e.type == "fault.reported"), None)
    if reported is None:
        return None
    p0 = reported.payload or {}
    proj = Projection("fault", clock.local(reported.occurred_at).date(), "open", reported.user_id)
    resolved = None
    for e in events:
        if e.type == "fault.resolved" and resolved is None:
            resolved = e  # the first resolution counts
    f = {
        "reported_at": _iso(reported.occurred_at),
        "item": _item_key(p0),
        "note": p0.get("note"),
        "critical": bool(p0.get("critical")),
        "label": p0.get("label") or p0.get("equipment") or p0.get("item_label"),
        "run_id": p0.get("run_id"),
        "resolved_at": _iso(resolved.occurred_at) if resolved else None,
    }
    proj.add("faults")
    if resolved is not None:
        proj.status = "resolved"
        seconds = max(0.0, (resolved.occurred_at - reported.occurred_at).total_seconds())
        proj.add("fault_fixed")
        proj.add("fault_hours", min(int(seconds // 3600), FAULT_CAP_HOURS))
        proj.add("fault_secs", "", int(seconds))
    proj.facts = f
    return proj


FOLDS = {"visit": fold_visit, "referral": fold_referral, "run": fold_run, "fault": fold_fault}


def fold(kind: str, events: list[Ev], clock: BranchClock) -> Projection | None:
    return FOLDS[kind](events, clock)


# --- incremental -------------------------------------------------------------


def _upsert_counts(branch_id: int, delta: Counter) -> None:
    rows = [
        {"branch_id": branch_id, "day": d, "metric": m, "key": k, "value": v}
        for (d, m, k), v in delta.items()
        if v
    ]
    if not rows:
        return
    session = db.session
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # the same API
    # One statement for any number of rows (executemany): its compiled form is
    # cached, where a multi-row VALUES would be compiled again every time.
    stmt = upsert(FigureDay)
    stmt = stmt.on_conflict_do_update(
        index_elements=["branch_id", "day", "metric", "key"],
        set_={"value": FigureDay.value + stmt.excluded.value},
    )
    session.execute(stmt, rows)
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
            "kind": proj.kind,
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
        session.connection().execute(insert(FigureSubject.__table__), inserts)
    return deltas


def observe(accepted: list[Applied]) -> None:
    """Project the subjects a write transaction touched, once each, after all its events.

    In a savepoint of its own: a fault in the figures must never refuse a lobby
    event; it is logged, and `flask rebuild-figures` repairs the summaries.
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
    try:
        with db.session.begin_nested():
            for branch_id, delta in project_subjects(touched, known_events).items():
                _upsert_counts(branch_id, Counter({k: v for k, v in delta.items() if v}))
    except Exception:  # noqa: BLE001
        log.exception("figures: could not project %d subjects; run rebuild-figures", len(touched))


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
                "kind": proj.kind,
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


PROJECTED_PREFIXES = tuple(PREFIX_KIND)


def rebuild_figures(branch_ids: Iterable[int] | None = None, echo=None) -> dict[str, int]:
    """Recompute figure_subject and figure_day from the events, branch by branch."""
    session = db.session
    branches = session.scalars(select(Branch).order_by(Branch.id)).all()
    if branch_ids is not None:
        wanted = set(branch_ids)
        branches = [b for b in branches if b.id in wanted]
    done = {"branches": 0, "subjects": 0, "rows": 0}
    type_filter = [Event.type.like(f"{p}%") for p in PROJECTED_PREFIXES]
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
            ).where(and_(Event.branch_id == branch.id, or_(*type_filter)))
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
