"""cProfile of the lobby board views through the Flask test client (no server).

    .venv/bin/python bench/server/profile_board.py [--visits 450] [--n 50] [--path /lobby]
                                                  [--user lobby1] [--cold worker|server]

The database is built as bench/server_bench.py builds it (SQLite in a temp dir,
or a schema of its own in the --database-url PostgreSQL database, dropped after). Prints the time a
request (best of five batches, wall and CPU) and then the cProfile listing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from server_bench import CSRF_META, PASSWORD, Database, build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=450)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--path", action="append")
    parser.add_argument("--database-url")
    parser.add_argument("--user", default="lobby1", help="who signs in (super1: /supervisor)")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument(
        "--cold",
        choices=("worker", "server"),
        help="forget the rendered board before each request: the worker's own copy (the "
        "server's shared one still answers), or both (a version no worker rendered yet)",
    )
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="datang-profile-board-")
    database = Database(args.database_url, tmp.name, "profile")
    try:
        run(args, database.url)
    finally:
        database.drop()


def run(args, url: str) -> None:
    built = build(url, args.visits)
    from app import create_app
    from app.lobby.views import BOARD_CACHE

    # "server": no board shared between workers either (instance/board-cache).
    shared = {"BOARD_CACHE_DIR": ""} if args.cold == "server" else {}
    app = create_app(SQLALCHEMY_DATABASE_URI=url, **shared)
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    assert (
        client.post(
            "/login", data={"username": args.user, "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    for path in args.path or ["/lobby", "/lobby/board", "/lobby/board?since={version}"]:
        path = path.format(version=built["version"])
        headers = {"HX-Request": "true"} if path.startswith("/lobby/board") else {}

        def get(path=path, headers=headers):
            if args.cold:
                app.extensions.pop(BOARD_CACHE, None)
            return client.get(path, headers=headers)

        for _ in range(5):
            assert get().status_code in (200, 204)
        walls, cpus = [], []
        for _ in range(5):  # the machine is shared: the best of five batches
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.n):
                get()
            walls.append((time.perf_counter() - started) * 1000 / args.n)
            cpus.append((time.process_time() - cpu) * 1000 / args.n)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            get()
        prof.disable()
        print(
            f"\n===== {path}: {min(walls):.2f} ms wall, {min(cpus):.2f} ms CPU a request "
            f"(best of 5 × {args.n}{f', cold: {args.cold}' if args.cold else ''}, "
            "without the profiler)"
        )
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.limit)
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()  # before the schema is dropped


if __name__ == "__main__":
    main()
