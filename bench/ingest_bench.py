"""Sync ingest against the database's own speed, in-process (issue #7).

    PYTHONPATH=. .venv/bin/python bench/ingest_bench.py [--database-url URL]
        [--batches 5] [--prior 5000] [--growth 10] [--profile FILE]

Fills a fresh database (SQLite file in /tmp by default; on PostgreSQL a schema
of its own) with the demo data and `--prior` events (visits greeted and
closed, ingested as lobby1), then, batch by batch, times three ways of storing
500 events (greeted + closed for 250 new visits), each batch committed on its
own:

* ingest: `app.events.ingest()`, the whole write path (validation, exactly-once,
  the subjects, the read models, the supervisor's figures);
* raw: one SQLAlchemy Core `insert(Event.__table__)` executemany of the rows
  ingest writes to the event table for the same envelopes (same columns and
  values; new ids so they do not collide), in one transaction. The rows are
  made before the clock starts: this is the database's own cost. The issue's
  ratio is ingest events/s ÷ raw events/s (goal ≥ 0.4);
* raw, all rows: the same, plus an executemany of each other table's rows that
  ingest wrote for the previous batch (subject, visit, figure_subject; read
  back, under new ids) and the upsert of the day counters it added to, by the
  same amounts: what the same volume of writes costs without the write path
  around it (the issue's "events, subjects, read models and counters").

The three take turns going first, so load on the machine hits them alike.
Then the database is filled up to `--growth` times `--prior` events and the
same is measured again: how each figure grows when the data grows. Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.database import utcnow  # noqa: E402
from app.demo import seed_demo  # noqa: E402
from app.events import ingest, parse_time  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Branch, Event, Subject, User, Visit  # noqa: E402
from app.models.figures import FigureDay, FigureSubject  # noqa: E402
from app.supervisor.projection import _counter_upsert  # noqa: E402

BATCH = 500
GOAL = 0.4
_seq = 0


def batch(n: int = BATCH) -> list[dict]:
    """n envelopes: greeted + closed for n/2 new visits, in device order."""
    global _seq
    events = []
    for _ in range(n // 2):
        visit = str(uuid.uuid4())
        for kind, minute, payload in (
            ("visit.greeted", "03", {"purpose": "cash"}),
            ("visit.closed", "13", {"outcome": "served"}),
        ):
            _seq += 1
            events.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "occurred_at": f"2026-11-29T09:{minute}:12.481+08:00",
                    "subject_id": visit,
                    "branch": "demo",
                    "device_id": "bench",
                    "seq": _seq,
                    "payload": payload,
                }
            )
    return events


def raw_rows(events: list[dict], branch_id: int, user_id: int) -> list[dict]:
    """The event-table rows ingest writes for these envelopes (with fresh ids)."""
    return [
        {
            "id": str(uuid.uuid4()),
            "type": e["type"],
            "occurred_at": parse_time(e["occurred_at"]),
            "device_occurred_at": parse_time(e["occurred_at"]),
            "received_at": utcnow(),
            "subject_id": e["subject_id"],
            "branch_id": branch_id,
            "device_id": e["device_id"],
            "seq": e["seq"],
            "user_id": user_id,
            "payload": e["payload"],
        }
        for e in events
    ]


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Event))


def fill(user: User, up_to: int) -> None:
    """Ingest visits until the event table holds `up_to` events."""
    while (have := event_count()) < up_to:
        results = ingest(batch(min(BATCH, max(2, up_to - have))), user)
        assert all(r.status == "accepted" for r in results), results[:3]


def counter_values(branch_id: int) -> dict[tuple, int]:
    """The branch's day counters (figure_day), by (day, metric, key)."""
    rows = db.session.execute(
        select(FigureDay.day, FigureDay.metric, FigureDay.key, FigureDay.value).where(
            FigureDay.branch_id == branch_id
        )
    )
    values = {(day, metric, key): value for day, metric, key, value in rows}
    db.session.rollback()
    return values


def written_rows(events: list[dict], branch_id: int, counters_before: dict) -> list[tuple]:
    """(statement, rows) for the rows besides events that ingest wrote for these
    envelopes' subjects (the subject, its read model, its figures), read back and
    given new subject ids, and the counters it added to (the same upsert of the
    same amounts)."""
    subject_ids = list({e["subject_id"] for e in events})
    new_id = {sid: str(uuid.uuid4()) for sid in subject_ids}
    out = []
    for table, key in (
        (Subject.__table__, "id"),
        (Visit.__table__, "id"),
        (FigureSubject.__table__, "subject_id"),
    ):
        rows = [
            dict(r._mapping)
            for r in db.session.execute(select(table).where(table.c[key].in_(subject_ids)))
        ]
        for row in rows:
            row[key] = new_id[row[key]]
        out.append((insert(table), rows))
    db.session.rollback()
    added = [
        {"branch_id": branch_id, "day": day, "metric": metric, "key": key, "value": amount}
        for (day, metric, key), value in counter_values(branch_id).items()
        if (amount := value - counters_before.get((day, metric, key), 0))
    ]
    if added:
        out.append((_counter_upsert(db.engine.dialect.name), added))
    return out


def measure(user: User, branch_id: int, batches: int, profiler=None) -> dict:
    """Median ms an event of ingest, of the raw executemany of its event rows, and of
    raw executemanys of all the rows it writes; the three alternate, batch by batch."""
    engine = db.engine
    table = Event.__table__
    ingest_ms, raw_ms, all_ms = [], [], []
    ingest_cpu, raw_cpu = [], []
    warm = batch()
    counters = counter_values(branch_id)
    ingest(warm, user)
    others = written_rows(warm, branch_id, counters)  # rows like the next batch's
    for b in range(batches):
        events = batch()
        rows = raw_rows(batch(), branch_id, user.id)
        all_rows = raw_rows(batch(), branch_id, user.id)

        def run_ingest():
            nonlocal counters
            counters = counter_values(branch_id)
            if profiler:
                profiler.enable()
            started, cpu = time.perf_counter(), time.process_time()
            results = ingest(events, user)
            ingest_ms.append((time.perf_counter() - started) * 1000 / len(events))
            ingest_cpu.append((time.process_time() - cpu) * 1000 / len(events))
            if profiler:
                profiler.disable()
            assert all(r.status == "accepted" for r in results), results[:3]

        def run_raw():
            started, cpu = time.perf_counter(), time.process_time()
            with engine.begin() as conn:
                conn.execute(insert(table), rows)
            raw_ms.append((time.perf_counter() - started) * 1000 / len(rows))
            raw_cpu.append((time.process_time() - cpu) * 1000 / len(rows))

        def run_raw_all():
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(insert(table), all_rows)
                for statement, other_rows in others:
                    conn.execute(statement, other_rows)
            all_ms.append((time.perf_counter() - started) * 1000 / len(all_rows))

        # Rotate which goes first, so none always meets a warm cache.
        steps = [run_ingest, run_raw, run_raw_all]
        for step in steps[b % 3 :] + steps[: b % 3]:
            step()
        others = written_rows(events, branch_id, counters)
    ingest_med, raw_med = statistics.median(ingest_ms), statistics.median(raw_ms)
    all_med = statistics.median(all_ms)
    return {
        "ingest_ms": ingest_med,
        "raw_ms": raw_med,
        "ratio": raw_med / ingest_med,
        "all_ms": all_med,
        "all_ratio": all_med / ingest_med,
        "cpu_ratio": statistics.median(raw_cpu) / statistics.median(ingest_cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="sqlite:////tmp/datang-ingest-bench.sqlite3")
    parser.add_argument("--batches", type=int, default=5, help="batches of 500 for each median")
    parser.add_argument("--prior", type=int, default=5000, help="events before the first run")
    parser.add_argument("--growth", type=int, default=10, help="then this many times as many")
    parser.add_argument("--profile", help="write a cProfile of the ingest calls to this file")
    parser.add_argument(
        "--pg-schema",
        default="ingest_bench",
        help="PostgreSQL: the schema to work in (made if missing), so that "
        "the tables of others using the database are left alone",
    )
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql") and args.pg_schema:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.pg_schema}"'))
        engine.dispose()
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{args.pg_schema}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo("bench-pass-1234")
    # CPU time, not wall time: on a shared machine, waiting for a core is not our cost.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    rows = []
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == "lobby1"))
        branch_id = db.session.scalar(select(Branch.id).where(Branch.code == "demo"))
        ingest(batch(100), user)  # warm up the caches
        for size in (args.prior, args.prior * args.growth):
            started = time.perf_counter()
            fill(user, size)
            filled_in = time.perf_counter() - started
            before = event_count()
            figures = measure(user, branch_id, args.batches, profiler)
            db.session.rollback()
            rows.append((before, event_count(), filled_in, figures))
    if profiler:
        profiler.dump_stats(args.profile)
    name = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0].split("+")[0]
    print(
        f"\n{name}: batches of {BATCH} events (greeted + closed for {BATCH // 2} new visits), "
        f"median of {args.batches} batches each.\n"
        f"raw = one Core executemany of the batch's event rows, committed; ratio = ingest "
        f"events/s ÷ raw events/s (goal ≥ {GOAL}).\n"
        f"raw, all rows = Core executemanys of every row ingest writes for a batch (events, "
        f"subjects, visits, figure_subject, and the figure_day counters' upsert), one "
        f"transaction.\n"
        f"CPU ratio = the same ratio in this process's CPU time (on a shared machine the "
        f"wall clock also counts waiting for a core; on PostgreSQL it leaves out the "
        f"server's work).\n"
    )
    print(
        "| events stored | ingest ms/event | ingest events/s | raw ms/event | raw events/s "
        "| ratio | CPU ratio | raw, all rows: ms/event | ratio to it |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for before, after, _filled, f in rows:
        print(
            f"| {before:,} → {after:,} | {f['ingest_ms']:.3f} | {1000 / f['ingest_ms']:,.0f} "
            f"| {f['raw_ms']:.3f} | {1000 / f['raw_ms']:,.0f} | **{f['ratio']:.2f}** "
            f"| {f['cpu_ratio']:.2f} "
            f"| {f['all_ms']:.3f} | {f['all_ratio']:.2f} |"
        )
    (_, _, _, small), (_, _, _, large) = rows
    print(
        f"\ngrowth ×{args.growth} in events stored: ingest ms/event ×"
        f"{large['ingest_ms'] / small['ingest_ms']:.2f}, raw ms/event ×"
        f"{large['raw_ms'] / small['raw_ms']:.2f}, raw all rows ×"
        f"{large['all_ms'] / small['all_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
