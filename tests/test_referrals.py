"""The referral desk: who sees which referrals, recording outcomes, the teller's hand-off."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Branch, Event, Referral, Role, User

from .conftest import DEMO_PASSWORD, greeted, make_event

HX = {"HX-Request": "true"}


def count(app, model=Event) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
        return n


@pytest.fixture
def referral(lobby1):
    """A referral made on the lobby tablet for a waiting visit, with a hand-off note."""
    visit_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    results = lobby1.sync(
        [
            greeted(
                visit_id, payload={"purpose": "wealth", "ticket": "V007", "segment": "high_value"}
            ),
            make_event(
                "visit.referred",
                visit_id,
                {
                    "referral_id": referral_id,
                    "to": "wealth",
                    "note": "moving 500000 from another bank",
                },
            ),
            make_event(
                "referral.created",
                referral_id,
                {
                    "visit_id": visit_id,
                    "to": "wealth",
                    "note": "moving 500000 from another bank",
                    "purpose": "wealth",
                    "segment": "high_value",
                },
            ),
        ]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    return referral_id


@pytest.fixture
def wealth_north(app, sign_in):
    with app.app_context():
        north = db.session.scalar(select(Branch).where(Branch.code == "north"))
        user = User(
            username="wealth-north",
            display_name="城北理财经理",
            role=Role.WEALTH_MANAGER,
            branches=[north],
        )
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        db.session.commit()
        db.session.remove()
    return sign_in("wealth-north")


def test_inbox_shows_the_branch_referrals(sign_in, referral):
    wealth = sign_in("wealth1")
    html = wealth.get("/referrals").get_data(as_text=True)
    assert f'data-referral-id="{referral}"' in html
    assert "moving 500000 from another bank" in html and "V007" in html
    assert 'data-testid="result-sold"' in html
    teller_html = sign_in("teller1").get("/referrals").get_data(as_text=True)
    assert f'data-referral-id="{referral}"' in teller_html
    assert 'data-testid="result-sold"' not in teller_html  # a teller sends, does not close
    assert 'data-testid="teller-refer"' in teller_html


def test_list_and_referral_fragments(sign_in, referral):
    wealth = sign_in("wealth1")
    response = wealth.get("/referrals/list", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and referral in html
    version = re.search(r'name="since" value="([\d-]+)"', html).group(1)
    assert wealth.get(f"/referrals/list?since={version}", headers=HX).status_code == 204
    assert wealth.get("/referrals/list").status_code == 302
    one = wealth.get(f"/referrals/{referral}", headers=HX)
    assert one.status_code == 200 and "<html" not in one.get_data(as_text=True)
    assert wealth.get(f"/referrals/{referral}").status_code == 302
    assert wealth.get(f"/referrals/{uuid.uuid4()}", headers=HX).status_code == 404


def test_outcome_closes_the_referral_and_shows_on_the_visit(app, sign_in, lobby1, referral):
    wealth = sign_in("wealth1")
    response = wealth.post(
        f"/referrals/{referral}/outcome",
        data={"result": "sold", "amount_band": "200k_1m", "note": ""},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-state="done"' in html and "<html" not in html
    with app.app_context():
        r = db.session.get(Referral, referral)
        assert (r.status, r.result, r.amount_band) == ("done", "sold", "200k_1m")
        assert r.outcome_by.username == "wealth1"
    board = lobby1.get("/lobby/board?lang=en", headers=HX).get_data(as_text=True)
    assert re.search(
        r'data-testid="referral-status">Referred to Wealth manager:\s*'
        r'<span data-testid="referral-state" data-state="done">Sold',
        board,
    )
    # A browser (no htmx) is sent back to the inbox.
    again = wealth.post(f"/referrals/{referral}/outcome", data={"result": "met"})
    assert again.status_code == 302


@pytest.mark.parametrize(
    "form, fragment",
    [
        ({"result": "sold"}, "amount band"),
        ({"result": "won"}, "result"),
        ({"result": "no_sale", "note": "call 13812345678"}, "mobile"),
    ],
)
def test_bad_outcomes_are_refused(app, sign_in, referral, form, fragment):
    wealth = sign_in("wealth1")
    before = count(app)
    response = wealth.post(f"/referrals/{referral}/outcome?lang=en", data=form, htmx=True)
    assert response.status_code == 422
    assert fragment in response.get_data(as_text=True)
    assert count(app) == before


def test_another_branch_cannot_see_or_close_a_referral(app, wealth_north, referral):
    assert referral not in wealth_north.get("/referrals").get_data(as_text=True)
    assert referral not in wealth_north.get("/referrals/list", headers=HX).get_data(as_text=True)
    assert wealth_north.get(f"/referrals/{referral}", headers=HX).status_code == 403
    before = count(app)
    assert (
        wealth_north.post(
            f"/referrals/{referral}/outcome", data={"result": "met"}, htmx=True
        ).status_code
        == 403
    )
    result = wealth_north.sync(
        [make_event("referral.outcome", referral, {"result": "met"}, branch="north")]
    ).get_json()["results"][0]
    assert result["error"]["code"] == "subject_mismatch"
    assert count(app) == before


@pytest.mark.parametrize("user", ["lobby1", "super1", "admin"])
def test_wrong_roles(sign_in, referral, user):
    client = sign_in(user)
    assert client.get("/referrals").status_code == 403
    assert client.get("/referrals/list", headers=HX).status_code == 403


def test_only_a_wealth_manager_records_outcomes(app, sign_in, lobby1, referral):
    teller = sign_in("teller1")
    assert teller.post(f"/referrals/{referral}/outcome", data={"result": "met"}).status_code == 403
    result = lobby1.sync([make_event("referral.outcome", referral, {"result": "met"})])
    assert result.get_json()["results"][0]["error"]["code"] == "forbidden"


def test_teller_refers_a_counter_customer(app, sign_in):
    teller = sign_in("teller1")
    response = teller.post(
        "/referrals",
        data={
            "to": "wealth",
            "purpose": "transfer",
            "segment": "regular",
            "consent": "yes",
            "note": "asks about 3-year deposits",
        },
        htmx=True,
    )
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    with app.app_context():
        r = db.session.scalar(select(Referral))
        assert (r.visit_id, r.to, r.purpose, r.created_by.username) == (
            None,
            "wealth",
            "transfer",
            "teller1",
        )
        db.session.remove()
    html = sign_in("wealth1").get("/referrals").get_data(as_text=True)
    assert "asks about 3-year deposits" in html
    assert teller.post("/referrals", data={"to": "corporate"}).status_code == 302


@pytest.mark.parametrize(
    "form",
    [
        {"to": "cashier"},
        {"to": "wealth", "note": "ID 11010519491231002X"},
        {"to": "wealth", "segment": "gold"},
    ],
)
def test_teller_bad_referrals(app, sign_in, form):
    teller = sign_in("teller1")
    before = count(app, Referral)
    response = teller.post("/referrals", data=form, htmx=True)
    assert response.status_code == 422 and 'role="alert"' in response.get_data(as_text=True)
    assert count(app, Referral) == before
    assert sign_in("wealth1").post("/referrals", data={"to": "wealth"}).status_code == 403


def test_an_accept_sent_again_is_a_duplicate_though_the_referral_is_now_closed(
    app, lobby1, sign_in, referral
):
    """Judged afresh, the repeat would be refused (the referral is cancelled): a
    refusal in the fast lane has the batch judged again with the stored ids read."""
    wealth = sign_in("wealth1")
    accept = make_event("referral.accepted", referral, {})
    assert [r["status"] for r in wealth.sync([accept]).get_json()["results"]] == ["accepted"]
    cancel = make_event("referral.cancelled", referral, {})
    assert [r["status"] for r in lobby1.sync([cancel]).get_json()["results"]] == ["accepted"]
    results = wealth.sync([accept]).get_json()["results"]
    assert [r["status"] for r in results] == ["duplicate"]
    late = make_event("referral.accepted", referral, {})
    assert wealth.sync([late]).get_json()["results"][0]["error"]["code"] == "referral_closed"


def test_undoing_a_referral_cancels_it(app, lobby1, referral):
    with app.app_context():
        visit_id = db.session.get(Referral, referral).visit_id
        step = db.session.scalar(select(Event).where(Event.type == "visit.referred")).id
        db.session.remove()
    results = lobby1.sync(
        [
            make_event("visit.undone", visit_id, {"event_id": step}),
            make_event("referral.cancelled", referral, {}),
        ]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    with app.app_context():
        assert db.session.get(Referral, referral).status == "cancelled"
        from app.models import Visit

        assert db.session.get(Visit, visit_id).referral_id is None
