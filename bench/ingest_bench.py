"""Server time per event through the one write path, in-process.

    PYTHONPATH=. .venv/bin/python bench/ingest_bench.py [--database-url URL] [--batches 5]

Fills a fresh database (SQLite file in /tmp by default) with the demo data,
then ingests batches of 500 events (greeted + closed for 250 visits) as
lobby1 and prints the median milliseconds per event.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.demo import seed_demo  # noqa: E402
from app.events import ingest  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import User  # noqa: E402


def batch(n: int, start: int) -> list[dict]:
    events = []
    for i in range(start, start + n // 2):
        visit = str(uuid.uuid4())
        for k, (kind, minute, payload) in enumerate((
                ("visit.greeted", "03", {"purpose": "cash"}),
                ("visit.closed", "13", {"outcome": "served"}))):
            events.append({"id": str(uuid.uuid4()), "type": kind,
                           "occurred_at": f"2026-11-29T09:{minute}:12.481+08:00",
                           "subject_id": visit, "branch": "demo", "device_id": "bench",
                           "seq": 2 * i + k, "payload": payload})
    return events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="sqlite:////tmp/datang-ingest-bench.sqlite3")
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=args.database_url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo("bench-pass-1234")
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == "lobby1"))
        ingest(batch(100, 0), user)  # warm up
        timings = []
        for b in range(args.batches):
            events = batch(500, 1000 * (b + 1))
            started = time.perf_counter()
            results = ingest(events, user)
            timings.append((time.perf_counter() - started) * 1000 / len(events))
            assert all(r.status == "accepted" for r in results)
    print(f"{app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}: "
          f"{statistics.median(timings):.2f} ms an event (median of {args.batches} batches of 500)")


if __name__ == "__main__":
    main()
