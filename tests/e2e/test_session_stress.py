"""Sessions ending again and again with entries waiting: none is lost, none counted twice.

50 cycles on one tablet: record offline, then the session ends (signed out, just as the
outbox starts sending; or idle on the server, heard of by the next sync), and the same
person or another signs in. Every entry must reach the server exactly once, under the
user who made it.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from .conftest import (
    move_sign_in,
    outbox_size,
    ready,
    record_visits,
    sign_in,
    sign_out,
    wait_badge,
    wait_until,
)

CYCLES = 50
# Who signs in next: the same person twice, then the other one.
USERS = ["lobby1", "lobby1", "lobby2", "lobby2", "lobby1", "lobby2"]
DRAINED = "Datang.pending().then(p => p.filter(e => e.status === 'pending').length === 0)"


def loaded(page) -> None:
    """The tablet page's outbox is up; its board does not poll (a poll's 401 would take
    the page to the sign-in form on its own, in the middle of a step)."""
    wait_until(
        page,
        "document.body.dataset.user !== undefined && window.Datang !== undefined"
        " && window.Datang.pwa !== undefined",
    )
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")


def test_fifty_sessions_ending_with_entries_waiting(
    tablet, live_server, database_url, server_events
):
    started = time.monotonic()
    page = tablet(USERS[0])
    ready(page)
    made: dict[str, str] = {}  # subject -> the user who recorded it
    user = USERS[0]
    for cycle in range(CYCLES):
        loaded(page)
        page.context.set_offline(True)
        made.update((subject, user) for subject in record_visits(page, 2))
        if cycle % 2:
            # Idle on the server: the sync the network brings back is answered 401.
            move_sign_in(database_url, user, last_seen_at=timedelta(hours=2))
            page.context.set_offline(False)
            wait_badge(page, state="paused")
        else:
            # Signed out just as the outbox starts sending (the "online" event).
            page.context.set_offline(False)
            sign_out(page)
        user = USERS[(cycle + 1) % len(USERS)]
        sign_in(page, live_server.url, user)

    loaded(page)  # each comes back once more to send the rest
    wait_until(page, DRAINED)
    sign_out(page)
    sign_in(page, live_server.url, "lobby2" if user == "lobby1" else "lobby1")
    loaded(page)
    wait_until(page, DRAINED)
    assert outbox_size(page) == 0

    stored = [(e[2], e[3]) for e in server_events("visit.greeted")]
    counts = Counter(subject for subject, _ in stored)
    assert len(made) == 2 * CYCLES
    assert {subject: n for subject, n in counts.items() if n != 1} == {}
    assert dict(stored) == made
    print(f"\nSTRESS: {CYCLES} cycles, {len(made)} entries, {time.monotonic() - started:.0f} s")
