"""cProfile of one greet (`POST /api/v1/sync`, one new visit.greeted) through the Flask test client.

    .venv/bin/python bench/server/profile_greet.py [--database-url URL] [--n 200]
        [--statements] [--dump FILE] [--lock-hold]

The database is built as bench/server_bench.py builds it. Prints the CPU and
wall time a greet (without the profiler) and then the cProfile listing.
`--lock-hold` (PostgreSQL) first prints how long a greet holds its branch's
write lock: from sending the lock to the end of the commit, median and p90.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from server_bench import CSRF_META, PASSWORD, Database, build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--statements", action="store_true", help="print one greet's SQL")
    parser.add_argument("--dump", help="also write the cProfile data to this file (pstats)")
    parser.add_argument("--lock-hold", action="store_true", help="time lock to commit")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="datang-profile-greet-")
    database = Database(args.database_url, tmp.name, "greet")
    try:
        run(args, database.url)
    finally:
        database.drop()


def run(args, url: str) -> None:
    build(url, 450)
    from app import create_app
    from app.extensions import db

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "lobby1", "password": PASSWORD, "csrf_token": token})
    csrf = CSRF_META.search(client.get("/lobby").get_data(as_text=True)).group(1)

    def greet() -> None:
        event = {
            "id": str(uuid.uuid4()),
            "type": "visit.greeted",
            "occurred_at": "2026-11-30T09:00:00Z",
            "subject_id": str(uuid.uuid4()),
            "branch": "demo",
            "device_id": "profile",
            "seq": 1,
            "payload": {"purpose": "cash"},
        }
        answer = client.post(
            "/api/v1/sync",
            data=json.dumps({"events": [event]}),
            headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
        )
        assert answer.get_json()["results"][0]["status"] == "accepted", answer.get_data()

    for _ in range(20):
        greet()
    if args.statements:
        from sqlalchemy import event as sa_event

        with app.app_context():
            engine = db.engine

        def show(conn, cursor, statement, parameters, context, executemany):
            print(("many: " if executemany else "") + " ".join(statement.split())[:160])

        sa_event.listen(engine, "before_cursor_execute", show)
        greet()
        sa_event.remove(engine, "before_cursor_execute", show)
    if args.lock_hold:
        lock_hold(app, db, greet, args.n)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.n):
        greet()
    print(
        f"greet: {(time.process_time() - cpu) * 1000 / args.n:.2f} ms CPU, "
        f"{(time.perf_counter() - started) * 1000 / args.n:.2f} ms wall a request"
    )
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.n):
        greet()
    prof.disable()
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.limit)
    if args.dump:
        prof.dump_stats(args.dump)
    with app.app_context():
        db.engine.dispose()  # before the schema is dropped


def lock_hold(app, db, greet, n: int) -> None:
    """Median and p90 of lock to end of commit, over `n` greets, in ms."""
    from sqlalchemy import event as sa_event
    from sqlalchemy.orm import Session

    held: list[float] = []
    locked: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "pg_advisory_xact_lock" in statement:
            locked.append(time.perf_counter())

    def committed(session):
        if locked:
            held.append((time.perf_counter() - locked.pop()) * 1000)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", before)
    sa_event.listen(Session, "after_commit", committed)
    try:
        for _ in range(n):
            greet()
    finally:
        sa_event.remove(engine, "before_cursor_execute", before)
        sa_event.remove(Session, "after_commit", committed)
    held.sort()
    if held:
        print(
            f"lock held: median {held[len(held) // 2]:.2f} ms, "
            f"p90 {held[len(held) * 9 // 10]:.2f} ms ({len(held)} greets)"
        )


if __name__ == "__main__":
    main()
