"""The fault matrix of docs/sync-contract.md, in Chromium against a live server.

Every test counts on the server (straight from its database) that each event
recorded on the tablet arrived exactly once, under the right user.
"""

from __future__ import annotations

import json
import threading
import time

from .conftest import ready, record_visits, sign_in, wait_badge, wait_until

DRAINED = "Datang.pending().then(p => p.filter(e => e.status === 'pending').length === 0)"


def exactly_once(server_events, subjects, user="lobby1"):
    mine = [e for e in server_events("visit.greeted") if e[2] in set(subjects)]
    assert sorted(e[2] for e in mine) == sorted(subjects), "lost or doubled"
    assert {e[3] for e in mine} <= {user}
    return mine


def trace_outbox(page) -> None:
    """Keep, in the page, the outbox's status every 250 ms and the network events,
    so that a wait that times out (`wait_traced`) says what the tablet was doing."""
    page.evaluate("""() => {
        const t0 = performance.now(), trace = window.__outboxTrace = [];
        const at = () => Math.round(performance.now() - t0);
        ['online', 'offline'].forEach(name => window.addEventListener(name,
            () => trace.push([at(), name, navigator.onLine])));
        document.addEventListener('datang:paused', e => trace.push([at(), 'paused', e.detail]));
        document.addEventListener('visibilitychange',
            () => trace.push([at(), 'visibility', document.visibilityState]));
        setInterval(() => {
            const s = Datang.status();
            trace.push([at(), navigator.onLine, s.syncing, s.attempt, s.lastError, s.pending,
                        s.nextTry && s.nextTry - Date.now()]);
        }, 250);
    }""")


def wait_traced(page, expression: str, timeout: float) -> None:
    try:
        wait_until(page, expression, timeout=timeout)
    except AssertionError as timed_out:
        trace = page.evaluate("window.__outboxTrace")
        raise AssertionError(
            f"{timed_out} at {page.url}; [ms, onLine, syncing, attempt, lastError, pending,"
            f" next try in ms] or [ms, event, ...]: {trace}"
        ) from None


def test_offline_work_then_reconnect(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 5)
    wait_badge(page, pending=5, rejected=0, state="offline")
    time.sleep(0.5)
    assert not [e for e in server_events() if e[2] in subjects]
    page.context.set_offline(False)  # the browser's "online" event flushes
    wait_until(page, DRAINED)
    exactly_once(server_events, subjects)
    wait_badge(page, pending=0)


def test_reload_and_new_page_offline(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.evaluate("Datang.pwa.warm()")  # what start-up does for screens not yet opened
    page.context.set_offline(True)
    subjects = record_visits(page, 3)
    page.reload()  # from the service worker
    ready(page)
    assert page.evaluate("navigator.onLine") is False
    wait_badge(page, pending=3, state="offline")
    page.goto("/checklist")  # never opened on this tablet, cached at start-up
    ready(page)
    assert page.locator('[data-testid="offline-page"]').count() == 0
    wait_badge(page, pending=3)
    other = page.context.new_page()  # a new tab, offline
    other.goto("/lobby")
    ready(other)
    assert len(other.evaluate("Datang.pending()")) == 3
    page.context.set_offline(False)
    wait_until(page, DRAINED)
    exactly_once(server_events, subjects)


def test_browser_restart_offline(playwright, live_server, tmp_path, server_events):
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    profile = str(tmp_path / "profile")

    def launch():
        return playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            base_url=live_server.url,
        )

    context = launch()
    page = context.new_page()
    sign_in(page, live_server.url, "lobby1")
    ready(page)
    context.set_offline(True)
    subjects = record_visits(page, 3)
    context.close()  # the browser is closed with entries waiting
    context = launch()
    try:
        context.set_offline(True)
        page = context.new_page()
        page.goto("/lobby")  # from the service worker
        ready(page)
        wait_badge(page, pending=3)
        context.set_offline(False)
        wait_until(page, DRAINED)
        exactly_once(server_events, subjects)
    finally:
        context.close()


def test_same_batch_sent_twice(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    bodies = []

    def lose_the_answer(route):
        # The server stores the batch; its answer is lost, so the tablet sends it again.
        response = route.fetch()
        bodies.append(route.request.post_data)
        if len(bodies) == 1:
            route.fulfill(status=503, body="upstream timeout")
        else:
            route.fulfill(response=response)

    page.context.set_offline(True)
    subjects = record_visits(page, 4)
    page.context.route("**/api/v1/sync", lose_the_answer)
    page.context.set_offline(False)
    wait_until(page, DRAINED)
    assert len(bodies) >= 2 and json.loads(bodies[0])["events"] == json.loads(bodies[1])["events"]
    exactly_once(server_events, subjects)
    # And once more by hand: every event of the batch is a duplicate now.
    page.context.unroute("**/api/v1/sync")
    statuses = page.evaluate(
        """async body => {
        const r = await fetch('/api/v1/sync', {method: 'POST', body, headers: {
            'Content-Type': 'application/json',
            'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content}});
        return (await r.json()).results.map(x => x.status);
    }""",
        bodies[0],
    )
    assert statuses == ["duplicate"] * 4
    exactly_once(server_events, subjects)


def test_connection_cut_mid_batch(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 50)
    calls = []

    def cut(route):
        calls.append(1)
        if len(calls) == 1:
            route.fetch()  # the server processed the batch...
            route.abort("connectionreset")  # ...and the connection dropped on the way back
        else:
            route.continue_()

    page.context.route("**/api/v1/sync", cut)
    page.context.set_offline(False)
    wait_until(page, DRAINED, timeout=15)
    assert len(calls) >= 2
    exactly_once(server_events, subjects)


def test_server_failing_for_a_while(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 6)
    answers = [
        dict(status=503, body="overloaded"),
        dict(
            status=200, content_type="text/html", body="<html>Wi-Fi sign-in</html>"
        ),  # captive portal
        dict(status=302, headers={"Location": "/login"}),  # a redirect
    ]
    calls = []

    def failing(route):
        calls.append(1)
        if answers:
            route.fulfill(**answers.pop(0))
        else:
            route.continue_()

    page.context.route("**/api/v1/sync", failing)
    page.context.set_offline(False)
    wait_until(page, "Datang.status().lastError === 'server'")
    wait_badge(page, pending=6)  # nothing deleted by a failed answer
    wait_until(page, DRAINED, timeout=15)  # the back-off timer alone gets there
    assert len(calls) >= 4
    exactly_once(server_events, subjects)


def test_back_on_the_network_the_back_off_starts_afresh(tablet, server_events):
    """Failures while the network was away say nothing of the server: a tablet that
    comes back does not keep their back-off (it made the test above wait past its
    15 s when going offline was seen late and the first entry's send failed)."""
    page = tablet("lobby1")
    ready(page)
    trace_outbox(page)
    page.context.route("**/api/v1/sync", lambda route: route.abort("internetdisconnected"))
    subjects = record_visits(page, 1)
    wait_traced(page, "Datang.status().attempt >= 2", timeout=10)  # two failed sends
    page.context.set_offline(True)
    page.context.unroute("**/api/v1/sync")
    page.context.route("**/api/v1/sync", lambda route: route.fulfill(status=503, body="busy"))
    page.context.set_offline(False)
    wait_traced(page, "Datang.status().lastError === 'server'", timeout=20)
    # The first failure since the network came back: the first step of the back-off.
    assert page.evaluate("Datang.status().attempt") == 1
    page.context.unroute("**/api/v1/sync")
    wait_until(page, DRAINED, timeout=10)
    exactly_once(server_events, subjects)


def test_server_killed_and_restarted_mid_sync(tablet, live_server, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 300)
    killed = []

    def kill_during_request(route):
        if not killed:
            killed.append(1)
            threading.Timer(0.05, live_server.kill).start()  # while it writes the batch
        route.continue_()

    page.context.route("**/api/v1/sync", kill_during_request)
    page.context.set_offline(False)
    wait_until(page, "Datang.status().lastError !== null", timeout=15)
    live_server.start()
    page.evaluate("Datang.syncNow()")  # "sync now", rather than wait out the back-off
    wait_until(page, DRAINED, timeout=15)
    exactly_once(server_events, subjects)


def test_session_expires_offline_then_sign_in(tablet, live_server, server_events):
    page = tablet("lobby1")
    ready(page)
    # The outbox's own path (prompt, link back): the board's poll would hear the 401
    # too and take the page to the sign-in form itself (tests/e2e/test_session_end.py).
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")
    page.context.set_offline(True)
    subjects = record_visits(page, 3)
    page.context.clear_cookies()  # the session ends while the tablet is offline
    page.context.set_offline(False)
    prompt = page.locator('[data-testid="signin-prompt"]')
    prompt.wait_for(state="visible")
    wait_badge(page, pending=3, state="paused")
    assert not [e for e in server_events() if e[2] in subjects]
    link = page.locator('[data-testid="signin-link"]')
    assert "/login?next=%2Flobby" in link.get_attribute("href")
    link.click()
    page.fill("input[name=username]", "lobby1")
    page.fill("input[name=password]", "test-pass-1234")
    page.click("button[type=submit]")
    page.wait_for_url("**/lobby")
    ready(page)
    wait_until(page, DRAINED)
    exactly_once(server_events, subjects)
    assert page.locator('[data-testid="signin-prompt"]').is_hidden()


def test_two_tablets_one_branch(tablet, server_events):
    pages = {name: tablet(name) for name in ("lobby1", "lobby2")}
    for page in pages.values():
        ready(page)
        page.evaluate("""() => { window.seen = new Set();
            document.addEventListener('datang:synced', e =>
                (e.detail.events || []).forEach(ev => window.seen.add(ev.subject_id))); }""")
    pages["lobby2"].context.set_offline(True)  # one works offline for a while
    made = {name: record_visits(page, 3, "transfer") for name, page in pages.items()}
    pages["lobby2"].context.set_offline(False)
    for page in pages.values():
        wait_until(page, DRAINED)
    for name, other in (("lobby1", "lobby2"), ("lobby2", "lobby1")):
        page = pages[name]
        page.evaluate("Datang.syncNow()")
        wait_until(page, "ids => ids.every(id => window.seen.has(id))", made[other])
    for name in pages:
        exactly_once(server_events, made[name], user=name)


def test_one_bad_event_in_a_good_batch(tablet, server_events):
    page = tablet("lobby1")
    ready(page)
    page.context.set_offline(True)
    good = record_visits(page, 2)
    page.evaluate(
        "Datang.record('visit.closed', Datang.newId(), {outcome: 'served'})"
    )  # no such visit
    good += record_visits(page, 2)
    page.context.set_offline(False)
    wait_until(page, DRAINED)
    wait_badge(page, rejected=1, pending=0)
    exactly_once(server_events, good)
    assert not server_events("visit.closed")
    page.click('[data-testid="sync-status"]')
    entry = page.locator('[data-testid="rejected-entry"]')
    entry.wait_for(state="visible")
    assert entry.locator('[data-testid="rejected-reason"]').inner_text().strip()
    entry.locator('[data-testid="discard-entry"]').click()
    wait_badge(page, rejected=0)
    assert page.evaluate("Datang.pending()") == []
