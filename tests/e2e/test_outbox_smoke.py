"""The outbox end to end in Chromium: a recorded event reaches the server once."""

from .conftest import wait_until


def server_events(page, live_server):
    return page.evaluate("fetch('/api/v1/events').then(r => r.json())")["events"]


def test_recorded_event_reaches_server(tablet, live_server):
    page = tablet("lobby1")
    assert page.url.endswith("/lobby")
    wait_until(page, "window.Datang !== undefined")
    subject = page.evaluate("Datang.newId()")
    page.evaluate(
        "id => Datang.record('visit.greeted', id, {purpose: 'cash', ticket: 'A7'})", subject
    )
    wait_until(page, "Datang.pending().then(p => p.length === 0)")
    events = server_events(page, live_server)
    assert [e["subject_id"] for e in events] == [subject]
    assert events[0]["payload"] == {"purpose": "cash", "ticket": "A7"}
