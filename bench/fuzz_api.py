"""schemathesis against /api/v1/openapi.json with >= 1,000 generated cases (issue #7).

    .venv/bin/python bench/fuzz_api.py [--examples 200] [--seed N] [--database-url URL]

The same run as tests/test_api_fuzz.py (signed in as lobby1, every operation,
positive and negative cases, checks: not a server error, status code, content
type, response schema and headers conformance), with a larger count:
`--examples` cases per operation and mode (6 of them: ~1,000 cases at 200).
On a fresh SQLite file in /tmp by default; `--database-url` (or
TEST_DATABASE_URL) runs it on PostgreSQL, in a schema of its own that is
dropped afterwards. Without `--seed` generation is derandomized (repeatable).

Prints cases run, failures, server errors, the answers by operation and status,
and the first distinct failures; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples",
        type=int,
        default=200,
        help="cases per operation and mode (default 200: ~1,000 cases)",
    )
    parser.add_argument("--seed", type=int, help="a fixed seed instead of derandomized")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    if args.seed is not None:
        os.environ["DATANG_FUZZ_SEED"] = str(args.seed)

    from sqlalchemy import create_engine, text

    from app import create_app
    from app.demo import seed_demo
    from app.extensions import db
    from testbed.clients import DEMO_PASSWORD
    from testbed.fuzz import Fuzzer

    schema = engine = None
    if args.database_url:
        schema = f"fuzz_{uuid.uuid4().hex[:12]}"
        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in args.database_url else "?"
        url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='datang-fuzz-')}/fuzz.sqlite3"
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, DEMO_PASSWORD=DEMO_PASSWORD)
        with app.app_context():
            db.create_all()
            seed_demo(DEMO_PASSWORD)
            db.session.remove()
        started = time.perf_counter()
        fuzzer = Fuzzer(app)
        report = fuzzer.run_all(args.examples)
        stored = fuzzer.stored_event_ids()
        elapsed = time.perf_counter() - started
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if engine is not None:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()

    half_written = stored ^ report.accepted
    print(f"database: {'PostgreSQL' if schema else 'SQLite'}; {elapsed:.1f} s")
    print(f"cases run: {report.cases}")
    print(f"failures: {len(report.failures)}")
    print(f"server errors: {report.server_errors}")
    print(
        f"events accepted: {len(report.accepted)}; stored: {len(stored)}; "
        f"accepted xor stored: {len(half_written)}"
    )
    for (label, status), count in sorted(report.statuses.items()):
        print(f"  {label:28} {status}  {count}")
    for (status, code), count in sorted(report.results.items(), key=str):
        print(f"  sync result {status:9} {code or '':18} {count}")
    if report.failures:
        print(report.summary())
    return 1 if report.failures or report.server_errors or half_written else 0


if __name__ == "__main__":
    sys.exit(main())
