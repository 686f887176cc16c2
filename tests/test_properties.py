"""Property: the order, repetition and batching of arrival never change the result.

A few visits, each a `visit.greeted` and some `visit.closed` corrections with
various clocks, devices and counters, reach the server in any interleaving
(a visit's greeting before its other events, as a tablet sends them), with
repeats and split into batches of any size. The visits and the number of
stored events must equal those of sending every event once, in order.

Each example uses fresh ids, so one app and database serve them all; the
reference run uses a second copy of the events under other ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, Subject, Visit

BASE = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
OFFSETS = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]

close_spec = st.fixed_dictionaries(
    {
        "minute": st.integers(min_value=-5, max_value=60),  # a tablet's clock may run behind
        "device": st.sampled_from(["device-a", "device-b", "device-c"]),
        "payload": st.fixed_dictionaries(
            {"outcome": st.sampled_from(["served", "walked_away", "referred"])},
            optional={
                "satisfaction": st.integers(min_value=1, max_value=5),
                "note": st.sampled_from(["存50000元", "A031号", ""]),
            },
        ),
    }
)
visit_spec = st.fixed_dictionaries(
    {
        "minute": st.integers(min_value=0, max_value=30),
        "device": st.sampled_from(["device-a", "device-b"]),
        "payload": st.fixed_dictionaries(
            {"purpose": st.sampled_from(["cash", "wealth", "loan"])},
            optional={
                "ticket": st.sampled_from(["A031", "B7"]),
                "segment": st.sampled_from(["new", "regular", "high_value"]),
            },
        ),
        "closes": st.lists(close_spec, max_size=3),
    }
)


def _time(minute: int, offset_index: int) -> str:
    moment = (BASE + timedelta(minutes=minute)).astimezone(OFFSETS[offset_index % len(OFFSETS)])
    return moment.isoformat(timespec="milliseconds")


def build_events(visits: list[dict]) -> list[dict]:
    """Envelopes in the order a single careful tablet would send them."""
    events, seq = [], 0
    for v in visits:
        subject = str(uuid.uuid4())
        seq += 1
        events.append(
            {
                "id": str(uuid.uuid4()),
                "type": "visit.greeted",
                "occurred_at": _time(v["minute"], seq),
                "subject_id": subject,
                "branch": "demo",
                "device_id": v["device"],
                "seq": seq,
                "payload": v["payload"],
            }
        )
        for c in v["closes"]:
            seq += 1  # unique per event: no two events of a visit tie on their order key
            events.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": "visit.closed",
                    "occurred_at": _time(v["minute"] + c["minute"], seq),
                    "subject_id": subject,
                    "branch": "demo",
                    "device_id": c["device"],
                    "seq": seq,
                    "payload": c["payload"],
                }
            )
    return events


def copy_with_new_ids(events: list[dict]) -> tuple[list[dict], dict[str, str]]:
    subjects: dict[str, str] = {}
    copies = []
    for e in events:
        subjects.setdefault(e["subject_id"], str(uuid.uuid4()))
        copies.append(dict(e, id=str(uuid.uuid4()), subject_id=subjects[e["subject_id"]]))
    return copies, subjects


def greetings_first(order: list[dict]) -> list[dict]:
    """Swap each visit's greeting to the place of that visit's first event."""
    order = list(order)
    for i, event in enumerate(order):
        if event["type"] != "visit.greeted":
            continue
        first = next(j for j, e in enumerate(order) if e["subject_id"] == event["subject_id"])
        order[first], order[i] = order[i], order[first]
    return order


def state(app, subject_ids) -> tuple[list[tuple], int]:
    with app.app_context():
        rows = []
        for sid in subject_ids:
            visit = db.session.get(Visit, sid)
            subject = db.session.get(Subject, sid)
            rows.append(
                (
                    visit.status,
                    visit.purpose,
                    visit.ticket,
                    visit.segment,
                    visit.flags,
                    visit.greeted_at,
                    visit.closed_at,
                    visit.outcome,
                    visit.satisfaction,
                    visit.close_note,
                    subject.last_key,
                )
            )
        count = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.subject_id.in_(list(subject_ids)))
        )
        return rows, count


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(visits=st.lists(visit_spec, min_size=1, max_size=3), data=st.data())
def test_arrival_order_repeats_and_batches_do_not_change_the_result(app, lobby1, visits, data):
    events = build_events(visits)

    # The reference: every event once, in order, one batch.
    reference, reference_subjects = copy_with_new_ids(events)
    results = lobby1.sync(reference).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(reference)

    # The same events, shuffled (greetings first), with repeats, in batches.
    arrivals = greetings_first(data.draw(st.permutations(events), label="order"))
    repeats = data.draw(
        st.lists(st.tuples(st.integers(0, len(arrivals) - 1), st.integers(0, 10**6)), max_size=4),
        label="repeats",
    )
    for index, where in repeats:
        event = arrivals[index]
        first_place = arrivals.index(event)
        position = first_place + 1 + where % (len(arrivals) - first_place)
        arrivals.insert(position, event)
    sizes = data.draw(
        st.lists(st.integers(1, 4), min_size=len(arrivals), max_size=len(arrivals)),
        label="batch sizes",
    )
    seen: set[str] = set()
    start = 0
    for size in sizes:
        batch = arrivals[start : start + size]
        if not batch:
            break
        start += size
        for event, result in zip(batch, lobby1.sync(batch).get_json()["results"], strict=True):
            expected = "duplicate" if event["id"] in seen else "accepted"
            assert result["status"] == expected, result
            seen.add(event["id"])

    subject_ids = list(dict.fromkeys(e["subject_id"] for e in events))
    mine = state(app, subject_ids)
    theirs = state(app, [reference_subjects[s] for s in subject_ids])
    assert mine == theirs
    assert mine[1] == len(events)
