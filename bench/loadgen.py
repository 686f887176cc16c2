"""Load-generation pieces shared by the server benches (nothing here imports tests/).

- `add_branches`: more branches, each with its own staff, through the ORM.
- `sign_in_all`: one session (cookie, CSRF token) per user, over HTTP, in parallel.
- `Client`: a small asyncio HTTP/1.1 client on keep-alive connections, cheap
  enough that one Python process can keep a thousand simulated devices on
  schedule (urllib or requests would need a core of their own).
- `Latencies`: answers counted by kind, with percentiles.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BENCH_PASSWORD_HASH = "pbkdf2:sha256:1000"  # thousands of sign-ins: scrypt would take minutes


def add_branches(url: str, count: int, roles: dict[str, str], password: str) -> list[dict]:
    """`count` branches `f0001`..., each with one user per role (`roles`: prefix -> role value).

    Returns [{"code": ..., "users": {prefix: username}}] in order. Idempotent per code.
    """
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from app import create_app
    from app.extensions import db
    from app.models import Branch, Role, User

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    password_hash = generate_password_hash(password, method=BENCH_PASSWORD_HASH)
    out = []
    with app.app_context():
        known = set(db.session.scalars(select(Branch.code)))
        for i in range(1, count + 1):
            code = f"f{i:04d}"
            users = {prefix: f"{prefix}-{code}" for prefix in roles}
            out.append({"code": code, "users": users})
            if code in known:
                continue
            branch = Branch(code=code, name=f"网点{i}", name_en=f"Branch {i}")
            db.session.add(branch)
            for prefix, role in roles.items():
                db.session.add(
                    User(
                        username=users[prefix],
                        display_name=users[prefix],
                        password_hash=password_hash,
                        role=Role(role),
                        branches=[branch],
                    )
                )
            if i % 200 == 0:
                db.session.commit()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return out


def sign_in_all(
    base: str, users: list[tuple[str, str]], password: str, workers: int = 8
) -> dict[str, tuple[str, str]]:
    """username -> (Cookie header, CSRF token), each signed in over HTTP.

    `users`: (username, the page to read the CSRF token from: their home).
    """
    from server_bench import sign_in

    with ThreadPoolExecutor(workers) as pool:
        sessions = pool.map(lambda user: sign_in(base, user[0], password, user[1]), users)
        return dict(zip((name for name, _page in users), sessions, strict=True))


@dataclass
class Latencies:
    """Latencies (ms) and errors by kind of request."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def add(self, kind: str, ms: float, ok: bool, what: str = "") -> None:
        self.by_kind.setdefault(kind, []).append(ms)
        if not ok:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.first_error = self.first_error or f"{kind}: {what}"

    @staticmethod
    def percentile(values: list[float], p: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    def all(self) -> list[float]:
        return [ms for values in self.by_kind.values() for ms in values]


class Client:
    """Requests over a pool of keep-alive connections to one server.

    A request waits for a free connection like a browser's would; its latency
    is counted from when it was due (the schedule), so a server that falls
    behind shows in the figures instead of slowing the load down.
    """

    def __init__(self, base: str, connections: int, user_agent: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.user_agent = user_agent
        self.pool: asyncio.Queue = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(None)  # opened on first use

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        conn = await self.pool.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            lines = [
                f"{method} {path} HTTP/1.1",
                f"Host: {self.host}:{self.port}",
                f"User-Agent: {self.user_agent}",
                f"Content-Length: {len(body)}",
                *(f"{k}: {v}" for k, v in headers.items()),
            ]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            data = await reader.readexactly(int(match.group(1))) if match else b""
            if re.search(rb"(?i)\r\nconnection:\s*close", head):
                writer.close()
                conn = None
            return status, data
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            if conn is not None:
                conn[1].close()
            conn = None
            raise
        finally:
            self.pool.put_nowait(conn)

    async def timed(
        self,
        stats: Latencies,
        kind: str,
        due: float,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes = b"",
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes]:
        try:
            status, data = await self.request(method, path, headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            stats.add(kind, (time.monotonic() - due) * 1000, False, repr(exc))
            return 0, b""
        stats.add(kind, (time.monotonic() - due) * 1000, status in expect, str(status))
        return status, data
