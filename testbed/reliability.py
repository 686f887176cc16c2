"""The reliability harness (issue #7): a real server, simulated tablets, server-side counts.

Used by bench/soak.py, bench/crash.py and tests/reliability/.

* `Server` runs Datang under gunicorn, `run:app`, DATANG_ENV=development, with
  2 workers of 4 threads each (requests of one worker interleave, which the
  exactly-once checks want to see; scripts/serve.sh runs a thread a worker, for
  speed), in a process group of its own, so `kill()` is a kill -9 of the master
  and every worker at once.
* `prepare_database` makes the schema with the migrations (`flask db upgrade`)
  and adds the demo data (`seed-demo`), in this process.
* `Tablet` is a lobby manager's tablet: it records the lobby flow as events
  in a local queue (the outbox) and a flusher sends the oldest entries in
  order to POST /api/v1/sync, deleting an entry only on `accepted` or
  `duplicate` for its id, resending the same envelopes after any failure;
  after each push it pulls GET /api/v1/events and polls the /lobby/board
  fragment as htmx does.
* `Supervisor` reads the supervisor pages in a loop.
* `server_counts` / `check_projections` / `sqlite_integrity` count on the
  server, straight from the database.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from app import vocabulary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "test-pass-1234"
# (username, branch): the demo lobby managers (docs/product-rules.md). With more
# tablets than users, tablets share a user, each with its own device id, as two
# tablets in one branch do.
LOBBY_USERS = [("lobby1", "demo"), ("lobby2", "demo"), ("lobby-north", "north")]
SUPERVISORS = ["super1", "area1"]
SUPERVISOR_PAGES = [
    "/supervisor",
    "/supervisor/today",
    "/supervisor/figures",
    "/supervisor/figures?period=week",
    "/supervisor?branch=demo",
]

PURPOSES = list(vocabulary.PURPOSES)
ROUTES = ["self_service", "counter", "wealth", "corporate", "vip"]
NEEDS = [
    "wealth_management",
    "deposits",
    "loans",
    "credit_card",
    "mobile_banking",
    "insurance",
    "pension",
    "foreign_exchange",
]
PRODUCTS = [
    "wm-stable",
    "deposit-3y",
    "card-gold",
    "mobile-app",
    "pension-plan",
    "loan-home",
    "insure-life",
]
RESPONSES = ["interested", "declined", "already_has", "later"]
NOTES = [
    "客户想了解理财",
    "咨询手机银行",
    "老人需要陪同",
    "asked about deposits",
    "waiting for spouse",
]
CST = timezone(timedelta(hours=8))
# What the real client marks as not the user's activity: the outbox's GETs and the
# htmx polls (app/static/js/outbox.js, app.js). A sync POST is activity.
BACKGROUND = {"X-Datang-Background": "1"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

log = logging.getLogger("datang.reliability")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database -------------------------------------------------------------


def make_app(database_url: str):
    from app import create_app

    return create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, DEMO_PASSWORD=PASSWORD)


def prepare_database(database_url: str) -> None:
    """`flask db upgrade` and `flask seed-demo`, as scripts/serve.sh does, in this process."""
    from flask_migrate import upgrade

    from app.demo import seed_demo
    from app.extensions import db

    app = make_app(database_url)
    loggers = {
        name: lg.disabled
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    with app.app_context():
        upgrade()  # alembic's env.py reconfigures logging; put the loggers back below
        seed_demo(PASSWORD)
        db.session.remove()
        db.engine.dispose()
    for name, was in loggers.items():
        logging.getLogger(name).disabled = was


class PgSchema:
    """A schema of its own on a PostgreSQL server, for a bench run; dropped by `drop()`."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine, text

        self.base = url
        self.name = f"rel_{uuid.uuid4().hex[:10]}"
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.engine.dispose()


# --- the server ---------------------------------------------------------------


class Server:
    """gunicorn --workers 2 --threads 4 run:app (its threads interleave requests); or serve.py."""

    def __init__(
        self,
        database_url: str,
        *,
        kind: str = "gunicorn",
        workers: int = 2,
        threads: int = 4,
        log_path: str | None = None,
    ):
        self.database_url = database_url
        self.kind = kind
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = log_path
        self.starts = 0

    def command(self) -> list[str]:
        if self.kind == "serve.py":
            return [
                sys.executable,
                "-m",
                "testbed.serve",
                "--database-url",
                self.database_url,
                "--port",
                str(self.port),
            ]
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        return [
            gunicorn,
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--keep-alive",
            "10",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "run:app",
        ]

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DATANG_ENV": "development",
            "SECRET_KEY": "reliability-not-secret",
            "DATANG_DEMO_PASSWORD": PASSWORD,
            "DATANG_LOGIN_RATE_LIMIT": "100000 per minute",
        }
        env.pop("TEST_DATABASE_URL", None)
        # Open while the server runs; closed by stop().
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if self.log_path:
                out.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode} (log: {self.log_path})"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def pids(self) -> list[int]:
        """The master and its workers (the process group)."""
        if not self.process:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "-g", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def kill(self) -> None:
        """kill -9 every process of the server at once: no clean shutdown, as a crash."""
        if not self.process:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the orphaned workers die with the group
            alive = [p for p in self.pids() if _alive(p)]
            if not alive:
                break
            time.sleep(0.05)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    stop = kill


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --- HTTP --------------------------------------------------------------------


class HttpError(Exception):
    pass


class Browser:
    """One keep-alive connection and a cookie jar: what a tablet's browser holds."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0  # requests answered on the current connection
        self.retries = 0  # requests sent again after a kept-alive connection was closed

    def close(self) -> None:
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        """(status, body, headers); raises OSError/HttpError on a failed connection."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.used = 0
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                self.used += 1
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                reused = self.used > 0
                self.close()
                # A kept-alive connection that the server closed while idle (gunicorn's
                # default keep-alive is 2 s; we run it with 10): a browser sends the
                # request again on a new connection, and so do we, once. (A POST
                # /api/v1/sync sent twice answers "duplicate": that is what the ids
                # are for.)
                if attempt == 0 and reused:
                    self.retries += 1
                    continue
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        for value in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel.value == "" or "1970" in (morsel["expires"] or ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.headers.get("Connection", "").lower() == "close":
            self.close()
        return response.status, data, response.headers

    def sign_in(self, username: str) -> None:
        status, page, _ = self.request("GET", "/login")
        token = CSRF_META.search(page.decode()).group(1)
        form = urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
        status, _, _ = self.request(
            "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 302:
            raise RuntimeError(f"sign-in as {username}: {status}")


# --- statistics ---------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sync_ms: list = field(default_factory=list)
    read_ms: list = field(default_factory=list)
    batches: int = 0
    sent: int = 0  # envelopes posted, resends included
    accepted: int = 0
    duplicate: int = 0
    pulls: int = 0
    board_reads: int = 0
    supervisor_reads: int = 0
    failures: int = 0  # failed sync calls (resent later)
    keepalive_retries: int = 0
    answers_lost: int = 0  # answers dropped on purpose: those entries are sent again
    errors: Counter = field(default_factory=Counter)
    error_samples: list = field(default_factory=list)
    expected: Counter = field(default_factory=Counter)

    def error(self, kind: str, detail: str = "", expected: bool = False) -> None:
        with self.lock:
            if expected:
                self.expected[kind] += 1
                return
            self.errors[kind] += 1
            if self.errors[kind] <= 3 and len(self.error_samples) < 20:  # a few of each kind
                text = " ".join(detail.split())
                self.error_samples.append(f"{kind}: {text[:300]}")

    def add(self, **counts) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# --- the tablet -----------------------------------------------------------------


@dataclass
class VisitPlan:
    id: str
    steps: list  # what is left to record: (type, payload, subject_id)
    last_step: str | None = None  # event id of the last undoable step


class Tablet:
    """A lobby manager's tablet: records the lobby flow, flushes its outbox in order.

    `expect_outages`: failed connections are expected (the crash test) rather
    than errors; an answer other than 200 is an error all the same. Every event made
    is in `made`; `acked` holds the ids the server answered `accepted` or `duplicate` for.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        branch: str,
        stats: Stats,
        *,
        seed: int,
        think: tuple[float, float] = (0.2, 1.0),
        flush_every: tuple[float, float] = (0.5, 2.0),
        max_batch: int = 100,
        max_open: int = 6,
        expect_outages: bool = False,
        pull: bool = True,
        board: bool = True,
        lose_answers: float = 0.0,
    ):
        self.base_url = base_url
        self.username, self.branch = username, branch
        self.device_id = str(uuid.uuid4())
        self.rng = random.Random(seed)
        self.stats = stats
        self.think, self.flush_every, self.max_batch = think, flush_every, max_batch
        self.max_open = max_open
        self.expect_outages = expect_outages
        self.do_pull, self.do_board = pull, board
        # The share of sync answers the tablet "does not get" (a connection cut after the
        # server committed): it keeps the entries and sends them again -> "duplicate".
        self.lose_answers = lose_answers
        self.seq = 0
        self.outbox: list[dict] = []
        self.lock = threading.Lock()
        self.made: dict[str, dict] = {}
        self.acked: set[str] = set()
        self.rejected: dict[str, dict] = {}
        self.open: list[VisitPlan] = []
        self.others: list[str] = []  # waiting visits of other tablets, learnt by pulling
        self.pulled: list[str] = []
        self.cursor = ""
        self.start_cursor: str | None = None
        self.in_flight = 0
        self.browser = Browser(base_url)
        self.csrf = ""
        self.board_version = ""
        self.stop_recording = threading.Event()
        self.stop_all = threading.Event()
        self.threads: list[threading.Thread] = []

    # -- the screen: recording --------------------------------------------------

    def sign_in(self) -> None:
        self.browser.sign_in(self.username)
        self.refresh_session()

    def refresh_session(self) -> None:
        status, body, _ = self.browser.request("GET", "/api/v1/session", headers=BACKGROUND)
        if status != 200:
            raise HttpError(f"session: {status}")
        info = json.loads(body)
        self.csrf = info["csrf_token"]
        if self.start_cursor is None:
            self.cursor = self.start_cursor = info["cursor"]

    def record(self, type_: str, subject_id: str, payload: dict) -> str:
        self.seq += 1
        event = {
            "id": str(uuid.uuid4()),
            "type": type_,
            "occurred_at": datetime.now(CST).isoformat(timespec="milliseconds"),
            "subject_id": subject_id,
            "branch": self.branch,
            "device_id": self.device_id,
            "seq": self.seq,
            "payload": payload,
        }
        with self.lock:
            self.outbox.append(event)
            self.made[event["id"]] = event
        return event["id"]

    def plan_visit(self) -> VisitPlan:
        rng = self.rng
        visit = str(uuid.uuid4())
        greet = {"purpose": rng.choice(PURPOSES)}
        if rng.random() < 0.6:
            greet["ticket"] = f"{rng.choice('ABCV')}{rng.randint(1, 999):03d}"
        if rng.random() < 0.5:
            greet["segment"] = rng.choice(["new", "regular", "high_value"])
        if rng.random() < 0.1:
            greet["flags"] = rng.sample(["elderly", "needs_help", "vip_appointment"], 1)
        steps = [("visit.greeted", greet, visit)]
        if rng.random() < 0.1:
            steps.append(("visit.updated", {"purpose": rng.choice(PURPOSES)}, visit))
        route = rng.choice(ROUTES)
        steps.append(
            (
                "visit.triaged",
                {
                    "route": route,
                    "suggested": rng.choice(ROUTES),
                    "form_checked": rng.random() < 0.5,
                },
                visit,
            )
        )
        for _ in range(rng.choice([0, 1, 1, 2])):
            engaged = {"needs": rng.sample(NEEDS, rng.randint(0, 2))}
            if rng.random() < 0.2:
                engaged["note"] = rng.choice(NOTES)
            steps.append(("visit.engaged", engaged, visit))
        if rng.random() < 0.4:
            steps.append(
                (
                    "visit.recommended",
                    {
                        "products": rng.sample(PRODUCTS, rng.randint(1, 3)),
                        "response": rng.choice(RESPONSES),
                    },
                    visit,
                )
            )
        if rng.random() < 0.03:
            steps.append(("visit.complaint", {"note": "排队太久"}, visit))
        outcome = rng.choice(["served"] * 6 + ["walked_away"])
        if rng.random() < 0.15:
            referral = str(uuid.uuid4())
            to = rng.choice(["wealth", "corporate"])
            steps.append(("visit.referred", {"referral_id": referral, "to": to}, visit))
            steps.append(
                (
                    "referral.created",
                    {"visit_id": visit, "to": to, "purpose": greet["purpose"]},
                    referral,
                )
            )
            outcome = "referred"
        closed = {"outcome": outcome}
        if rng.random() < 0.5:
            closed["satisfaction"] = rng.randint(1, 5)
        if rng.random() < 0.9:  # some customers are still waiting when the shift ends
            steps.append(("visit.closed", closed, visit))
        return VisitPlan(visit, steps)

    def step(self) -> None:
        """One tap: greet a new customer, or the next step of a waiting one."""
        rng = self.rng
        if self.others and rng.random() < 0.03:
            # Two tablets in one branch: this one closes a visit the other greeted.
            visit = self.others.pop(rng.randrange(len(self.others)))
            self.record("visit.closed", visit, {"outcome": "served"})
            return
        if not self.open or (len(self.open) < self.max_open and rng.random() < 0.35):
            self.open.append(self.plan_visit())
        plan = rng.choice(self.open)
        if plan.last_step and rng.random() < 0.03:
            self.record("visit.undone", plan.id, {"event_id": plan.last_step})
            plan.last_step = None
            return
        type_, payload, subject = plan.steps.pop(0)
        event_id = self.record(type_, subject, payload)
        plan.last_step = (
            event_id
            if type_ in ("visit.triaged", "visit.engaged", "visit.recommended", "visit.updated")
            else None
        )
        if not plan.steps:
            self.open.remove(plan)

    # -- the outbox: sending ------------------------------------------------------

    def take_batch(self) -> list[dict]:
        with self.lock:
            return list(self.outbox[: self.max_batch])

    def push(self) -> bool:
        """Sends the oldest entries once; True when the server answered for each."""
        batch = self.take_batch()
        if not batch:
            return True
        body = json.dumps({"device_id": self.device_id, "events": batch}).encode()
        started = time.perf_counter()
        self.in_flight += 1
        try:
            status, data, _ = self.browser.request(
                "POST",
                "/api/v1/sync",
                body,
                {
                    "Content-Type": "application/json",
                    "X-CSRFToken": self.csrf,
                    "X-Datang-User": self.username,
                },
            )
        except HttpError as exc:
            self.stats.add(failures=1, batches=1, sent=len(batch))
            self.stats.error("sync_connection", f"{self.username}: {exc}", self.expect_outages)
            return False
        finally:
            self.in_flight -= 1
        elapsed = (time.perf_counter() - started) * 1000
        self.stats.add(batches=1, sent=len(batch))
        if status != 200:
            self.stats.add(failures=1)
            self.stats.error(f"sync_{status}", data.decode(errors="replace"))
            if status == 400 and b"csrf" in data.lower():
                try:
                    self.refresh_session()
                except HttpError:
                    pass
            return False
        try:
            results = json.loads(data)["results"]
            assert len(results) == len(batch)
        except Exception:  # noqa: BLE001 - not the expected shape: delete nothing
            self.stats.add(failures=1)
            self.stats.error("sync_bad_answer", data.decode(errors="replace"))
            return False
        with self.stats.lock:
            self.stats.sync_ms.append(elapsed)
        if self.lose_answers and self.rng.random() < self.lose_answers:
            self.stats.add(answers_lost=1)
            return True  # as if the answer never came: everything is sent again
        settled = set()
        counts = Counter()
        for event, result in zip(batch, results, strict=True):
            if result.get("id") != event["id"]:
                self.stats.error("sync_wrong_id", json.dumps(result))
                continue
            status_ = result.get("status")
            counts[status_] += 1
            if status_ in ("accepted", "duplicate"):
                settled.add(event["id"])
            else:
                self.stats.error(
                    f"rejected_{result.get('error', {}).get('code')}",
                    json.dumps({"event": event, "result": result}),
                )
                self.rejected[event["id"]] = result
                settled.add(event["id"])  # stays on a real tablet, shown; not resent
        with self.lock:
            self.outbox = [e for e in self.outbox if e["id"] not in settled]
            self.acked.update(i for i in settled if i not in self.rejected)
        self.stats.add(accepted=counts["accepted"], duplicate=counts["duplicate"])
        return True

    def pull(self, pages: int = 1) -> bool:
        for _ in range(pages):
            try:
                status, data, _ = self.browser.request(
                    "GET", f"/api/v1/events?limit=500&since={self.cursor}", headers=BACKGROUND
                )
            except HttpError as exc:
                self.stats.error("pull_connection", str(exc), self.expect_outages)
                return False
            if status != 200:
                self.stats.error(f"pull_{status}", data.decode(errors="replace"))
                return False
            answer = json.loads(data)
            self.stats.add(pulls=1)
            mine = set(self.made)
            for event in answer["events"]:
                self.pulled.append(event["id"])
                if (
                    event["type"] == "visit.greeted"
                    and event["id"] not in mine
                    and len(self.others) < 20
                    and self.rng.random() < 0.2
                ):
                    self.others.append(event["subject_id"])
            self.cursor = answer["next"]
            if not answer["events"]:
                return True
        return True

    def poll_board(self) -> None:
        started = time.perf_counter()
        try:
            status, data, headers = self.browser.request(
                "GET",
                f"/lobby/board?since={self.board_version}",
                headers={"HX-Request": "true", **BACKGROUND},
            )
        except HttpError as exc:
            self.stats.error("board_connection", str(exc), self.expect_outages)
            return
        if status not in (200, 204):
            self.stats.error(f"board_{status}", data.decode(errors="replace")[:300])
            return
        with self.stats.lock:
            self.stats.read_ms.append((time.perf_counter() - started) * 1000)
            self.stats.board_reads += 1
        found = re.search(rb'id="board-since" name="since" value="(\d+)"', data)
        if found:
            self.board_version = found.group(1).decode()

    def run_recorder(self) -> None:
        while not self.stop_recording.is_set():
            self.step()
            self.stop_recording.wait(self.rng.uniform(*self.think))

    def run_flusher(self) -> None:
        try:
            self._flush_loop()
        except Exception as exc:  # noqa: BLE001 - a bug of the harness: counted, not hidden
            import traceback

            self.stats.error(
                "client_crashed", f"{self.username}: {exc!r} " + traceback.format_exc()[-800:]
            )
            self.stop_all.set()

    def _flush_loop(self) -> None:
        delay = 0.2
        next_board = time.monotonic()
        while True:
            recording = not self.stop_recording.is_set()
            if self.stop_all.is_set() and not self.outbox:
                return
            if self.outbox:
                ok = self.push()
                if ok and self.do_pull:
                    self.pull()
                if not ok:  # back-off, as the outbox does
                    time.sleep(delay * self.rng.uniform(0.5, 1.0))
                    delay = min(delay * 2, 2.0)
                    continue
                delay = 0.2
            if self.do_board and recording and time.monotonic() >= next_board:
                self.poll_board()
                next_board = time.monotonic() + 3  # hx-trigger="every 3s"
            if not self.outbox or recording:
                time.sleep(self.rng.uniform(*self.flush_every) if recording else 0.05)
            if self.stop_all.is_set() and not self.outbox:
                return

    def start(self) -> None:
        for target in (self.run_recorder, self.run_flusher):
            thread = threading.Thread(
                target=target, daemon=True, name=f"{self.username}:{target.__name__}"
            )
            thread.start()
            self.threads.append(thread)

    def drain(self, timeout: float) -> bool:
        """Stop recording; flush until the outbox is empty or `timeout` passes."""
        self.stop_recording.set()
        self.stop_all.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.outbox

    def pending(self) -> set[str]:
        with self.lock:
            return {e["id"] for e in self.outbox}


class Supervisor:
    """Reads the supervisor pages in a loop; anything but 200 is an error."""

    def __init__(
        self,
        base_url: str,
        username: str,
        stats: Stats,
        *,
        seed: int,
        pause: tuple[float, float] = (0.2, 1.0),
        expect_outages: bool = False,
    ):
        self.username = username
        self.browser = Browser(base_url)
        self.stats = stats
        self.rng = random.Random(seed)
        self.pause = pause
        self.expect_outages = expect_outages
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            page = self.rng.choice(SUPERVISOR_PAGES)
            started = time.perf_counter()
            try:
                status, data, _ = self.browser.request("GET", page)
            except HttpError as exc:
                self.stats.error("supervisor_connection", f"{page}: {exc}", self.expect_outages)
                self.stop.wait(0.5)
                continue
            if status != 200:
                self.stats.error(
                    f"supervisor_{status}",
                    f"{self.username} {page}: {data.decode(errors='replace')[:300]}",
                )
            else:
                with self.stats.lock:
                    self.stats.read_ms.append((time.perf_counter() - started) * 1000)
                    self.stats.supervisor_reads += 1
            self.stop.wait(self.rng.uniform(*self.pause))

    def start(self) -> None:
        self.browser.sign_in(self.username)
        self.thread = threading.Thread(target=self.run, daemon=True, name=self.username)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(30)


def make_tablets(base_url: str, count: int, stats: Stats, seed: int = 7, **kwargs) -> list[Tablet]:
    tablets = []
    for i in range(count):
        username, branch = LOBBY_USERS[i % len(LOBBY_USERS)]
        tablets.append(Tablet(base_url, username, branch, stats, seed=seed * 1000 + i, **kwargs))
    return tablets


# --- counting on the server --------------------------------------------------------


@dataclass
class Counts:
    made: int = 0
    acked: int = 0
    stored: int = 0  # events of our devices on the server
    lost: list = field(default_factory=list)  # acknowledged, not on the server
    doubled: list = field(default_factory=list)  # one id or one (device, seq) stored twice
    unknown: list = field(default_factory=list)  # on the server, never made by a tablet
    unsent: list = field(default_factory=list)  # made, never acknowledged (after a drain)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.unknown)


def server_counts(database_url: str, tablets: list[Tablet], *, all_acked: bool) -> Counts:
    """Every acknowledged event exactly once on the server, and nothing it was never sent.

    `all_acked`: every event made must be acknowledged by now (after a drain).
    """
    from sqlalchemy import create_engine, text

    made: dict[str, dict] = {}
    acked: set[str] = set()
    rejected: set[str] = set()
    for tablet in tablets:
        with tablet.lock:
            made.update(tablet.made)
            acked |= tablet.acked
        rejected |= set(tablet.rejected)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, device_id, seq FROM event")).all()
    finally:
        engine.dispose()
    counts = Counts(made=len(made), acked=len(acked), stored=len(rows))
    per_id = Counter(r.id for r in rows)
    per_seq = Counter((r.device_id, r.seq) for r in rows)
    counts.doubled = [i for i, n in per_id.items() if n > 1] + [
        f"{d}#{s}" for (d, s), n in per_seq.items() if n > 1
    ]
    counts.lost = sorted(acked - set(per_id))
    counts.unknown = sorted(set(per_id) - set(made))
    # an event stored although the server rejected it, or stored under other content
    counts.unknown += sorted(rejected & set(per_id))
    if all_acked:
        counts.unsent = sorted(set(made) - acked - rejected)
    return counts


def sqlite_integrity(database_url: str) -> list[str]:
    """PRAGMA integrity_check and foreign_key_check; [] when both are clean."""
    import sqlite3

    path = database_url.split("sqlite:///", 1)[1]
    conn = sqlite3.connect(path)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
    finally:
        conn.close()
    return problems


def _norm(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


PROJECTION_TABLES = {
    # table: the columns that identify a row (surrogate ids left out)
    "visit": None,
    "visit_recommendation": "id",
    "referral": None,
    "subject": "created_at",
    "figure_day": None,
    "figure_subject": None,
}


# Referential checks that hold on both databases (the event table has no foreign key
# to its subject: the subject row is written with its first event, in one savepoint).
ORPHAN_QUERIES = {
    "events of no subject": "SELECT count(*) FROM event e WHERE NOT EXISTS "
    "(SELECT 1 FROM subject s WHERE s.id = e.subject_id)",
    "subjects with no event": "SELECT count(*) FROM subject s WHERE NOT EXISTS "
    "(SELECT 1 FROM event e WHERE e.subject_id = s.id)",
    "visits with no subject": "SELECT count(*) FROM visit v WHERE NOT EXISTS "
    "(SELECT 1 FROM subject s WHERE s.id = v.id AND s.kind = 'visit')",
    "visit subjects with no visit row": "SELECT count(*) FROM subject s WHERE s.kind = 'visit' "
    "AND NOT EXISTS (SELECT 1 FROM visit v WHERE v.id = s.id)",
    "referrals with no subject": "SELECT count(*) FROM referral r WHERE NOT EXISTS "
    "(SELECT 1 FROM subject s WHERE s.id = r.id)",
    "recommendations of no visit": "SELECT count(*) FROM visit_recommendation r WHERE NOT EXISTS"
    " (SELECT 1 FROM visit v WHERE v.id = r.visit_id)",
    "recommendations of no stored event": "SELECT count(*) FROM visit_recommendation r WHERE "
    "NOT EXISTS (SELECT 1 FROM event e WHERE e.id = "
    "r.event_id)",
}


def _snapshot(session) -> dict[str, Counter]:
    from sqlalchemy import text

    snap = {}
    for table, skip in PROJECTION_TABLES.items():
        # The tables are this module's own constants, not input.
        result = session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        keys = [k for k in result.keys() if k != skip]  # noqa: SIM118 - a Result, not a dict
        rows = Counter()
        for row in result.mappings():
            rows[tuple(_norm(row[k]) for k in keys)] += 1
        snap[table] = rows
    return snap


def check_projections(database_url: str, tablets: list[Tablet] | None = None) -> list[str]:
    """The read models agree with the events. Run while no server writes.

    1. Each visit of the tablets: a row; `closed` when a close was acknowledged,
       `waiting` otherwise (no greeting is ever undone here); each referral a row.
    2. Rebuilding every subject from its events (`app.events.rebuild`) and the
       supervisor's figures (`rebuild_figures`) changes no row of the read models.
    """
    from sqlalchemy import select, text

    from app.events import rebuild
    from app.extensions import db
    from app.models import Subject
    from app.supervisor.projection import rebuild_figures

    problems: list[str] = []
    app = make_app(database_url)
    with app.app_context():
        session = db.session
        if tablets is not None:
            events: dict[str, dict] = {}
            for tablet in tablets:
                with tablet.lock:
                    events.update({i: tablet.made[i] for i in tablet.acked})
            closes = defaultdict(int)
            visits, referrals = set(), set()
            for event in events.values():
                if event["type"] == "visit.greeted":
                    visits.add(event["subject_id"])
                elif event["type"] == "visit.closed":
                    closes[event["subject_id"]] += 1
                elif event["type"] == "referral.created":
                    referrals.add(event["subject_id"])
            status = dict(session.execute(text("SELECT id, status FROM visit")).all())
            for visit in visits:
                want = "closed" if closes[visit] else "waiting"
                if status.get(visit) != want:
                    problems.append(f"visit {visit}: {status.get(visit)}, expected {want}")
            known_referrals = set(session.execute(text("SELECT id FROM referral")).scalars())
            for referral in referrals - known_referrals:
                problems.append(f"referral {referral}: no row")
        for label, sql in ORPHAN_QUERIES.items():
            found = session.execute(text(sql)).scalar()
            if found:
                problems.append(f"{found} {label}")
        session.commit()
        before = _snapshot(session)
        ids = session.scalars(
            select(Subject.id).where(Subject.kind.in_(["visit", "referral"]))
        ).all()
        for subject_id in ids:
            rebuild(session.get(Subject, subject_id))
            session.flush()
            # A small identity map: the ORM's bulk deletes in the resets look through it.
            session.expunge_all()
        rebuilt = _snapshot(session)
        session.rollback()  # leave the read models as the server wrote them
        rebuild_figures()  # commits; compared below
        figures = _snapshot(session)
        for table in PROJECTION_TABLES:
            after = figures[table] if table.startswith("figure_") else rebuilt[table]
            if before[table] != after:
                only_before = list((before[table] - after).items())[:3]
                only_after = list((after - before[table]).items())[:3]
                problems.append(
                    f"{table} differs from a rebuild from the events: "
                    f"{sum((before[table] - after).values())} rows only as stored "
                    f"(e.g. {only_before}), {sum((after - before[table]).values())}"
                    f" only after the rebuild (e.g. {only_after})"
                )
        session.remove()
        db.engine.dispose()
    return problems


def check_pulls(database_url: str, tablets: list[Tablet]) -> list[str]:
    """Each tablet pulled every event of its branch up to its cursor, once, in order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    problems = []
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.id, e.position, b.code"
                    " FROM event e JOIN branch b ON b.id = e.branch_id"
                    " ORDER BY e.position"
                )
            ).all()
    finally:
        engine.dispose()
    for tablet in tablets:
        if not tablet.do_pull or tablet.start_cursor is None:
            continue
        first = int(tablet.start_cursor or 0)
        cursor = int(tablet.cursor or 0)
        want = [r.id for r in rows if r.code == tablet.branch and first < r.position <= cursor]
        if tablet.pulled != want:
            missing = set(want) - set(tablet.pulled)
            twice = [i for i, n in Counter(tablet.pulled).items() if n > 1]
            problems.append(
                f"{tablet.username}/{tablet.device_id[:8]} pulled {len(tablet.pulled)}"
                f" events, the server has {len(want)} in that range: "
                f"{len(missing)} missed, {len(twice)} twice"
            )
    return problems


def summary_lines(stats: Stats) -> list[str]:
    return [
        f"sync calls: {stats.batches} ({stats.failures} failed and resent, "
        f"{stats.answers_lost} answers dropped on purpose), envelopes posted "
        f"{stats.sent}, accepted {stats.accepted}, duplicate {stats.duplicate}",
        f"sync latency ms: p50 {pct(stats.sync_ms, 0.5):.0f}, p99 {pct(stats.sync_ms, 0.99):.0f},"
        f" max {max(stats.sync_ms, default=0):.0f}",
        f"reads: supervisor pages {stats.supervisor_reads}, lobby board {stats.board_reads}, "
        f"pulls {stats.pulls}, requests resent on a closed keep-alive connection "
        f"{stats.keepalive_retries}; read latency ms p50 {pct(stats.read_ms, 0.5):.0f}, "
        f"p99 {pct(stats.read_ms, 0.99):.0f}",
        f"errors: {sum(stats.errors.values())} {dict(stats.errors)}"
        + (f"; expected during outages: {dict(stats.expected)}" if stats.expected else ""),
    ] + [f"  {s}" for s in stats.error_samples[:10]]


# --- the soak ------------------------------------------------------------------------


@dataclass
class Report:
    stats: Stats
    counts: Counts | None = None
    problems: list = field(default_factory=list)  # integrity, projections, pulls
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(self.stats.errors.values())

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.counts is not None
            and self.counts.ok
            and not self.counts.unsent
            and not self.problems
        )

    def lines(self) -> list[str]:
        c = self.counts
        out = list(self.notes)
        if c:
            out.append(
                f"events made {c.made}, acknowledged {c.acked}, on the server {c.stored}: "
                f"lost {len(c.lost)}, doubled {len(c.doubled)}, unknown {len(c.unknown)}, "
                f"never acknowledged {len(c.unsent)}"
            )
        out += summary_lines(self.stats)
        out += [f"PROBLEM: {p}" for p in self.problems[:20]]
        out.append("PASS" if self.ok else "FAIL")
        return out


def _start_run(database_url: str, server_kind: str, log_path: str | None):
    """A fresh database and a started server: (stats, report, start time, server)."""
    stats = Stats()
    report = Report(stats)
    started = time.monotonic()
    prepare_database(database_url)
    server = Server(database_url, kind=server_kind, log_path=log_path)
    server.start()
    report.notes.append(
        f"server: {server.kind} on {server.url} (pids {server.pids()}); "
        f"database {database_url.split('@')[-1]}"
    )
    return stats, report, started, server


def run_soak(
    database_url: str,
    *,
    tablets: int = 20,
    seconds: float = 60,
    supervisors: int = 2,
    server_kind: str = "gunicorn",
    log_path: str | None = None,
    think: tuple[float, float] = (0.2, 1.0),
    lose_answers: float = 0.02,
    seed: int = 7,
    echo=print,
) -> Report:
    """N tablets syncing and supervisors reading for `seconds`; then count on the server."""
    stats, report, started, server = _start_run(database_url, server_kind, log_path)
    fleet = make_tablets(
        server.url, tablets, stats, seed=seed, think=think, lose_answers=lose_answers
    )
    readers = [
        Supervisor(server.url, SUPERVISORS[i % len(SUPERVISORS)], stats, seed=seed + i)
        for i in range(supervisors)
    ]
    try:
        for tablet in fleet:
            tablet.sign_in()
        for reader in readers:
            reader.start()
        for tablet in fleet:
            tablet.start()
        echo(f"{tablets} tablets and {supervisors} supervisors running for {seconds:.0f} s")
        t0 = time.monotonic()
        phases = {"setup": t0 - started}
        next_note = t0 + 30
        while time.monotonic() - t0 < seconds:
            time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))
            if time.monotonic() >= next_note:
                next_note += 30
                echo(
                    f"  {time.monotonic() - t0:.0f} s: {stats.accepted} accepted, "
                    f"{stats.batches} sync calls, {sum(stats.errors.values())} errors"
                )
        for tablet in fleet:
            tablet.stop_recording.set()
        for reader in readers:
            reader.finish()
        phases["run"] = time.monotonic() - t0
        drained = all([tablet.drain(timeout=120) for tablet in fleet])
        phases["drain"] = time.monotonic() - t0 - phases["run"]
        if not drained:
            report.problems.append("some outboxes did not empty within 120 s after the run")
        for tablet in fleet:
            tablet.pull(pages=10_000)
    finally:
        for tablet in fleet:
            tablet.stop_recording.set()
            tablet.stop_all.set()
        for reader in readers:
            reader.stop.set()
        server.kill()
    stats.keepalive_retries = sum(t.browser.retries for t in fleet)
    report.counts = server_counts(database_url, fleet, all_acked=True)
    stats.keepalive_retries += sum(r.browser.retries for r in readers)
    if database_url.startswith("sqlite"):
        report.problems += sqlite_integrity(database_url)
    report.problems += check_pulls(database_url, fleet)
    checks = time.monotonic()
    report.problems += check_projections(database_url, fleet)
    report.seconds = time.monotonic() - started
    phases["checks"] = time.monotonic() - checks
    report.notes.append("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    return report


# --- the crash ---------------------------------------------------------------------


def run_crash(
    database_url: str,
    *,
    cycles: int = 20,
    clients: int = 4,
    server_kind: str = "gunicorn",
    log_path: str | None = None,
    up: tuple[float, float] = (0.5, 3.0),
    think: tuple[float, float] = (0.05, 0.25),
    max_batch: int = 100,
    seed: int = 11,
    echo=print,
) -> Report:
    """kill -9 the server during sync `cycles` times; check after each kill and restart.

    Each cycle: clients send batches continuously; at a random moment while a
    sync call is in flight every server process gets SIGKILL. With the server
    down: every acknowledged event is stored exactly once, nothing unknown, the
    database passes its integrity check (SQLite: integrity_check,
    foreign_key_check) and the read models equal a rebuild from the events.
    Then the server restarts, the clients resend what was not acknowledged,
    and once all of that is acknowledged it is checked to be stored exactly once.
    """
    rng = random.Random(seed)
    stats, report, started, server = _start_run(database_url, server_kind, log_path)
    fleet = make_tablets(
        server.url,
        clients,
        stats,
        seed=seed,
        think=think,
        flush_every=(0.0, 0.05),
        max_batch=max_batch,
        expect_outages=True,
        board=False,
        lose_answers=0.01,
    )
    in_flight_kills = 0
    try:
        for tablet in fleet:
            tablet.sign_in()
        for tablet in fleet:
            tablet.start()
        for cycle in range(1, cycles + 1):
            time.sleep(rng.uniform(*up))
            deadline = time.monotonic() + 5
            while not any(t.in_flight for t in fleet) and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.06))  # about a sync call's time: before or after commit
            deadline = time.monotonic() + 5
            while not any(t.in_flight for t in fleet) and time.monotonic() < deadline:
                time.sleep(0.001)  # that call ended: kill during the next one
            during = any(t.in_flight for t in fleet)
            in_flight_kills += during
            server.kill()
            killed_at = time.monotonic()
            time.sleep(0.2)  # let the clients see the connection go
            counts = server_counts(database_url, fleet, all_acked=False)
            problems = []
            if database_url.startswith("sqlite"):
                problems += sqlite_integrity(database_url)
            problems += check_projections(database_url, None)
            unacked = set().union(*(t.pending() for t in fleet))
            checked_at = time.monotonic()
            server.start()
            up_at = time.monotonic()
            wait_until = time.monotonic() + 120
            while time.monotonic() < wait_until:
                if not (unacked & set().union(*(t.pending() for t in fleet))):
                    break
                time.sleep(0.05)
            else:
                problems.append(
                    f"cycle {cycle}: the events unacknowledged at the kill were "
                    "not acknowledged within 120 s of the restart"
                )
            after = server_counts(database_url, fleet, all_acked=False)
            problems += [f"cycle {cycle}: {p}" for p in _count_problems(after)]
            problems += [f"cycle {cycle} (server down): {p}" for p in _count_problems(counts)]
            report.problems += problems
            echo(
                f"  cycle {cycle}: killed {'during' if during else 'between'} sync calls; "
                f"{counts.stored} events stored, {counts.acked} acknowledged, {len(unacked)} "
                f"in flight or queued at the kill; after restart {after.acked} acknowledged; "
                f"checks {checked_at - killed_at:.1f} s, restart {up_at - checked_at:.1f} s, "
                f"resent in {time.monotonic() - up_at:.1f} s; "
                f"{'ok' if not problems else 'PROBLEMS: ' + '; '.join(problems)[:500]}"
            )
        for tablet in fleet:
            tablet.stop_recording.set()
        drained = all([tablet.drain(timeout=120) for tablet in fleet])
        if not drained:
            report.problems.append("some outboxes did not empty within 120 s after the last cycle")
        for tablet in fleet:
            tablet.pull(pages=10_000)
    finally:
        for tablet in fleet:
            tablet.stop_recording.set()
            tablet.stop_all.set()
        server.kill()
    report.notes.append(
        f"{cycles} kills, {in_flight_kills} with a sync call in flight; "
        f"{server.starts} server starts"
    )
    stats.keepalive_retries = sum(t.browser.retries for t in fleet)
    report.counts = server_counts(database_url, fleet, all_acked=True)
    if database_url.startswith("sqlite"):
        report.problems += sqlite_integrity(database_url)
    report.problems += check_pulls(database_url, fleet)
    report.problems += check_projections(database_url, fleet)
    report.seconds = time.monotonic() - started
    return report


def _count_problems(counts: Counts) -> list[str]:
    out = []
    if counts.lost:
        out.append(f"{len(counts.lost)} acknowledged events lost, e.g. {counts.lost[:3]}")
    if counts.doubled:
        out.append(f"{len(counts.doubled)} doubled, e.g. {counts.doubled[:3]}")
    if counts.unknown:
        out.append(f"{len(counts.unknown)} unknown, e.g. {counts.unknown[:3]}")
    return out
