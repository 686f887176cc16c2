"""The teller's counter page: today's visit by ticket, the call, the one-sentence pitch,
small cash work sent to the machines, a referral tied to the visit."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, Referral, Visit

from .conftest import greeted, make_event

HX = {"HX-Request": "true"}


def at(delta_minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=delta_minutes)).isoformat()


@pytest.fixture
def teller(sign_in):
    return sign_in("teller1")


@pytest.fixture
def visit(lobby1):
    visit_id = str(uuid.uuid4())
    answer = lobby1.sync(
        [greeted(visit_id, payload={"purpose": "cash", "ticket": "C042"}, occurred_at=at(-5))]
    ).get_json()["results"][0]
    assert answer["status"] == "accepted"
    return visit_id


def events(app, type_):
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Event).where(Event.type == type_))
        db.session.remove()
        return n


def test_find_todays_visit_by_ticket(teller, visit, lobby1):
    html = teller.get("/counter?ticket=C042").get_data(as_text=True)
    assert f'data-visit-id="{visit}"' in html and 'data-testid="counter-call"' in html
    missing = teller.get("/counter?ticket=Z999&lang=en")
    assert missing.status_code == 404 and "No visit with ticket Z999 today" in missing.get_data(
        as_text=True
    )
    # Yesterday's visit with the same ticket is not today's.
    lobby1.sync([greeted(payload={"purpose": "cash", "ticket": "Y001"}, occurred_at=at(-60 * 30))])
    assert teller.get("/counter?ticket=Y001").status_code == 404
    summary = teller.get(f"/counter/visits/{visit}", headers=HX)
    assert summary.status_code == 200 and "<html" not in summary.get_data(as_text=True)
    version = re.search(r'"since": "(\d+)"', summary.get_data(as_text=True)).group(1)
    assert teller.get(f"/counter/visits/{visit}?since={version}", headers=HX).status_code == 204
    lobby1.sync([make_event("visit.engaged", visit, {})])
    assert teller.get(f"/counter/visits/{visit}?since={version}", headers=HX).status_code == 200


def test_call_pitch_divert_and_refer_show_on_the_lobby_card(app, teller, visit, lobby1):
    assert (
        teller.post(f"/counter/visits/{visit}/call", data={"counter": "3"}, htmx=True).status_code
        == 200
    )
    assert (
        teller.post(
            f"/counter/visits/{visit}/pitch",
            data={"product": "card-gold", "response": "interested"},
            htmx=True,
        ).status_code
        == 200
    )
    assert teller.post(f"/counter/visits/{visit}/divert", data={}, htmx=True).status_code == 200
    refused = teller.post(
        f"/counter/visits/{visit}/refer?lang=en", data={"assignee": "wealth1"}, htmx=True
    )
    assert refused.status_code == 422 and "agree" in refused.get_data(as_text=True)
    done = teller.post(
        f"/counter/visits/{visit}/refer",
        data={"assignee": "wealth1", "consent": "yes", "note": "deposits due"},
        htmx=True,
    )
    assert (
        done.status_code == 200
        and 'data-testid="referral-state" data-state="open"' in done.get_data(as_text=True)
    )
    with app.app_context():
        v = db.session.get(Visit, visit)
        assert (v.called_counter, v.route) == ("3", "self_service")
        assert [(r.product_code, r.response, r.at_counter) for r in v.recommendations] == [
            ("card-gold", "interested", True)
        ]
        r = db.session.get(Referral, v.referral_id)
        assert (r.visit_id, r.assignee.username, r.consent, r.note) == (
            visit,
            "wealth1",
            True,
            "deposits due",
        )
        db.session.remove()
    board = lobby1.get("/lobby/board?lang=en", headers=HX).get_data(as_text=True)
    assert "at the counter" in board and 'data-testid="step-called"' in board
    assert 'data-testid="referral-state" data-state="open"' in board


def test_a_refused_referral_writes_neither_event(app, teller, visit):
    before = events(app, "referral.created"), events(app, "visit.referred")
    answer = teller.post(
        f"/counter/visits/{visit}/refer", data={"assignee": "lobby2", "consent": "yes"}, htmx=True
    )
    assert answer.status_code == 422
    assert (events(app, "referral.created"), events(app, "visit.referred")) == before


@pytest.mark.parametrize(
    "path, form",
    [
        ("call", {"counter": "12345678901"}),
        ("pitch", {"product": "nope", "response": "interested"}),
        ("pitch", {"product": "card-gold", "response": "maybe"}),
        ("refer", {"consent": "yes", "note": "ID 11010519491231002X"}),
    ],
)
def test_bad_steps_are_refused_with_a_message(app, teller, visit, path, form):
    answer = teller.post(f"/counter/visits/{visit}/{path}", data=form, htmx=True)
    assert answer.status_code == 422 and 'role="alert"' in answer.get_data(as_text=True)


def test_a_teller_triages_only_to_the_machines(teller, visit):
    answers = teller.sync([make_event("visit.triaged", visit, {"route": "counter"})])
    assert answers.get_json()["results"][0]["error"]["code"] == "forbidden"


@pytest.mark.parametrize("user", ["lobby1", "wealth1", "super1", "admin"])
def test_only_tellers(sign_in, visit, user):
    client = sign_in(user)
    assert client.get("/counter").status_code == 403
    assert client.post(f"/counter/visits/{visit}/call", data={}, htmx=True).status_code == 403
