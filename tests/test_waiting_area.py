"""The wealth manager's view of the waiting area (巡视等候区): who suggests wealth business,
claiming a customer (one wealth manager at a time), the outcome; the board's warning."""

from __future__ import annotations

import re
import uuid

import pytest

from app.extensions import db
from app.models import Visit

from .conftest import greeted, make_event

HX = {"HX-Request": "true"}


@pytest.fixture
def lobby(lobby1):
    """Four waiting customers: cash (not wealth), wealth purpose, high-value, a pension need."""
    ids = {name: str(uuid.uuid4()) for name in ("cash", "wealth", "vip", "pension")}
    answers = lobby1.sync(
        [
            greeted(
                ids["cash"],
                payload={"purpose": "cash", "ticket": "A001"},
                occurred_at="2026-11-29T09:00:00+08:00",
            ),
            greeted(
                ids["wealth"],
                payload={"purpose": "wealth", "ticket": "A002"},
                occurred_at="2026-11-29T09:01:00+08:00",
            ),
            greeted(
                ids["vip"],
                payload={"purpose": "transfer", "ticket": "A003", "segment": "high_value"},
                occurred_at="2026-11-29T09:02:00+08:00",
            ),
            greeted(
                ids["pension"],
                payload={"purpose": "inquiry", "ticket": "A004"},
                occurred_at="2026-11-29T09:03:00+08:00",
            ),
            make_event(
                "visit.engaged",
                ids["pension"],
                {"needs": ["pension"]},
                occurred_at="2026-11-29T09:04:00+08:00",
            ),
        ]
    ).get_json()["results"]
    assert all(a["status"] == "accepted" for a in answers), answers
    return ids


def test_lists_only_customers_who_suggest_wealth_business(sign_in, lobby):
    html = sign_in("wealth1").get("/waiting").get_data(as_text=True)
    shown = re.findall(r'data-testid="waiting-visit" data-visit-id="([^"]+)"', html)
    assert shown == [lobby["wealth"], lobby["vip"], lobby["pension"]]
    assert html.count('data-testid="claim-visit"') == 3


def test_claim_then_outcome_and_the_lobby_sees_who(app, sign_in, lobby1, lobby):
    wealth1, wealth2 = sign_in("wealth1"), sign_in("wealth2")
    claimed = wealth1.post(f"/waiting/visits/{lobby['vip']}/claim", htmx=True)
    assert claimed.status_code == 200
    late = wealth2.post(f"/waiting/visits/{lobby['vip']}/claim?lang=en", htmx=True)
    assert late.status_code == 422 and "already talking" in late.get_data(as_text=True)
    board = lobby1.get("/lobby/board?lang=en", headers=HX).get_data(as_text=True)
    assert "Wealth manager 理财经理 is with them" in board
    done = wealth1.post(
        f"/waiting/visits/{lobby['vip']}/outcome",
        data={"result": "sold", "amount_band": "200k_1m", "product": "wm-stable"},
        htmx=True,
    )
    assert done.status_code == 200
    with app.app_context():
        v = db.session.get(Visit, lobby["vip"])
        assert (v.claimed_by.username, v.wealth_result, v.wealth_amount_band, v.wealth_product) == (
            "wealth1",
            "sold",
            "200k_1m",
            "wm-stable",
        )
        db.session.remove()
    bad = wealth1.post(
        f"/waiting/visits/{lobby['vip']}/outcome", data={"result": "sold"}, htmx=True
    )
    assert bad.status_code == 422


def test_the_list_poll_answers_204_until_something_changes(sign_in, lobby1, lobby):
    wealth = sign_in("wealth1")
    html = wealth.get("/waiting/list", headers=HX).get_data(as_text=True)
    version = re.search(r'name="since" value="(\d+)"', html).group(1)
    assert wealth.get(f"/waiting/list?since={version}", headers=HX).status_code == 204
    lobby1.sync([make_event("visit.engaged", lobby["wealth"], {})])
    assert wealth.get(f"/waiting/list?since={version}", headers=HX).status_code == 200
    assert wealth.get("/waiting/list").status_code == 302


def test_the_board_warns_of_the_longest_waiting_wealth_customer_nobody_spoke_to(
    sign_in, lobby1, lobby
):
    board = lobby1.get("/lobby/board", headers=HX).get_data(as_text=True)
    assert re.search(rf'data-testid="wealth-waiting" data-visit-id="{lobby["wealth"]}"', board)
    lobby1.sync([make_event("visit.engaged", lobby["wealth"], {})])
    board = lobby1.get("/lobby/board", headers=HX).get_data(as_text=True)
    assert re.search(rf'data-testid="wealth-waiting" data-visit-id="{lobby["vip"]}"', board)


@pytest.mark.parametrize("user", ["lobby1", "teller1", "super1", "admin"])
def test_only_wealth_managers(sign_in, lobby, user):
    client = sign_in(user)
    assert client.get("/waiting").status_code == 403
    assert client.post(f"/waiting/visits/{lobby['vip']}/claim", htmx=True).status_code == 403
