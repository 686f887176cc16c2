"""A visit's state is a fold of its events: the same Visit whatever order they arrive in."""

from __future__ import annotations

import itertools
import random
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Referral, Visit, VisitRecommendation

from .conftest import greeted, make_event


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-29T09:{minute:02d}:{second:02d}.000+08:00"


def snapshot(app, visit_id: str) -> dict:
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        data = {c.name: getattr(visit, c.name) for c in Visit.__table__.columns}
        data["needs"] = list(data["needs"])
        recs = db.session.scalars(
            select(VisitRecommendation)
            .where(VisitRecommendation.visit_id == visit_id)
            .order_by(VisitRecommendation.event_id, VisitRecommendation.product_code)
        )
        data["recommendations"] = [
            (r.event_id, r.product_code, r.response, r.without_need, r.confirmed_without_need)
            for r in recs
        ]
        db.session.remove()
        return data


def story(visit_id: str) -> list[dict]:
    """A visit told by two tablets (device-a and device-b), in occurred_at order."""
    referral = str(uuid.uuid4())
    return [
        make_event(
            "visit.triaged",
            visit_id,
            {"route": "counter", "suggested": "counter"},
            occurred_at=at(4),
            device_id="device-a",
            seq=2,
        ),
        make_event(
            "visit.recommended",
            visit_id,
            {"products": ["card-gold"], "response": "declined", "confirmed_without_need": True},
            occurred_at=at(5),
            device_id="device-b",
            seq=1,
        ),
        make_event(
            "visit.engaged",
            visit_id,
            {"needs": ["wealth_management"], "note": "asks about 3 month products"},
            occurred_at=at(6),
            device_id="device-b",
            seq=2,
        ),
        make_event(
            "visit.recommended",
            visit_id,
            {"products": ["wm-stable"], "response": "interested"},
            occurred_at=at(7),
            device_id="device-a",
            seq=3,
        ),
        make_event(
            "visit.triaged",
            visit_id,
            {"route": "wealth", "suggested": "counter"},
            occurred_at=at(8),
            device_id="device-a",
            seq=4,
        ),
        make_event(
            "visit.referred",
            visit_id,
            {"referral_id": referral, "to": "wealth"},
            occurred_at=at(9),
            device_id="device-b",
            seq=3,
        ),
        make_event(
            "visit.engaged",
            visit_id,
            {"needs": ["deposits"]},
            occurred_at=at(9),
            device_id="device-b",
            seq=4,
        ),
        make_event(
            "visit.updated",
            visit_id,
            {"segment": "high_value", "flags": ["elderly"]},
            occurred_at=at(10),
            device_id="device-a",
            seq=5,
        ),
        make_event(
            "visit.closed",
            visit_id,
            {"outcome": "referred", "satisfaction": 4},
            occurred_at=at(12),
            device_id="device-a",
            seq=6,
        ),
    ]


def replay(app, sign_in, order: list[int]) -> dict:
    client = sign_in("lobby1")
    visit_id = str(uuid.uuid4())
    first = greeted(
        visit_id,
        payload={"purpose": "transfer", "ticket": "A031"},
        occurred_at=at(3),
        device_id="device-a",
        seq=1,
    )
    events = story(visit_id)
    results = client.sync([first] + [events[i] for i in order]).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * (len(events) + 1), results
    data = snapshot(app, visit_id)
    # ids differ between replays; compare everything else
    data.pop("id")
    data["recommendations"] = [r[1:] for r in data["recommendations"]]
    data["recommendations"].sort()
    for key in ("last_step_event_id", "closed_event_id", "referral_id"):
        data[key] = bool(data[key])
    return data


def test_same_visit_from_any_arrival_order(app, sign_in):
    n = len(story(str(uuid.uuid4())))
    in_order = replay(app, sign_in, list(range(n)))
    assert in_order["status"] == "closed" and in_order["route"] == "wealth"
    assert in_order["needs"] == ["deposits", "wealth_management"]
    assert in_order["segment"] == "high_value" and in_order["flags"] == ["elderly"]
    assert in_order["engaged_count"] == 2
    # The first recommendation came before any need was known; the second after.
    assert sorted(in_order["recommendations"]) == [
        ("card-gold", "declined", True, True),
        ("wm-stable", "interested", False, False),
    ]
    rng = random.Random(4)
    orders = [list(reversed(range(n)))] + [rng.sample(range(n), n) for _ in range(5)]
    for order in orders:
        assert replay(app, sign_in, order) == in_order, order


def test_undo_is_a_rebuild_without_the_step(app, sign_in):
    client = sign_in("lobby1")
    visit_id = str(uuid.uuid4())
    g = greeted(visit_id, occurred_at=at(1))
    t1 = make_event("visit.triaged", visit_id, {"route": "counter"}, occurred_at=at(2))
    t2 = make_event("visit.triaged", visit_id, {"route": "vip"}, occurred_at=at(3))
    close = make_event("visit.closed", visit_id, {"outcome": "served"}, occurred_at=at(4))
    assert all(
        r["status"] == "accepted" for r in client.sync([g, t1, t2, close]).get_json()["results"]
    )
    undo_close = make_event("visit.undone", visit_id, {"event_id": close["id"]}, occurred_at=at(5))
    undo_t2 = make_event("visit.undone", visit_id, {"event_id": t2["id"]}, occurred_at=at(6))
    assert [r["status"] for r in client.sync([undo_close, undo_t2]).get_json()["results"]] == [
        "accepted",
        "accepted",
    ]
    data = snapshot(app, visit_id)
    assert data["status"] == "waiting" and data["outcome"] is None
    assert data["route"] == "counter"
    assert data["last_step_event_id"] == t1["id"]
    # An undo cannot be undone; a step of another visit cannot be undone here.
    again = make_event("visit.undone", visit_id, {"event_id": undo_t2["id"]}, occurred_at=at(7))
    other = make_event("visit.undone", visit_id, {"event_id": str(uuid.uuid4())}, occurred_at=at(7))
    results = client.sync([again, other]).get_json()["results"]
    assert [r["error"]["code"] for r in results] == ["cannot_undo", "unknown_step"]


def test_undoing_the_greeting_voids_the_visit(app, sign_in):
    client = sign_in("lobby1")
    visit_id = str(uuid.uuid4())
    g = greeted(visit_id, occurred_at=at(1))
    undo = make_event("visit.undone", visit_id, {"event_id": g["id"]}, occurred_at=at(2))
    late = make_event("visit.engaged", visit_id, {}, occurred_at=at(1, 30))  # arrives late
    assert [r["status"] for r in client.sync([g, undo, late]).get_json()["results"]] == [
        "accepted"
    ] * 3
    data = snapshot(app, visit_id)
    assert data["status"] == "void" and data["engaged_count"] == 1


def test_referral_fold(app, sign_in):
    lobby, wealth = sign_in("lobby1"), sign_in("wealth1")
    visit_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        greeted(visit_id, occurred_at=at(1)),
        make_event(
            "visit.referred",
            visit_id,
            {"referral_id": referral_id, "to": "wealth"},
            occurred_at=at(2),
        ),
        make_event(
            "referral.created",
            referral_id,
            {"visit_id": visit_id, "to": "wealth", "note": "wants 500000 in 3 years"},
            occurred_at=at(2),
        ),
    ]
    assert all(r["status"] == "accepted" for r in lobby.sync(events).get_json()["results"])
    later = make_event(
        "referral.outcome",
        referral_id,
        {"result": "sold", "amount_band": "200k_1m"},
        occurred_at=at(20),
    )
    earlier = make_event("referral.outcome", referral_id, {"result": "met"}, occurred_at=at(10))
    assert [r["status"] for r in wealth.sync([later, earlier]).get_json()["results"]] == [
        "accepted",
        "accepted",
    ]
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        assert (referral.status, referral.result, referral.amount_band) == (
            "done",
            "sold",
            "200k_1m",
        )
        assert referral.visit_id == visit_id


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_engaged_needs_add_up_in_any_order(app, sign_in, order):
    client = sign_in("lobby1")
    visit_id = str(uuid.uuid4())
    steps = [
        make_event("visit.engaged", visit_id, {"needs": [n]}, occurred_at=at(2 + i))
        for i, n in enumerate(["loans", "pension", "loans"])
    ]
    client.sync([greeted(visit_id, occurred_at=at(1))] + [steps[i] for i in order])
    data = snapshot(app, visit_id)
    assert data["needs"] == ["loans", "pension"] and data["engaged_count"] == 3
    assert data["first_engaged_at"].minute == 2 and data["last_engaged_at"].minute == 4
