"""Throughput and latency of the real server (gunicorn) under wrk.

    .venv/bin/python bench/server_bench.py [--database-url URL] [--duration S] [--no-growth]
                                           [--only greet]

Default: SQLite, 15 s a workload, both data sizes: about 4 minutes.
Profile of the board views: bench/server/profile_board.py.

For each of two data sizes (1× and "growth at 10×"), builds a fresh database
with the demo data and a filled branch, starts gunicorn as scripts/serve.sh
does (gthread, two workers a core, one thread each) on loopback with
bench/server/wsgi.py (the app plus a bare endpoint), signs in as lobby1 and
runs wrk (2 threads) against:

- bare:        GET /bench/bare, a tiny text answer (Flask and gunicorn alone)
- board page:  GET /lobby, the whole page
- board frag.: GET /lobby/board with HX-Request, the fragment the tablet polls
- board poll:  the same with ?since=<current version>: 204, nothing changed
- greet:       POST /api/v1/sync, one new visit.greeted per request
- greet, 20 branches: the same, going round the lobby managers of 20 branches
  (lobby1's and 19 made by bench/loadgen.py), each greeting in their own

The greets are counted in the database afterwards against wrk's 2xx answers
(wrk stops with requests in flight, so up to one per connection more may land).
Errors are answers other than 2xx (wrk alone would pass a 302 to the sign-in
page) plus socket errors and timeouts; exceptions the app logged are listed
under the table. ✗ marks a figure that misses its goal (≥ 0.5 × bare,
p99 ≤ 50 ms). Latencies longer than the run are not in wrk's percentiles.
Between workloads the bench waits until gunicorn has answered what wrk left
queued. gunicorn's access log goes to a file in the temp dir (serve.sh: stdout).
"Cores busy" is the machine's CPU not idle while wrk ran (/proc/stat): below
100 % at 32 connections, the server waited on something other than the CPU.
"App CPU" is the gunicorn workers' CPU time while wrk ran, divided by wrk's
requests; "PostgreSQL CPU" the same for this machine's PostgreSQL processes
(0 on SQLite). With wrk's own share, they are what a request costs the machine.

1×: 32 connections, the branch holds --visits past visits (greeted, triaged,
closed over the past days) plus a lobby of 15 waiting and 5 just-closed
visits. 10×: ten times the past visits, 320 connections.

SQLite in a temporary directory by default. With --database-url (PostgreSQL),
the bench makes a schema of its own in that database and drops it at the end
(unless --keep). Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from http.cookiejar import CookieJar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
LUA_DIR = os.path.join(ROOT, "bench", "server")
PASSWORD = "bench-pass-1234"
USER_AGENT = "datang-server-bench"  # the same for sign-in and wrk: Flask-Login's "basic" protection
WAITING, JUST_CLOSED = 15, 5
GOAL_RATIO, GOAL_P99_MS = 0.5, 50.0

from sqlalchemy import create_engine, func, select, text  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (a schema of the bench's own is made in it)",
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--visits", type=int, default=450, help="past visits in the branch at 1× (3 events each)"
    )
    parser.add_argument("--no-growth", action="store_true", help="skip the 10× run")
    parser.add_argument("--growth-only", action="store_true", help="only the 10× run")
    parser.add_argument("--keep", action="store_true", help="keep the database(s) afterwards")
    parser.add_argument("--workers", type=int, default=SERVE_WORKERS)
    parser.add_argument(
        "--threads", type=int, default=SERVE_THREADS, help="gunicorn threads per worker"
    )
    parser.add_argument(
        "--only",
        help="the workloads whose names contain one of these comma-separated words "
        "(bare always runs): e.g. greet",
    )
    return parser.parse_args()


# --- the database ----------------------------------------------------------------


class Database:
    """A fresh database: a SQLite file in a temp dir, or a PostgreSQL schema of our own."""

    def __init__(self, base_url: str | None, tmp: str, label: str):
        self.base_url = base_url
        if base_url is None:
            self.url = f"sqlite:///{os.path.join(tmp, f'bench-{label}.sqlite3')}"
            self.schema = None
        else:
            self.schema = f"bench_server_{label}_{uuid.uuid4().hex[:8]}"
            engine = create_engine(base_url)
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            engine.dispose()
            sep = "&" if "?" in base_url else "?"
            self.url = f"{base_url}{sep}options=-csearch_path%3D{self.schema}"

    @property
    def kind(self) -> str:
        return "PostgreSQL" if self.schema else "SQLite"

    def drop(self) -> None:
        if self.schema:
            engine = create_engine(self.base_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            engine.dispose()


def build(url: str, past_visits: int) -> dict:
    """Schema, demo data and a filled branch, through the one write path (in-process)."""
    from app import create_app
    from app.database import utcnow
    from app.demo import seed_demo
    from app.events import format_time, ingest
    from app.extensions import db
    from app.models import Branch, Event, User

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo(PASSWORD)
        db.session.remove()
    started = time.perf_counter()
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == "lobby1"))
        now = utcnow()
        seq = iter(range(1, 10**9))

        def ev(kind, visit, at, payload):
            return {
                "id": str(uuid.uuid4()),
                "type": kind,
                "occurred_at": format_time(at),
                "subject_id": visit,
                "branch": "demo",
                "device_id": "bench-fill",
                "seq": next(seq),
                "payload": payload,
            }

        events: list[dict] = []
        purposes = ["cash", "transfer", "account", "card", "wealth", "bills", "inquiry"]
        for i in range(past_visits):  # 90 a day, one every 5 minutes, on past days
            visit = str(uuid.uuid4())
            at = now - timedelta(days=i // 90 + 1) + timedelta(minutes=5 * (i % 90) - 480)
            events += [
                ev("visit.greeted", visit, at, {"purpose": purposes[i % len(purposes)]}),
                ev("visit.triaged", visit, at + timedelta(minutes=2), {"route": "counter"}),
                ev("visit.closed", visit, at + timedelta(minutes=14), {"outcome": "served"}),
            ]
        for i in range(JUST_CLOSED):
            visit = str(uuid.uuid4())
            at = now - timedelta(minutes=40 - 3 * i)
            events += [
                ev("visit.greeted", visit, at, {"purpose": "cash", "ticket": f"A{i:03d}"}),
                ev("visit.closed", visit, at + timedelta(minutes=20), {"outcome": "served"}),
            ]
        for i in range(WAITING):
            visit = str(uuid.uuid4())
            at = now - timedelta(minutes=3 * (WAITING - i))
            events.append(
                ev(
                    "visit.greeted",
                    visit,
                    at,
                    {"purpose": purposes[i % len(purposes)], "ticket": f"B{i:03d}"},
                )
            )
            if i % 2:
                events.append(
                    ev("visit.triaged", visit, at + timedelta(minutes=1), {"route": "counter"})
                )
            if i % 3 == 0:
                events.append(
                    ev("visit.engaged", visit, at + timedelta(minutes=2), {"needs": ["deposits"]})
                )
        for start in range(0, len(events), 500):
            results = ingest(events[start : start + 500], user)
            bad = [r for r in results if r.status != "accepted"]
            assert not bad, bad[0].as_json()
        db.session.remove()
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == "demo"))
        stored = db.session.scalar(select(func.count(Event.position)))
        version = db.session.scalar(
            select(func.max(Event.position)).where(Event.branch_id == branch.id)
        )
        db.session.remove()
        db.engine.dispose()
    return {"events": stored, "version": version, "fill_s": time.perf_counter() - started}


def count_greets(url: str, nonce: str) -> int:
    from app.models import Event

    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(
            select(func.count(Event.position)).where(
                Event.type == "visit.greeted", Event.device_id.like(f"bench-{nonce}-%")
            )
        )
    engine.dispose()
    return n


# --- the server ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(
    url: str,
    data: dict | None = None,
    headers: dict | None = None,
    jar: CookieJar | None = None,
    timeout: float = 30,
) -> tuple[int, str]:
    """(status, body) of one request; redirects are answers, not followed."""
    handlers: list = [_NoRedirect()]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    opener = urllib.request.build_opener(*handlers)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(
        url, data=body, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# gunicorn as scripts/serve.sh runs it: two workers a core, one thread each.
SERVE_WORKERS = 2 * (os.cpu_count() or 1)
SERVE_THREADS = 1


class Server:
    def __init__(self, url: str, tmp: str, workers: int, threads: int, root: str = ROOT):
        """gunicorn serving the app of the checkout at `root` (bench/server_ab.py: another)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Open while gunicorn runs; closed with it.
        self.log = open(os.path.join(tmp, f"gunicorn-{self.port}.log"), "w")  # noqa: SIM115
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.proc = subprocess.Popen(
            [
                gunicorn,
                # gthread whatever the threads (as scripts/serve.sh): gunicorn's
                # default for one thread, "sync", closes the connection after each request.
                "--worker-class",
                "gthread",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--keep-alive",
                "10",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                os.path.join(tmp, f"access-{self.port}.log"),
                "bench.server.wsgi:app",
            ],
            cwd=root,
            env={**os.environ, "BENCH_DATABASE_URL": url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while True:
            try:
                if http(self.base + "/bench/bare", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"gunicorn did not start; see {self.log.name}")
            time.sleep(0.2)

    def drain(self, limit: float = 180) -> float:
        """Wait until the requests wrk left queued are answered (a bare GET is quick again)."""
        started = time.time()
        while time.time() - started < limit:
            t0 = time.perf_counter()
            try:
                http(self.base + "/bench/bare", timeout=limit)
            except OSError:
                time.sleep(1)
                continue
            if time.perf_counter() - t0 < 0.2:
                break
        return time.time() - started

    def worker_rss_mib(self) -> list[float]:
        pid = self.proc.pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(p) for p in f.read().split()]
        sizes = []
        for child in children:
            with open(f"/proc/{child}/status") as f:
                kib = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
            sizes.append(kib / 1024)
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the gunicorn workers so far."""
        pid = self.proc.pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sum(process_cpu_seconds(int(child)) for child in f.read().split())

    def errors(self) -> dict[str, int]:
        """The exceptions the app logged (a 500 each), by their last line."""
        found: dict[str, int] = {}
        with open(self.log.name, errors="replace") as f:
            for line in f:
                if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line):
                    key = line.strip()[:160]
                    found[key] = found.get(key, 0) + 1
        return found

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def sign_in(
    base: str, username: str = "lobby1", password: str = PASSWORD, page: str = "/lobby"
) -> tuple[str, str]:
    """The user's session cookie header and CSRF token (read from `page`, their home)."""
    jar = CookieJar()
    token = CSRF_META.search(http(base + "/login", jar=jar)[1]).group(1)
    status, _ = http(
        base + "/login",
        data={"username": username, "password": password, "csrf_token": token},
        jar=jar,
    )
    assert status == 302, f"sign-in of {username} failed: {status}"
    status, body = http(base + page, jar=jar)
    assert status == 200, f"{page} answered {status} to {username}"
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, CSRF_META.search(body).group(1)


# --- wrk ---------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    path: str
    script: str = "get.lua"
    headers: tuple[str, ...] = ()
    expect: int = 200
    writes: bool = False
    sessions: str | None = None  # a file of sessions to go round (greet.lua)


GREET_BRANCHES = 20  # "greet, 20 branches": lobby1's and 19 more branches' lobby managers


def workloads(version: int, sessions_file: str) -> list[Workload]:
    hx = ("HX-Request: true",)
    return [
        Workload("bare", "/bench/bare"),
        Workload("board page `/lobby`", "/lobby"),
        Workload("board fragment (HX)", "/lobby/board", headers=hx),
        Workload(
            "board poll, unchanged (204)", f"/lobby/board?since={version}", headers=hx, expect=204
        ),
        Workload(
            "greet (`POST /api/v1/sync`)",
            "/api/v1/sync",
            script="greet.lua",
            headers=("Content-Type: application/json",),
            writes=True,
        ),
        Workload(
            f"greet, {GREET_BRANCHES} branches at once",
            "/api/v1/sync",
            script="greet.lua",
            headers=("Content-Type: application/json",),
            writes=True,
            sessions=sessions_file,
        ),
    ]


def wrk(
    base: str, w: Workload, cookie: str, csrf: str, connections: int, duration: int, nonce: str
) -> dict:
    headers = [f"Cookie: {cookie}", f"User-Agent: {USER_AGENT}", f"X-CSRFToken: {csrf}", *w.headers]
    cmd = [
        shutil.which("wrk") or "/usr/bin/wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        os.path.join(LUA_DIR, w.script),
    ]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(base + w.path)
    env = {**os.environ, "BENCH_LUA_DIR": LUA_DIR, "BENCH_NONCE": nonce}
    if w.sessions:
        env["BENCH_SESSIONS"] = w.sessions
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode or line is None:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    stats = json.loads(line[len("BENCH_JSON ") :])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["socket_errors"] = sum(stats[k] for k in ("connect", "read", "write", "timeout"))
    return stats


def run_phase(label: str, db: Database, past_visits: int, connections: int, args, tmp) -> dict:
    print(
        f"\n[{label}] building the {db.kind} database ({past_visits} past visits) ...",
        file=sys.stderr,
        flush=True,
    )
    built = build(db.url, past_visits)
    print(
        f"[{label}] {built['events']} events stored (fill {built['fill_s']:.0f} s); "
        f"starting gunicorn",
        file=sys.stderr,
        flush=True,
    )
    from loadgen import add_branches, sign_in_all

    others = add_branches(db.url, GREET_BRANCHES - 1, {"lobby": "lobby_manager"}, PASSWORD)
    server = Server(db.url, tmp, args.workers, args.threads)
    rows = []
    try:
        cookie, csrf = sign_in(server.base)
        sessions_file = os.path.join(tmp, f"sessions-{server.port}.tsv")
        signed_in = sign_in_all(
            server.base, [(b["users"]["lobby"], "/lobby") for b in others], PASSWORD
        )
        with open(sessions_file, "w") as f:
            f.write(f"{cookie}\t{csrf}\tdemo\n")
            for branch in others:
                f.write("\t".join((*signed_in[branch["users"]["lobby"]], branch["code"])) + "\n")
        for w in workloads(built["version"], sessions_file):
            if (
                args.only
                and w.name != "bare"
                and not any(word in w.name for word in args.only.split(","))
            ):
                continue
            # Warm-up (templates, connection pools in both workers); not counted.
            warm_nonce = uuid.uuid4().hex[:8]
            wrk(server.base, w, cookie, csrf, min(connections, 8), 2, warm_nonce)
            server.drain()
            nonce = uuid.uuid4().hex[:8]
            print(
                f"[{label}] {w.name}: wrk -c{connections} -d{args.duration}s",
                file=sys.stderr,
                flush=True,
            )
            machine_before = machine_cpu()
            app_before, database_before = server.cpu_seconds(), database_cpu_seconds()
            stats = wrk(server.base, w, cookie, csrf, connections, args.duration, nonce)
            stats["busy"] = busy_share(machine_before, machine_cpu())
            stats["app_cpu_s"] = server.cpu_seconds() - app_before
            stats["database_cpu_s"] = database_cpu_seconds() - database_before
            stats["name"] = w.name
            # At 320 connections wrk stops with hundreds of requests still queued in
            # gunicorn; the next workload must not wait behind them.
            stats["drain_s"] = server.drain()
            if w.writes:
                ok = stats["requests"] - stats["non2xx"]
                landed = count_greets(db.url, nonce)
                stats["landed"], stats["ok"] = landed, ok
                # wrk stops with requests in flight: those may land without being counted.
                stats["landed_ok"] = ok <= landed <= ok + connections
            rows.append(stats)
        rss = server.worker_rss_mib()
        still_signed_in = sign_in_check(server.base, cookie)
    finally:
        server.stop()
    return {
        "label": label,
        "rows": rows,
        "rss": rss,
        "built": built,
        "connections": connections,
        "db": db.kind,
        "signed_in": still_signed_in,
        "server_errors": server.errors(),
    }


def process_cpu_seconds(pid: int, command: str | None = None) -> float:
    """CPU time (user + system) of process `pid` so far; 0 if it ended, or if `command`
    is given and is not its command's name."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            head, _, rest = f.read().rpartition(")")
    except OSError:
        return 0.0  # ended meanwhile
    if command is not None and not head.endswith(f"({command}"):
        return 0.0
    fields = rest.split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def database_cpu_seconds() -> float:
    """CPU time (user + system) of this machine's PostgreSQL processes so far (0 without)."""
    return sum(
        process_cpu_seconds(int(pid), "postgres")
        for pid in filter(str.isdigit, os.listdir("/proc"))
    )


def machine_cpu() -> tuple[int, int]:
    """(all, idle) jiffies of the machine's CPUs so far (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        times = [int(n) for n in f.readline().split()[1:9]]
    return sum(times), times[3] + times[4]  # idle + iowait


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How much of the machine's CPU time between two readings was not idle."""
    total = after[0] - before[0]
    return 1 - (after[1] - before[1]) / total if total else 0.0


def sign_in_check(base: str, cookie: str) -> bool:
    return http(base + "/lobby", headers={"Cookie": cookie})[0] == 200


# --- the report ------------------------------------------------------------------


def report(phase: dict, duration: int) -> str:
    rows = phase["rows"]
    bare = next(r for r in rows if r["name"] == "bare")["rps"]
    out = [
        f"### {phase['label']}: {phase['db']}, {phase['built']['events']:,} events stored "
        f"before the run, {phase['connections']} connections, {duration} s each",
        "",
        "| workload | requests/s | × bare (goal ≥ 0.5) | p50 ms | p99 ms (goal ≤ 50) "
        "| cores busy | app CPU ms a request | PostgreSQL CPU ms a request | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["rps"] / bare if bare else 0
        if not r["requests"]:
            out.append(f"| {r['name']} | **no answer in {duration} s** | | | | | | | |")
            continue
        errors = r["non2xx"] + r["socket_errors"]
        note = ""
        if errors:
            note = f" (first non-2xx: {r['first_non2xx']}; socket: {r['socket_errors']})"
        if "landed" in r:
            mark = "" if r["landed_ok"] else " **MISMATCH**"
            note += f"; {r['landed']:,} greets stored for {r['ok']:,} 2xx{mark}"
        ratio_s = (
            "–" if r["name"] == "bare" else (f"{ratio:.2f}" + ("" if ratio >= GOAL_RATIO else " ✗"))
        )
        p99 = r["p99_us"] / 1000
        out.append(
            f"| {r['name']} | {r['rps']:,.0f} | {ratio_s} | {r['p50_us'] / 1000:.1f} | "
            f"{p99:.1f}{'' if p99 <= GOAL_P99_MS else ' ✗'} | {r['busy']:.0%} | "
            f"{r['app_cpu_s'] * 1000 / r['requests']:.2f} | "
            f"{r['database_cpu_s'] * 1000 / r['requests']:.2f} | {errors}{note} |"
        )
    rss = ", ".join(f"{m:.0f} MiB" for m in phase["rss"])
    out += ["", f"RSS per gunicorn worker after the runs (VmRSS): {rss}."]
    for line, n in phase["server_errors"].items():
        out.append(f"Server log: {n} × `{line}`")
    if not phase["signed_in"]:
        out.append("**The session was no longer valid after the runs.**")
    return "\n".join(out)


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk") and not os.path.exists("/usr/bin/wrk"):
        raise SystemExit("wrk is needed (Debian package `wrk`)")
    tmp = tempfile.mkdtemp(prefix="datang-server-bench-")
    started = time.time()
    phases = []
    plan = []
    if not args.growth_only:
        plan.append(("1×", "x1", args.visits, args.connections))
    if not args.no_growth or args.growth_only:
        plan.append(("growth at 10×", "x10", 10 * args.visits, 10 * args.connections))
    try:
        for label, tag, visits, connections in plan:
            db = Database(args.database_url, tmp, tag)
            try:
                phases.append(run_phase(label, db, visits, connections, args, tmp))
            finally:
                if not args.keep:
                    db.drop()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)
    print(
        f"\n## Server bench ({time.strftime('%Y-%m-%d %H:%M')}, gunicorn {args.workers} workers "
        f"× {args.threads} threads (gthread), wrk -t2; load average "
        f"{os.getloadavg()[0]:.1f}; {time.time() - started:.0f} s in all)\n"
    )
    for phase in phases:
        print(report(phase, args.duration))
        print()
    broken = any(r.get("landed_ok") is False for p in phases for r in p["rows"])
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
