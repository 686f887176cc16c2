"""Two versions of the server side by side, under the same load: before and after a change.

    .venv/bin/python bench/server_ab.py --base-ref REF [--database-url URL]
                                        [--rounds 3] [--duration 5]

On a machine shared with other jobs the load changes from minute to minute, so
two runs of bench/server_bench.py, one per version, compare the load as much
as the code. Here both versions run at once, each in its own gunicorn (as
scripts/serve.sh: two workers a core, one thread each) on its own fresh database built as
server_bench.py builds it: "base" from `git archive REF` in a temp dir, "this"
from this checkout. wrk (2 threads, --connections) then runs each workload on
each, in turns (the order swapped every round), for --duration seconds:
bare, the `/lobby` page, the board fragment, the unchanged poll (204), and a
greet (POST /api/v1/sync, one event). A workload's ratio is its requests/s ÷
the bare endpoint's of the same server in the same round; the table gives the
median over the rounds, and the median p99. Both databases are made with this
checkout's schema (run only across changes that need no migration).

Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from server_bench import (  # noqa: E402
    GOAL_P99_MS,
    SERVE_THREADS,
    SERVE_WORKERS,
    Database,
    Server,
    Workload,
    build,
    sign_in,
    wrk,
)

GOALS = {"board page `/lobby`": 0.2, "board fragment (HX)": 0.25, "board poll (204)": 0.5}
GOALS["greet (`POST /api/v1/sync`)"] = 0.2


def workloads(version: int) -> list[Workload]:
    hx = ("HX-Request: true",)
    return [
        Workload("bare", "/bench/bare"),
        Workload("board page `/lobby`", "/lobby"),
        Workload("board fragment (HX)", "/lobby/board", headers=hx),
        Workload("board poll (204)", f"/lobby/board?since={version}", headers=hx, expect=204),
        Workload(
            "greet (`POST /api/v1/sync`)",
            "/api/v1/sync",
            script="greet.lua",
            headers=("Content-Type: application/json",),
            writes=True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-ref", required=True, help="the git ref to compare with")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds a workload a turn")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--visits", type=int, default=450)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="datang-server-ab-")
    base_root = os.path.join(tmp, "base")
    os.makedirs(base_root)
    archive = subprocess.run(
        ["git", "archive", args.base_ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", base_root], input=archive, check=True)
    started = time.time()
    sides = {}
    try:
        for name, root in (("base", base_root), ("this", ROOT)):
            db = Database(args.database_url, tmp, f"ab{name}")
            built = build(db.url, args.visits)
            server = Server(db.url, tmp, SERVE_WORKERS, SERVE_THREADS, root=root)
            cookie, csrf = sign_in(server.base)
            sides[name] = {"db": db, "server": server, "session": (cookie, csrf), "built": built}
        results: dict[tuple[str, str], list[dict]] = {}
        names = [w.name for w in workloads(0)]
        for rnd in range(args.rounds):
            order = ["base", "this"] if rnd % 2 == 0 else ["this", "base"]
            for index in range(len(names)):
                for side in order:
                    s = sides[side]
                    w = workloads(s["built"]["version"])[index]
                    cookie, csrf = s["session"]
                    if rnd == 0:  # warm-up: templates, pools in both workers
                        wrk(s["server"].base, w, cookie, csrf, 8, 1, uuid.uuid4().hex[:8])
                        s["server"].drain()
                    print(f"round {rnd + 1}: {side} {w.name}", file=sys.stderr, flush=True)
                    stats = wrk(
                        s["server"].base,
                        w,
                        cookie,
                        csrf,
                        args.connections,
                        args.duration,
                        uuid.uuid4().hex[:8],
                    )
                    s["server"].drain()
                    results.setdefault((side, w.name), []).append(stats)
    finally:
        for s in sides.values():
            s["server"].stop()
            s["db"].drop()
        shutil.rmtree(tmp, ignore_errors=True)
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n## Server A/B ({time.strftime('%Y-%m-%d %H:%M')}, {kind}, base = {args.base_ref}, "
        f"{args.rounds} rounds × {args.duration} s, wrk -t2 -c{args.connections}; load average "
        f"{os.getloadavg()[0]:.1f}; {time.time() - started:.0f} s in all)\n"
    )
    print("| workload | goal | base × bare | this × bare | base p99 ms | this p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        cells = []
        errors = 0
        for side in ("base", "this"):
            runs = results[(side, name)]
            bare = results[(side, "bare")]
            ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, bare, strict=True))
            rps = statistics.median(r["rps"] for r in runs)
            cells.append(f"{rps:,.0f} req/s" if name == "bare" else f"{ratio:.2f}")
            errors += sum(r["non2xx"] + r["socket_errors"] for r in runs)
        p99s = [
            statistics.median(r["p99_us"] / 1000 for r in results[(side, name)])
            for side in ("base", "this")
        ]
        goal = GOALS.get(name)
        limit = GOAL_P99_MS if name in ("board fragment (HX)", "board poll (204)") else 100.0
        goal_text = "–" if goal is None else f"≥ {goal}, p99 ≤ {limit:.0f}"
        print(
            f"| {name} | {goal_text} | {cells[0]} | {cells[1]} | {p99s[0]:.0f} | {p99s[1]:.0f} "
            f"| {errors} |"
        )


if __name__ == "__main__":
    main()
