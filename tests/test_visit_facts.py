"""Property: the supervisor's facts of a visit agree with the lobby's `Visit`.

The figures (app/supervisor/visit_facts.py) fold a visit's events on their own,
apart from the lobby's fold (app/lobby/events.py). For a random valid story of
one visit, its events sent in a random order, in batches, with random times
(so the lobby rebuilds the visit when one arrives late), the `figure_subject`
row must say what the `Visit` row says: state, outcome, purpose, route, times,
recommendations; it must equal a fold of the visit's events afresh (as
`rebuild-figures` does it); and `figure_day` must hold exactly what the
`figure_subject` rows say they added.

Each example uses a fresh visit id, so one app and database serve them all.
`derandomize=True`: the same examples every run, so it never flakes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.clock import local_day
from app.extensions import db
from app.models import Branch, Visit, VisitRecommendation
from app.models.figures import FigureDay, FigureSubject
from app.supervisor.projection import BranchClock, load_events, project_events

from .conftest import make_event

# 09:00 in the demo branch (Asia/Shanghai): a story of two hours stays in the past.
BASE = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
PRODUCTS = ["wm-stable", "card-gold", "deposit-3y"]  # demo catalogue, no end date
NEEDS = ["wealth_management", "deposits", "credit_card"]
RESPONSES = ["interested", "declined", "already_has", "later"]
BANDS = ["lt_50k", "50k_200k", "200k_1m", "gt_1m"]

# (type, who records it, payload strategy); the payloads as docs/events-lobby.md gives them.
STEPS = {
    "visit.updated": (
        "lobby1",
        st.fixed_dictionaries(
            {},
            optional={
                "purpose": st.sampled_from(["cash", "wealth", "loan"]),
                "ticket": st.sampled_from(["A031", "", None]),
                "segment": st.sampled_from(["new", "high_value", None]),
            },
        ).filter(bool),
    ),
    "visit.triaged": (
        "lobby1",
        st.fixed_dictionaries(
            {"route": st.sampled_from(["self_service", "counter", "wealth", "vip"])},
            optional={
                "form_checked": st.booleans(),
                "form_redone": st.booleans(),
                "to_other_bank": st.booleans(),
                "amount_band": st.sampled_from(BANDS),
            },
        ),
    ),
    "visit.engaged": (
        "lobby1",
        st.fixed_dictionaries({}, optional={"needs": st.lists(st.sampled_from(NEEDS), max_size=2)}),
    ),
    "visit.recommended": (
        "lobby1",
        st.fixed_dictionaries(
            {
                "products": st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3),
                "response": st.sampled_from(RESPONSES),
            }
        ),
    ),
    "visit.pitched": (
        "teller1",
        st.fixed_dictionaries(
            {"product": st.sampled_from(PRODUCTS), "response": st.sampled_from(RESPONSES)}
        ),
    ),
    "visit.referred": (
        "lobby1",
        st.fixed_dictionaries(
            {"referral_id": st.uuids().map(str), "to": st.sampled_from(["wealth", "corporate"])}
        ),
    ),
    "visit.funds_kept": ("lobby1", st.fixed_dictionaries({"amount_band": st.sampled_from(BANDS)})),
    "visit.called": (
        "teller1",
        st.fixed_dictionaries({}, optional={"counter": st.sampled_from(["1", "2"])}),
    ),
    "visit.claimed": ("wealth1", st.just({})),
    "visit.wealth_outcome": (
        "wealth1",
        st.sampled_from(
            [
                {"result": "met"},
                {"result": "no_sale"},
                {"result": "sold", "amount_band": "200k_1m", "product": "wm-stable"},
            ]
        ),
    ),
    "visit.complaint": ("lobby1", st.fixed_dictionaries({"note": st.sampled_from(["排队太久"])})),
    "visit.closed": (
        "lobby1",
        st.fixed_dictionaries(
            {"outcome": st.sampled_from(["served", "walked_away", "referred"])},
            optional={"satisfaction": st.integers(1, 5)},
        ),
    ),
}


@st.composite
def visit_story(draw) -> list[tuple[str, dict]]:
    """(who, envelope) for one visit: a greeting, its steps, a few undos; time order unknown."""
    visit_id = str(uuid.uuid4())
    seq = iter(range(1, 1000))

    def envelope(type_: str, payload: dict) -> dict:
        minute = draw(st.integers(0, 120), label="minute")
        second = draw(st.integers(0, 59), label="second")
        return make_event(
            type_,
            visit_id,
            payload,
            occurred_at=(BASE + timedelta(minutes=minute, seconds=second)).isoformat(),
            device_id=draw(st.sampled_from(["tablet-a", "tablet-b"]), label="device"),
            seq=next(seq),
        )

    greeting = envelope(
        "visit.greeted",
        draw(
            st.fixed_dictionaries(
                {"purpose": st.sampled_from(["cash", "transfer", "wealth"])},
                optional={
                    "ticket": st.sampled_from(["A001", "B7", ""]),
                    "segment": st.sampled_from(["new", "regular"]),
                },
            ),
            label="greeting",
        ),
    )
    story = [("lobby1", greeting)]
    # Each type up to twice, so corrections (a second triage, close, call) are common.
    for type_, (who, payloads) in sorted(STEPS.items()):
        for _ in range(draw(st.integers(0, 2), label=f"how many {type_}")):
            story.append((who, envelope(type_, draw(payloads, label=type_))))
    # An undo names an earlier step of the visit (never an undo): the greeting voids it.
    targets = [e for _who, e in story]
    for target in draw(st.lists(st.sampled_from(targets), max_size=2), label="undone"):
        story.append(("lobby1", envelope("visit.undone", {"event_id": target["id"]})))
    return story


def arrival_order(story: list[tuple[str, dict]], order: list[int]) -> list[tuple[str, dict]]:
    """The story in the order `order` gives, but the greeting first and an undo after its step."""
    greeting, rest = story[0], [story[i] for i in order]
    arrived: list[tuple[str, dict]] = [greeting]
    waiting: list[tuple[str, dict]] = []
    for who, event in rest:
        waiting.append((who, event))
        sent = {e["id"] for _w, e in arrived}
        while ready := [
            item
            for item in waiting
            if item[1]["type"] != "visit.undone" or item[1]["payload"]["event_id"] in sent
        ]:
            for item in ready:
                waiting.remove(item)
                arrived.append(item)
                sent.add(item[1]["id"])
    assert not waiting
    return arrived


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def expected_facts(visit: Visit, recommendations: list[VisitRecommendation]) -> dict:
    """What the figures must say of a visit, read off the lobby's read model."""
    lobby_recs = [r for r in recommendations if not r.at_counter]  # the teller's pitches apart
    if visit.called_at is not None:
        wait = int((visit.called_at - visit.greeted_at).total_seconds())
    elif visit.closed_at is not None and visit.outcome in ("served", "referred"):
        wait = int((visit.closed_at - visit.greeted_at).total_seconds())
    else:
        wait = None
    return {
        "greeted_at": iso(visit.greeted_at),
        "purpose": visit.purpose,
        "ticket": visit.ticket,
        "segment": visit.segment,
        "route": visit.route,
        # A form that had to be redone was checked first: the figures' redone share needs it.
        "form_checked": visit.form_checked or visit.form_redone,
        "form_redone": visit.form_redone,
        "to_other_bank": visit.to_other_bank,
        "funds_kept": visit.funds_kept_band,
        "engaged": visit.engaged_count > 0,
        "referred": visit.referral_id is not None,
        "recommendations": len(lobby_recs),
        "accepted": sum(r.response == "interested" for r in lobby_recs),
        "products": sorted(r.product_code for r in lobby_recs),
        "responses": sorted(r.response for r in lobby_recs),
        "recs_without_need": sum(r.without_need for r in lobby_recs),
        "complaint": visit.complaint,
        "complaint_note": visit.complaint_note,
        "called_at": iso(visit.called_at),
        "wait_seconds": max(wait, 0) if wait is not None else None,
        "closed_at": iso(visit.closed_at),
        "outcome": visit.outcome,
        "satisfaction": visit.satisfaction,
    }


def actual_facts(row: FigureSubject, keys) -> dict:
    """The row's facts under the names `expected_facts` gives them."""
    facts = {key: row.facts.get(key) for key in keys}
    facts["products"] = sorted(row.facts["products"])
    facts["responses"] = sorted(row.facts["responses"])
    facts["complaint"] = row.facts["complaints"] > 0
    return facts


def assert_counters_add_up() -> None:
    """figure_day holds exactly what the figure_subject rows say they added to it."""
    added: Counter = Counter()
    for branch_id, contributions in db.session.execute(
        select(FigureSubject.branch_id, FigureSubject.contributions)
    ):
        for day, metric, key, value in contributions:
            added[(branch_id, day, metric, key)] += value
    held = {
        (r.branch_id, r.day.isoformat(), r.metric, r.key): r.value
        for r in db.session.scalars(select(FigureDay))
    }
    assert held == {k: v for k, v in added.items() if v}


def assert_figures_agree(visit_id: str) -> None:
    visit = db.session.get(Visit, visit_id)
    row = db.session.get(FigureSubject, visit_id)
    if visit.status == "void":
        assert row is None, "a voided visit is out of the figures"
    else:
        assert row is not None
        branch = db.session.get(Branch, visit.branch_id)
        assert (row.kind, row.status, row.day, row.user_id) == (
            "visit",
            visit.status,
            local_day(branch, visit.greeted_at),
            visit.greeted_by_id,
        )
        recommendations = list(
            db.session.scalars(
                select(VisitRecommendation).where(VisitRecommendation.visit_id == visit_id)
            )
        )
        expected = expected_facts(visit, recommendations)
        assert actual_facts(row, expected) == expected
        # What the events give when folded afresh (as rebuild-figures does).
        events = load_events([visit_id])[visit_id]
        (fresh,), _totals = project_events(events, BranchClock.of(branch), lambda e: visit_id)
        assert (row.status, row.day, row.facts, row.contributions) == (
            fresh["status"],
            fresh["day"],
            fresh["facts"],
            fresh["contributions"],
        )
    assert_counters_add_up()


@pytest.fixture
def clients(sign_in):
    """Signed in once for all examples (sign-in is rate-limited)."""
    return {who: sign_in(who) for who in ("lobby1", "teller1", "wealth1")}


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=visit_story(), data=st.data())
def test_the_figures_facts_of_a_visit_agree_with_the_visit(app, clients, story, data):
    visit_id = story[0][1]["subject_id"]
    order = data.draw(st.permutations(range(1, len(story))), label="arrival order")
    # Or the lobby manager's tablet first, each recorder's events in one batch: the
    # batch that starts the visit then holds most of its story.
    together = data.draw(st.booleans(), label="together")
    if together:
        order.sort(key=lambda i: story[i][0] != "lobby1")
    arrivals = arrival_order(story, order)
    # Consecutive events of one recorder go in one batch, cut where the draw says.
    start = 0
    while start < len(arrivals):
        who = arrivals[start][0]
        end = start + 1
        while end < len(arrivals) and arrivals[end][0] == who:
            end += 1
        if not together:
            end = start + data.draw(st.integers(1, end - start), label="batch size")
        batch = [event for _who, event in arrivals[start:end]]
        results = clients[who].sync(batch).get_json()["results"]
        assert [r["status"] for r in results] == ["accepted"] * len(batch), results
        start = end
        # After every batch, not only at the end: a batch that starts the visit is
        # projected from its own events, later ones from the stored events.
        with app.app_context():
            assert_figures_agree(visit_id)
            db.session.remove()
