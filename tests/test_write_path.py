"""The write path's fast lane: a batch is tried without savepoints, and judged
again event by event when any event's effects fail, so nothing is half-written."""

from sqlalchemy import func, select

from app import events as events_module
from app.events import Rejected
from app.extensions import db
from app.models import Event, Visit

from .conftest import greeted, make_event


def _counts(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Event)),
            db.session.scalar(select(func.count()).select_from(Visit)),
        )


def test_effects_failing_in_the_fast_lane_reject_only_that_event(app, lobby1, monkeypatch):
    etype = events_module.EVENT_TYPES["visit.closed"]
    original = etype.apply

    def fails_on_walk_away(applied):
        if applied.payload.outcome == "walked_away":
            raise Rejected("boom", "refused by its effects")
        original(applied)

    monkeypatch.setitem(
        events_module.EVENT_TYPES,
        "visit.closed",
        etype.__class__(**{**etype.__dict__, "apply": fails_on_walk_away}),
    )
    one, two = greeted(), greeted()
    batch = [
        one,
        two,
        make_event("visit.closed", one["subject_id"], {"outcome": "served"}),
        make_event("visit.closed", two["subject_id"], {"outcome": "walked_away"}),
    ]
    results = lobby1.sync(batch).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted", "rejected"]
    assert results[3]["error"]["code"] == "boom"
    assert _counts(app) == (3, 2)
    with app.app_context():
        assert db.session.get(Visit, two["subject_id"]).status == "waiting"
        assert db.session.get(Visit, one["subject_id"]).status == "closed"


def test_a_stored_event_among_new_ones_is_a_duplicate_and_stored_once(app, lobby1):
    """The fast lane takes ids as new; a stored one fails its insert (a unique key),
    and the batch is judged again in the safe lane, which finds it."""
    stored = greeted()
    assert [r["status"] for r in lobby1.sync([stored]).get_json()["results"]] == ["accepted"]
    fresh = greeted()
    results = lobby1.sync(
        [stored, fresh, make_event("visit.closed", stored["subject_id"], {"outcome": "served"})]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["duplicate", "accepted", "accepted"]
    assert _counts(app) == (3, 2)


def test_a_greet_for_a_visit_already_started_is_refused_as_before(app, lobby1):
    """A subject the fast lane takes as new (its first event in the batch starts it)
    that is in fact stored: the greet is refused, the close after it applied."""
    first = greeted()
    lobby1.sync([first])
    again = greeted(first["subject_id"])
    close = make_event("visit.closed", first["subject_id"], {"outcome": "served"})
    results = lobby1.sync([again, close]).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["error"]["code"] == "subject_exists"
    assert _counts(app) == (2, 1)
    with app.app_context():
        assert db.session.get(Visit, first["subject_id"]).status == "closed"
