"""How many branches one server holds: the field's mix of requests, branch after branch.

    .venv/bin/python bench/field_mix.py [--database-url URL] [--steps 100,200,400,700,1000]
                                        [--seconds 40] [--connections 64]

Each simulated branch has:
- 3 tablets, each polling the waiting board every 3 s (`GET /lobby/board?since=`,
  a 204 when nothing changed, the fragment when it did) and, once a minute at
  a random moment, sending one event (`POST /api/v1/sync`: a new customer
  greeted, or the close of the one it greeted before) and then pulling
  (`GET /api/v1/events?since=`): 3 syncs a minute a branch, about 90
  customers an hour, a busy branch at its peak;
- one wealth manager's device reading the referral inbox once a minute;
- one supervisor page (`/supervisor`) once a minute.

That is about 68 requests a minute a branch. gunicorn runs as scripts/serve.sh
runs it (two workers a core, one thread each) on loopback; the load comes from one asyncio
process (bench/loadgen.py) through a pool of keep-alive connections, as a
reverse proxy in front would keep. Latency is counted from when a request was
due, so a server that falls behind shows in the figures. Steps go up in the
number of branches until one misses p99 ≤ 100 ms or has an error; the last
step that held is the answer. Each step starts after --warm-up seconds of the
same load, not counted; a tablet keeps its board version, pull cursor and open
visit from the warm-up into the step and from step to step, as a tablet that
loaded its page in the morning does. The load generator's own CPU time is reported:
it shares the machine's cores with the server. So is the gunicorn workers'
CPU time a request: "branches 2 cores hold at 70 %" is 1.4 cores divided by
that times a branch's ~1.13 requests a second (the database server's own
CPU is not in it), the estimate for a machine that runs nothing else. The
PostgreSQL server's processes' CPU is reported beside it (0 on SQLite).

Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from loadgen import Client, Latencies, add_branches, sign_in_all  # noqa: E402
from server_bench import (  # noqa: E402
    PASSWORD,
    SERVE_THREADS,
    SERVE_WORKERS,
    USER_AGENT,
    Database,
    Server,
    database_cpu_seconds,
)

POLL_EVERY, SYNC_EVERY, DESK_EVERY = 3.0, 60.0, 60.0
TABLETS = 3
BRANCH_REQUESTS_PER_SECOND = TABLETS / POLL_EVERY + 2 * TABLETS / SYNC_EVERY + 2 / DESK_EVERY
GOAL_P99_MS = 100.0
ROLES = {"lobby": "lobby_manager", "wealth": "wealth_manager", "super": "branch_supervisor"}
HOMES = {"lobby": "/lobby", "wealth": "/referrals", "super": "/supervisor"}
BOARD_SINCE = re.compile(rb'id="board-since" name="since" value="(\d*)"')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--steps", default="100,200,400,700,1000", help="numbers of branches to try, ascending"
    )
    parser.add_argument("--seconds", type=int, default=40, help="seconds a step")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=6,
        help="seconds of the same load before each step, not counted",
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=SERVE_WORKERS)
    parser.add_argument("--threads", type=int, default=SERVE_THREADS)
    parser.add_argument(
        "--keep-going", action="store_true", help="run every step even after one missed"
    )
    return parser.parse_args()


def build(url: str, branches: int) -> list[dict]:
    from app import create_app
    from app.demo import seed_demo
    from app.extensions import db

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo(PASSWORD)
        db.session.remove()
        db.engine.dispose()
    made = add_branches(url, branches, ROLES, PASSWORD)
    with app.app_context():
        # Statistics for the new rows now, as a database in service has them, rather
        # than from autovacuum in the middle of the first step.
        with db.engine.connect() as connection:
            command = "VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(command)
        db.engine.dispose()
    return made


def envelope(kind: str, visit: str, branch: str, device: str, seq: int, payload: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "subject_id": visit,
        "branch": branch,
        "device_id": device,
        "seq": seq,
        "payload": payload,
    }


@dataclass
class Tablet:
    """What a tablet remembers between requests, and between the warm-up and the step:
    a tablet loads its page once in the morning, not at every step."""

    branch: str
    session: tuple[str, str]
    device: str = field(default_factory=lambda: f"mix-{uuid.uuid4().hex[:12]}")
    seq: int = 0
    version: str = ""
    cursor: str = ""
    open_visit: str | None = None


async def tablet(client: Client, stats: Latencies, state: Tablet, until: float) -> None:
    cookie, csrf = state.session
    background = {"Cookie": cookie, "HX-Request": "true", "X-Datang-Background": "1"}
    loop = asyncio.get_running_loop()
    next_poll = loop.time() + random.uniform(0, POLL_EVERY)
    next_sync = loop.time() + random.uniform(0, SYNC_EVERY)
    while True:
        due = min(next_poll, next_sync)
        if due >= until:
            return
        await asyncio.sleep(max(0.0, due - loop.time()))
        if due == next_poll:
            next_poll += POLL_EVERY
            status, body = await client.timed(
                stats,
                "poll",
                due,
                "GET",
                f"/lobby/board?since={state.version}",
                background,
                expect=(200, 204),
            )
            if status == 200:
                match = BOARD_SINCE.search(body)
                state.version = match.group(1).decode() if match else state.version
            continue
        next_sync += SYNC_EVERY
        state.seq += 1
        where = (state.branch, state.device, state.seq)
        if state.open_visit is None:
            state.open_visit = str(uuid.uuid4())
            event = envelope("visit.greeted", state.open_visit, *where, {"purpose": "cash"})
        else:
            event = envelope("visit.closed", state.open_visit, *where, {"outcome": "served"})
            state.open_visit = None
        body = json.dumps({"device_id": state.device, "events": [event]}).encode()
        status, answer = await client.timed(
            stats,
            "sync",
            due,
            "POST",
            "/api/v1/sync",
            {"Cookie": cookie, "X-CSRFToken": csrf, "Content-Type": "application/json"},
            body,
        )
        if status == 200 and json.loads(answer)["results"][0]["status"] != "accepted":
            stats.add("sync", 0.0, False, answer.decode()[:200])
        status, answer = await client.timed(
            stats,
            "pull",
            loop.time(),
            "GET",
            f"/api/v1/events?since={state.cursor}",
            {"Cookie": cookie, "X-Datang-Background": "1"},
        )
        if status == 200:
            state.cursor = json.loads(answer)["next"]


async def desk(
    client: Client, stats: Latencies, kind: str, path: str, cookie: str, until: float
) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + random.uniform(0, DESK_EVERY)
    while due < until:
        await asyncio.sleep(max(0.0, due - loop.time()))
        await client.timed(stats, kind, due, "GET", path, {"Cookie": cookie})
        due += DESK_EVERY


async def run_step(
    base: str,
    branches: list[dict],
    sessions: dict,
    tablets: dict[str, list[Tablet]],
    seconds: int,
    connections: int,
) -> tuple[Latencies, float]:
    client = Client(base, connections, USER_AGENT)
    stats = Latencies()
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    tasks = []
    for branch in branches:
        users = branch["users"]
        states = tablets.setdefault(
            branch["code"],
            [Tablet(branch["code"], sessions[users["lobby"]]) for _ in range(TABLETS)],
        )
        tasks += [tablet(client, stats, state, until) for state in states]
        tasks.append(
            desk(client, stats, "wealth inbox", "/referrals", sessions[users["wealth"]][0], until)
        )
        tasks.append(
            desk(
                client, stats, "supervisor page", "/supervisor", sessions[users["super"]][0], until
            )
        )
    started = time.monotonic()
    await asyncio.gather(*tasks)
    return stats, time.monotonic() - started


def report(
    n: int,
    stats: Latencies,
    elapsed: float,
    cpu_s: float,
    load: float,
    server_cpu_s: float,
    database_cpu_s: float,
) -> tuple[str, bool]:
    everything = stats.all()
    p99 = Latencies.percentile(everything, 99)
    errors = sum(stats.errors.values())
    held = p99 <= GOAL_P99_MS and errors == 0
    kinds = "; ".join(
        f"{kind} {len(v):,} (p50 {Latencies.percentile(v, 50):.0f}, "
        f"p99 {Latencies.percentile(v, 99):.0f} ms)"
        for kind, v in sorted(stats.by_kind.items())
    )
    per_request_ms = server_cpu_s * 1000 / max(1, len(everything))
    # What one branch's requests a second cost the app server, and so how many
    # branches 2 cores at 70 % would hold (from the schedule's rate: a server that
    # fell behind stretched the step, not the branch's load).
    branch_cpu = per_request_ms / 1000 * BRANCH_REQUESTS_PER_SECOND
    line = (
        f"| {n:,} | {n * TABLETS:,} | {len(everything) / elapsed:,.0f} | "
        f"{Latencies.percentile(everything, 50):.1f} | {p99:.1f}{'' if held else ' ✗'} | "
        f"{errors}{' (' + stats.first_error + ')' if errors else ''} | "
        f"{server_cpu_s / elapsed:.2f} | {per_request_ms:.2f} | {1.4 / branch_cpu:,.0f} | "
        f"{database_cpu_s / elapsed:.2f} | "
        f"{cpu_s / elapsed:.2f} | {load:.1f} | {kinds} |"
    )
    return line, held


def main() -> None:
    args = parse_args()
    steps = sorted(int(n) for n in args.steps.split(","))
    tmp = tempfile.mkdtemp(prefix="datang-field-mix-")
    db = Database(args.database_url, tmp, "mix")
    lines = []
    try:
        print(f"building {db.kind} with {steps[-1]} branches ...", file=sys.stderr, flush=True)
        branches = build(db.url, steps[-1])
        server = Server(db.url, tmp, args.workers, args.threads)
        sessions: dict = {}
        tablets: dict[str, list[Tablet]] = {}
        try:
            for n in steps:
                users = [
                    (b["users"][role], HOMES[role])
                    for b in branches[:n]
                    for role in ROLES
                    if b["users"][role] not in sessions
                ]
                sessions.update(sign_in_all(server.base, users, PASSWORD))
                server.drain()
                print(f"{n} branches: {args.seconds} s ...", file=sys.stderr, flush=True)
                # Connections opened, templates compiled, every session's first write done,
                # every tablet's board loaded.
                asyncio.run(
                    run_step(
                        server.base,
                        branches[:n],
                        sessions,
                        tablets,
                        args.warm_up,
                        args.connections,
                    )
                )
                server.drain()
                cpu = resource.getrusage(resource.RUSAGE_SELF)
                server_cpu, database_cpu = server.cpu_seconds(), database_cpu_seconds()
                stats, elapsed = asyncio.run(
                    run_step(
                        server.base, branches[:n], sessions, tablets, args.seconds, args.connections
                    )
                )
                after = resource.getrusage(resource.RUSAGE_SELF)
                cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
                line, held = report(
                    n,
                    stats,
                    elapsed,
                    cpu_s,
                    os.getloadavg()[0],
                    server.cpu_seconds() - server_cpu,
                    database_cpu_seconds() - database_cpu,
                )
                lines.append(line)
                print(line, file=sys.stderr, flush=True)
                if not held and not args.keep_going:
                    break
            errors = server.errors()
        finally:
            server.stop()
    finally:
        db.drop()
    print(
        f"\n## Field mix ({time.strftime('%Y-%m-%d %H:%M')}, {db.kind}, gunicorn "
        f"{args.workers} workers × {args.threads} threads, {args.connections} connections, "
        f"{args.seconds} s a step)\n"
    )
    print(
        "| branches | tablets | requests/s | p50 ms | p99 ms (goal ≤ 100) | errors | "
        "app server, cores | app CPU ms a request | branches 2 cores hold at 70 % | "
        "PostgreSQL, cores | "
        "load generator, cores | load average | by kind |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(lines))
    for line, n in errors.items():
        print(f"Server log: {n} × `{line}`")


if __name__ == "__main__":
    main()
