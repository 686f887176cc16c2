"""Soak (issue #7): tablets syncing for minutes on loopback while supervisors read.

    .venv/bin/python bench/soak.py --tablets 20 --minutes 10
    .venv/bin/python bench/soak.py --tablets 20 --minutes 3 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Starts Datang under gunicorn (2 workers, 4 threads: scripts/serve.sh) on a
fresh database (a SQLite file in a temporary directory by default; a schema of
its own on PostgreSQL, dropped afterwards unless --keep), signs in the
simulated tablets (the demo lobby managers, several tablets per user, each with
its own device id) and the supervisors, runs the lobby flow as real events
through POST /api/v1/sync, then counts on the server: every event sent stored
exactly once, nothing unknown, the read models equal to a rebuild from the
events. Exits 1 unless 0 errors, 0 lost, 0 doubled. The harness is
testbed/reliability.py; the CI version is tests/reliability/test_soak.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.chdir(ROOT)

from testbed.reliability import PgSchema, run_soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tablets", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--supervisors", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL URL (a schema is made in it) or sqlite:///FILE",
    )
    parser.add_argument("--server", choices=["gunicorn", "serve.py"], default="gunicorn")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(0.2, 1.0),
        metavar=("MIN", "MAX"),
        help="seconds between two taps on a tablet",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="datang-soak-")
    schema = None
    url = args.database_url or f"sqlite:///{workdir}/soak.sqlite3"
    if url.startswith("postgres"):
        schema = PgSchema(url)
        url = schema.url
    log = os.path.join(workdir, "server.log")
    print(f"server log: {log}")
    try:
        report = run_soak(
            url,
            tablets=args.tablets,
            seconds=args.minutes * 60,
            supervisors=args.supervisors,
            server_kind=args.server,
            log_path=log,
            think=tuple(args.think),
        )
    finally:
        if schema and not args.keep:
            schema.drop()
    print(
        f"soak: {args.tablets} tablets, {args.supervisors} supervisors, "
        f"{args.minutes:g} min; {report.seconds:.0f} s in all"
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
