"""Test clients and event envelopes: a client signed in as a demo user, and the
events a tablet would send. Shared by the tests (tests/conftest.py) and bench/fuzz_api.py.
"""

from __future__ import annotations

import re
import uuid

DEMO_PASSWORD = "test-pass-1234"

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class SignedIn:
    """A test client signed in as one user, which knows its CSRF token."""

    def __init__(self, client, username: str):
        self.client = client
        self.username = username
        page = client.get("/login")
        token = CSRF_META.search(page.get_data(as_text=True)).group(1)
        response = client.post(
            "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, f"sign-in as {username} failed"
        self.csrf = self.fresh_csrf()

    def fresh_csrf(self) -> str:
        page = self.client.get("/", follow_redirects=True)
        return CSRF_META.search(page.get_data(as_text=True)).group(1)

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, url, data=None, htmx=False, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("X-CSRFToken", self.csrf)
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data=data, headers=headers, **kwargs)

    def sync(self, events, **kwargs):
        return self.post(
            "/api/v1/sync", json={"device_id": "test-device", "events": events}, **kwargs
        )

    def pull(self, since: str = "", limit: int | None = None):
        query = f"?since={since}" + (f"&limit={limit}" if limit else "")
        return self.get(f"/api/v1/events{query}")


_seq = iter(range(1, 10**9))


def make_event(
    type: str,
    subject_id: str | None = None,
    payload: dict | None = None,
    *,
    branch: str = "demo",
    occurred_at: str = "2026-11-29T09:03:12.481+08:00",
    device_id: str = "device-a",
    seq: int | None = None,
    id: str | None = None,
) -> dict:
    """An event envelope as a tablet would send it."""
    return {
        "id": id or str(uuid.uuid4()),
        "type": type,
        "occurred_at": occurred_at,
        "subject_id": subject_id or str(uuid.uuid4()),
        "branch": branch,
        "device_id": device_id,
        "seq": seq if seq is not None else next(_seq),
        "payload": payload if payload is not None else {},
    }


def greeted(visit_id: str | None = None, **kwargs) -> dict:
    payload = kwargs.pop("payload", {"purpose": "cash"})
    return make_event("visit.greeted", visit_id or str(uuid.uuid4()), payload, **kwargs)
