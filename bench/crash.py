"""Crash (issue #7): kill -9 the server during sync, again and again.

    .venv/bin/python bench/crash.py --cycles 20
    .venv/bin/python bench/crash.py --cycles 20 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Clients (lobby tablets) send batches continuously to gunicorn (2 workers, as
scripts/serve.sh); at a random moment while a sync call is in flight every
server process gets SIGKILL. With the server down it checks that every
acknowledged event is stored exactly once and nothing unknown, the database's
integrity (SQLite: PRAGMA integrity_check and foreign_key_check) and that the
read models equal a rebuild from the events (app.events.rebuild,
rebuild_figures); then restarts the server, lets the clients resend what was
not acknowledged and checks that once more. Exits 1 on any problem. The CI
version is tests/reliability/test_crash.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.chdir(ROOT)

from testbed.reliability import PgSchema, run_crash  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL URL (a schema is made in it) or sqlite:///FILE",
    )
    parser.add_argument("--server", choices=["gunicorn", "serve.py"], default="gunicorn")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="datang-crash-")
    schema = None
    url = args.database_url or f"sqlite:///{workdir}/crash.sqlite3"
    if url.startswith("postgres"):
        schema = PgSchema(url)
        url = schema.url
    log = os.path.join(workdir, "server.log")
    print(f"server log: {log}")
    try:
        report = run_crash(
            url,
            cycles=args.cycles,
            clients=args.clients,
            server_kind=args.server,
            log_path=log,
            seed=args.seed,
        )
    finally:
        if schema and not args.keep:
            schema.drop()
    print(f"crash: {args.cycles} cycles, {args.clients} clients; {report.seconds:.0f} s in all")
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
