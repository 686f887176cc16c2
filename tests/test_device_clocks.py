"""Device clocks (issue 13): the batch's `sent_at` corrects each event's time.

The server keeps the device's own `occurred_at` and the time corrected by the
device's skew (server clock minus `sent_at`); folds, figures and lateness use
the corrected one; an event more than 10 minutes ahead of the server's clock
is rejected `clock_ahead`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.checklist.inventory import generate_items, run_id
from app.events import format_time
from app.extensions import db
from app.models import Branch, ChecklistRun, Event, Visit

from .conftest import greeted, make_event

# The server's clock, fixed (app/clock.py): 21:30 in Shanghai.
SERVER_NOW = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)


@pytest.fixture
def server_clock(app):
    app.config["CHECKLIST_NOW"] = SERVER_NOW
    return SERVER_NOW


def send(client, events, sent_at: datetime | str | None = None, **body):
    if isinstance(sent_at, datetime):
        sent_at = format_time(sent_at)
    if sent_at is not None:
        body["sent_at"] = sent_at
    return client.post("/api/v1/sync", json={"device_id": "tablet-x", "events": events, **body})


def results(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def stored(app, event_id: str) -> Event:
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.id == event_id))
        db.session.expunge(event)
        return event


def visit_of(app, visit_id: str) -> Visit:
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        db.session.expunge(visit)
        return visit


def test_a_batch_delayed_by_the_network_keeps_the_tablets_own_order(app, server_clock, lobby1):
    """Two batches of one tablet with a right clock, the first 2 s on the way, the next
    10 ms: the skews measured differ by the delays, and the taps 100 ms apart keep
    their order (the device's times stand within the dead band)."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    tapped = SERVER_NOW - timedelta(seconds=5)
    one = greeted(first, occurred_at=format_time(tapped))
    two = greeted(second, occurred_at=format_time(tapped + timedelta(milliseconds=100)))
    send(lobby1, [one], SERVER_NOW - timedelta(seconds=2))
    send(lobby1, [two], SERVER_NOW - timedelta(milliseconds=10))
    assert visit_of(app, first).greeted_at < visit_of(app, second).greeted_at
    assert stored(app, one["id"]).occurred_at == tapped


@pytest.mark.parametrize(
    "skew",
    [timedelta(days=2), timedelta(hours=-3), timedelta(0)],
    ids=["two-days-ahead", "three-hours-behind", "right"],
)
def test_a_tablet_clock_is_corrected_by_its_skew(app, server_clock, lobby1, skew):
    """A visit greeted 20 and closed 5 minutes ago, by a tablet whose clock is off by `skew`."""
    tablet_now = SERVER_NOW + skew
    visit = str(uuid.uuid4())
    greet = greeted(visit, occurred_at=format_time(tablet_now - timedelta(minutes=20)))
    close = make_event(
        "visit.closed",
        visit,
        {"outcome": "served"},
        occurred_at=format_time(tablet_now - timedelta(minutes=5)),
    )
    assert [r["status"] for r in results(send(lobby1, [greet, close], tablet_now))] == [
        "accepted",
        "accepted",
    ]
    event = stored(app, greet["id"])
    assert event.occurred_at == SERVER_NOW - timedelta(minutes=20)
    assert event.device_occurred_at == tablet_now - timedelta(minutes=20)
    folded = visit_of(app, visit)
    assert folded.greeted_at == SERVER_NOW - timedelta(minutes=20)
    assert folded.closed_at == SERVER_NOW - timedelta(minutes=5)
    # The pull gives the envelope as the tablet sent it, and the corrected time beside.
    pulled = {e["id"]: e for e in lobby1.pull(limit=1000).get_json()["events"]}[greet["id"]]
    assert pulled["occurred_at"] == format_time(tablet_now - timedelta(minutes=20))
    assert pulled["corrected_at"] == format_time(SERVER_NOW - timedelta(minutes=20))


def test_without_sent_at_a_fast_clock_is_refused_and_a_slow_one_stands(app, server_clock, lobby1):
    visit = str(uuid.uuid4())
    slow = greeted(visit, occurred_at=format_time(SERVER_NOW - timedelta(hours=3)))
    nine_ahead = make_event(
        "visit.engaged", visit, {}, occurred_at=format_time(SERVER_NOW + timedelta(minutes=9))
    )
    eleven_ahead = make_event(
        "visit.engaged", visit, {}, occurred_at=format_time(SERVER_NOW + timedelta(minutes=11))
    )
    got = results(send(lobby1, [slow, nine_ahead, eleven_ahead]))
    assert [r["status"] for r in got] == ["accepted", "accepted", "rejected"]
    assert got[2]["error"]["code"] == "clock_ahead"
    assert stored(app, slow["id"]).occurred_at == SERVER_NOW - timedelta(hours=3)


def test_a_visit_closed_in_2099_never_wins_the_fold(app, lobby1):
    visit = str(uuid.uuid4())
    now = datetime.now(UTC)
    far = make_event(
        "visit.closed", visit, {"outcome": "walked_away"}, occurred_at="2099-01-01T09:00:00+08:00"
    )
    got = results(send(lobby1, [greeted(visit, occurred_at=format_time(now)), far]))
    assert got[1]["status"] == "rejected" and got[1]["error"]["code"] == "clock_ahead"
    # Also when the tablet says its clock is right (sent_at 2099 would be read as a skew).
    got = results(send(lobby1, [far], now))
    assert got[0]["error"]["code"] == "clock_ahead"
    close = make_event("visit.closed", visit, {"outcome": "served"}, occurred_at=format_time(now))
    assert results(send(lobby1, [close], now))[0]["status"] == "accepted"
    assert visit_of(app, visit).outcome == "served"


def test_a_clock_ahead_message_is_translated(app, lobby1):
    far = greeted(occurred_at="2099-01-01T09:00:00+08:00")
    message = results(send(lobby1, [far]))[0]["error"]["message"]
    assert "服务器时钟" in message


def test_a_sign_off_at_0830_by_the_tablet_but_sent_at_2130_is_late(app, server_clock, lobby1):
    """A tablet 13 hours slow cannot date the morning's sign-off on time."""
    day = SERVER_NOW.astimezone(timezone(timedelta(hours=8))).date()
    tablet_now = datetime.fromisoformat(f"{day}T08:30:00+08:00")
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == "demo"))
        items = generate_items(branch)
    run = run_id("demo", day)
    marks = [
        make_event(
            "checklist.item_recorded",
            run,
            {
                "day": day.isoformat(),
                "item_id": i["id"],
                "status": "ok",
                **({"count": 50} if i["kind"] == "leaflet" else {}),
            },
            occurred_at=format_time(tablet_now - timedelta(minutes=10)),
        )
        for i in items
    ]
    sign = make_event(
        "checklist.signed_off", run, {"day": day.isoformat()}, occurred_at=format_time(tablet_now)
    )
    assert {r["status"] for r in results(send(lobby1, marks + [sign], tablet_now))} == {"accepted"}
    with app.app_context():
        checked = db.session.get(ChecklistRun, run)
        assert checked.late and checked.signed_at == SERVER_NOW
    # The tablet's own time is kept beside (the audit log shows it).
    assert stored(app, sign["id"]).device_occurred_at == tablet_now


def test_a_batch_sent_again_with_another_sent_at_is_a_duplicate(app, server_clock, lobby1):
    event = greeted(occurred_at=format_time(SERVER_NOW - timedelta(minutes=1)))
    assert results(send(lobby1, [event], SERVER_NOW))[0]["status"] == "accepted"
    # The first answer was lost; the tablet sends the same entry a minute later.
    later = SERVER_NOW + timedelta(minutes=1)
    assert results(send(lobby1, [event], later))[0]["status"] == "duplicate"
    assert results(send(lobby1, [event]))[0]["status"] == "duplicate"
    changed = dict(event, occurred_at=format_time(SERVER_NOW - timedelta(minutes=2)))
    assert results(send(lobby1, [changed], SERVER_NOW))[0]["error"]["code"] == "id_conflict"


@pytest.mark.parametrize(
    "sent_at",
    [
        "yesterday",
        "2026-11-27 21:30",
        1732700000,
        "0001-01-01T00:00:00+01:00",
        "2026-02-30T10:00:00Z",
        "2026-11-27T13:30:00",
    ],
    ids=["words", "no-offset", "number", "out-of-calendar", "no-such-day", "naive"],
)
def test_a_malformed_sent_at_fails_the_batch(app, lobby1, sent_at):
    response = send(lobby1, [greeted()], sent_at)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_batch"
    with app.app_context():
        assert db.session.scalar(select(Event.id)) is None


def test_a_skew_that_leaves_the_calendar_is_refused_not_a_500(app, lobby1):
    event = greeted(occurred_at="9999-12-31T12:00:00Z")
    got = results(send(lobby1, [event, greeted()], "2000-01-01T00:00:00Z"))
    assert got[0]["status"] == "rejected" and got[0]["error"]["code"] == "invalid_envelope"


def test_forms_posted_online_use_the_servers_clock(app, server_clock, sign_in):
    teller = sign_in("teller1")
    response = teller.post(
        "/referrals", data={"to": "wealth", "purpose": "wealth", "consent": "yes"}
    )
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.type == "referral.created"))
        assert event.occurred_at == event.device_occurred_at == SERVER_NOW
        assert event.device_id.startswith("server:")


def test_the_audit_log_shows_the_devices_own_time(app, server_clock, lobby1, sign_in):
    tablet_now = SERVER_NOW + timedelta(days=2)
    event = greeted(occurred_at=format_time(tablet_now))
    assert results(send(lobby1, [event], tablet_now))[0]["status"] == "accepted"
    page = sign_in("admin").get("/admin/audit?lang=en").get_data(as_text=True)
    row = page[page.index(f'data-event-id="{event["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert "2026-11-29 21:30:00" in row  # the tablet's clock, in the branch's zone
    assert "2026-11-27 21:30:00" in row  # the server's view of it
