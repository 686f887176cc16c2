"""The outbox's own rules: entries bound to their user, one flush across tabs,
a stale CSRF token, a batch split on 413."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from .conftest import outbox_size, ready, record_visits, sign_in, sign_out, wait_badge, wait_until

DRAINED = "Datang.pending().then(p => p.filter(e => e.status === 'pending').length === 0)"


def greeted(server_events, subjects):
    return sorted((e[2], e[3]) for e in server_events("visit.greeted") if e[2] in set(subjects))


def quiet(page) -> None:
    """No request left in flight behind the page: polling stopped, warm-up and sync done
    (each evaluate waits for its promise: the worker's answer, the flush's end)."""
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")
    page.evaluate("Datang.pwa.warm()")
    page.evaluate("Datang.syncNow()")


def test_another_user_never_sends_or_sees_the_first_users_entries(
    tablet, live_server, server_events
):
    page = tablet("lobby1")
    ready(page)
    page.context.route("**/api/v1/sync", lambda route: route.abort())
    first = record_visits(page, 2)
    quiet(page)
    sign_out(page)  # lobby1 leaves with two entries unsent
    sign_in(page, live_server.url, "lobby2")
    ready(page)
    page.context.unroute("**/api/v1/sync")
    assert page.evaluate("Datang.pending()") == []
    wait_badge(page, pending=0)
    second = record_visits(page, 1)
    wait_until(page, DRAINED)
    page.evaluate("Datang.syncNow()")
    assert outbox_size(page) == 2  # lobby1's entries: kept, not sent, not shown
    assert greeted(server_events, first + second) == [(second[0], "lobby2")]

    # Let background requests finish first: an answer that arrives after the sign-out
    # re-sets the old session cookie (see the report on SESSION_REFRESH_EACH_REQUEST).
    quiet(page)
    sign_out(page)
    sign_in(page, live_server.url, "lobby1")  # lobby1 is back: their entries go, as theirs
    ready(page)
    wait_until(page, DRAINED)
    assert outbox_size(page) == 0
    assert greeted(server_events, first) == sorted((s, "lobby1") for s in first)


def test_a_page_left_open_does_not_send_under_the_next_users_session(
    tablet, live_server, server_events
):
    page = tablet("lobby1")
    ready(page)
    # Stop the board's polling: its 401 would send this page to the sign-in form
    # (htmx's HX-Redirect) before it records anything.
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")
    wait_until(page, "Datang.status().lastSync !== null")  # start-up sync done: the page is quiet
    other_tab = page.context.new_page()  # someone signs in as lobby2 in another tab
    sign_out(other_tab)
    sign_in(other_tab, live_server.url, "lobby2")
    subjects = record_visits(page, 2)  # ...while lobby1's page is still open
    page.locator('[data-testid="signin-prompt"]').wait_for(state="visible")
    wait_badge(page, pending=2, state="paused")
    assert greeted(server_events, subjects) == []


def test_stale_csrf_token_is_renewed(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.evaluate("document.querySelector('meta[name=csrf-token]').content = 'stale'")
    subjects = record_visits(page, 2)
    wait_until(page, DRAINED)
    assert page.evaluate("document.querySelector('meta[name=csrf-token]').content") != "stale"
    assert greeted(server_events, subjects) == sorted((s, "lobby1") for s in subjects)


def test_batch_split_on_413(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 8)
    sizes, sent_at = [], []

    def too_large_once(route):
        body = json.loads(route.request.post_data)
        sizes.append(len(body["events"]))
        sent_at.append(datetime.fromisoformat(body["sent_at"]))
        if len(sizes) == 1:
            route.fulfill(
                status=413,
                content_type="application/json",
                body='{"error": {"code": "batch_too_large", "message": "too large"}}',
            )
        else:
            route.continue_()

    page.context.route("**/api/v1/sync", too_large_once)
    page.context.set_offline(False)
    wait_until(page, DRAINED)
    assert sizes[:3] == [8, 4, 4]
    # Every batch carries the device's clock at sending, with its offset (RFC 3339).
    assert all(abs(moment - datetime.now(UTC)) < timedelta(minutes=1) for moment in sent_at)
    assert all(moment.utcoffset() is not None for moment in sent_at)
    assert greeted(server_events, subjects) == sorted((s, "lobby1") for s in subjects)


def test_one_flush_at_a_time_across_tabs(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 40)
    second = page.context.new_page()
    second.goto("/lobby")
    ready(second)
    sent, in_flight, most = [], [0], [0]

    def slow(route):
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        sent.extend(e["id"] for e in json.loads(route.request.post_data)["events"])
        response = route.fetch()
        time.sleep(0.3)
        in_flight[0] -= 1
        route.fulfill(response=response)

    page.context.route("**/api/v1/sync", slow)
    page.context.set_offline(False)  # both tabs hear "online" and want to flush
    second.evaluate("Datang.syncNow()")
    wait_until(page, DRAINED)
    wait_badge(second, pending=0)
    assert most[0] == 1 and len(sent) == len(set(sent)) == 40
    assert greeted(server_events, subjects) == sorted((s, "lobby1") for s in subjects)


def test_a_tab_of_another_user_busy_syncing_does_not_hold_this_one_back(tablet, live_server):
    """The cross-tab sync lock is per user: the holder sends only its own user's entries."""
    page = tablet("lobby1")
    ready(page)
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")
    wait_until(page, "Datang.status().lastSync !== null")
    other_tab = page.context.new_page()
    held = []
    other_tab.route(
        "**/api/v1/events*", lambda route: held.append(route)
    )  # lobby2's flush waits in its pull
    token = page.evaluate("document.querySelector('meta[name=csrf-token]').content")
    other_tab.request.post("/logout", form={"csrf_token": token})
    sign_in(other_tab, live_server.url, "lobby2")
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        other_tab.wait_for_timeout(50)  # lets Playwright hand over the request
    assert held, "lobby2's tab never started its sync"
    record_visits(page, 2)  # lobby1's page must try now (and hear 409)
    page.locator('[data-testid="signin-prompt"]').wait_for(state="visible", timeout=10000)
    wait_badge(page, pending=2, state="paused")
    for route in held:
        route.continue_()
