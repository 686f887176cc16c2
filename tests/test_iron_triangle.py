"""The iron triangle: a referral named to a wealth manager, taken ("on my way"), handed on,
closed with the product sold; the visit called to a counter (docs/events-lobby.md)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC

import pytest
from sqlalchemy import func, select

from app.events import rebuild
from app.extensions import db
from app.models import Event, Referral, Subject, User, Visit

from .conftest import greeted, make_event

HX = {"HX-Request": "true"}


def results(client, *events):
    return client.sync(list(events)).get_json()["results"]


def codes(answers):
    return [r["status"] if r["status"] != "rejected" else r["error"]["code"] for r in answers]


def referral_row(app, referral_id):
    with app.app_context():
        r = db.session.get(Referral, referral_id)
        row = {
            "status": r.status,
            "assignee": r.assignee and r.assignee.username,
            "taker": r.accepted_by and r.accepted_by.username,
            "consent": r.consent,
            "accepted_at": r.accepted_at,
            "product": r.product,
            "result": r.result,
        }
        db.session.remove()
        return row


def refer(lobby1, **extra):
    """A waiting visit and its referral made on the lobby tablet."""
    visit_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    answers = results(
        lobby1,
        greeted(visit_id, payload={"purpose": "wealth", "ticket": "W001"}),
        make_event("visit.referred", visit_id, {"referral_id": referral_id, "to": "wealth"}),
        make_event(
            "referral.created",
            referral_id,
            {"visit_id": visit_id, "to": "wealth", "consent": True, **extra},
        ),
    )
    assert codes(answers) == ["accepted"] * 3, answers
    return visit_id, referral_id


@pytest.fixture
def wealth1(sign_in):
    return sign_in("wealth1")


@pytest.fixture
def wealth2(sign_in):
    return sign_in("wealth2")


# --- referral.created: assignee and consent -------------------------------------


def test_a_referral_names_its_wealth_manager_and_the_consent(app, lobby1):
    _visit, referral_id = refer(lobby1, assignee="wealth2")
    assert referral_row(app, referral_id)["assignee"] == "wealth2"
    assert referral_row(app, referral_id)["consent"] is True


def test_without_assignee_or_consent_as_older_clients_send_it(app, lobby1):
    answers = results(lobby1, make_event("referral.created", None, {"to": "wealth"}))
    assert codes(answers) == ["accepted"]


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"to": "wealth", "assignee": "lobby2"}, "unknown_assignee"),  # not a wealth manager
        ({"to": "wealth", "assignee": "nobody"}, "unknown_assignee"),
        ({"to": "wealth", "assignee": "wealth-north"}, "unknown_assignee"),  # another branch
        ({"to": "corporate", "assignee": "wealth1"}, "invalid_payload"),
        ({"to": "wealth", "consent": False}, "invalid_payload"),
        ({"to": "wealth", "consent": "yes"}, "invalid_payload"),
        ({"to": "wealth", "assignee": ""}, "invalid_payload"),
    ],
)
def test_bad_assignees_and_consents_are_refused(app, lobby1, payload, code):
    with app.app_context():
        from app.models import Branch, Role

        north = db.session.scalar(select(Branch).where(Branch.code == "north"))
        user = User(username="wealth-north", role=Role.WEALTH_MANAGER, branches=[north])
        user.set_password("unused-password-1")
        db.session.add(user)
        db.session.commit()
        db.session.remove()
    assert codes(results(lobby1, make_event("referral.created", None, payload))) == [code]


# --- referral.accepted ----------------------------------------------------------


def test_the_first_wealth_manager_takes_it_the_second_is_told(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    assert codes(results(wealth1, make_event("referral.accepted", referral_id))) == ["accepted"]
    assert codes(results(wealth2, make_event("referral.accepted", referral_id))) == [
        "already_taken"
    ]
    # The same wealth manager tapping twice: accepted, and nothing changes.
    first = referral_row(app, referral_id)
    assert codes(
        results(
            wealth1,
            make_event("referral.accepted", referral_id, occurred_at="2026-11-29T09:09:00+08:00"),
        )
    ) == ["accepted"]
    assert referral_row(app, referral_id) == first
    assert first["status"] == "accepted" and first["taker"] == "wealth1"


def test_only_the_assignee_takes_a_named_referral(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1, assignee="wealth2")
    assert codes(results(wealth1, make_event("referral.accepted", referral_id))) == ["not_assignee"]
    assert codes(results(wealth2, make_event("referral.accepted", referral_id))) == ["accepted"]


def test_only_wealth_managers_take_and_payload_is_empty(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)
    assert codes(results(lobby1, make_event("referral.accepted", referral_id))) == ["forbidden"]
    assert codes(results(wealth1, make_event("referral.accepted", referral_id, {"x": 1}))) == [
        "invalid_payload"
    ]


def test_a_finished_referral_cannot_be_taken(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)
    assert codes(results(lobby1, make_event("referral.cancelled", referral_id))) == ["accepted"]
    assert codes(results(wealth1, make_event("referral.accepted", referral_id))) == [
        "referral_closed"
    ]


def test_the_fold_keeps_the_taker_when_rebuilt_in_event_order(app, lobby1, wealth1):
    """A late cancel from an offline tablet, timed after the accept, leaves the same taker."""
    _visit, referral_id = refer(lobby1)
    assert codes(
        results(
            wealth1,
            make_event("referral.accepted", referral_id, occurred_at="2026-11-29T09:05:00+08:00"),
        )
    ) == ["accepted"]
    before = referral_row(app, referral_id)
    with app.app_context():
        rebuild(db.session.get(Subject, referral_id))
        db.session.commit()
        db.session.remove()
    assert referral_row(app, referral_id) == before
    # A cancel that happened (on the tablet's clock) before the accept, arriving later.
    assert codes(
        results(
            lobby1,
            make_event("referral.cancelled", referral_id, occurred_at="2026-11-29T09:04:00+08:00"),
        )
    ) == ["accepted"]
    assert referral_row(app, referral_id)["status"] == "cancelled"


# --- referral.reassigned --------------------------------------------------------


def test_hand_off_to_a_colleague(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    results(wealth1, make_event("referral.accepted", referral_id))
    assert codes(
        results(wealth2, make_event("referral.reassigned", referral_id, {"assignee": "wealth1"}))
    ) == ["not_yours"]
    assert codes(
        results(wealth1, make_event("referral.reassigned", referral_id, {"assignee": "lobby1"}))
    ) == ["unknown_assignee"]
    assert codes(
        results(wealth1, make_event("referral.reassigned", referral_id, {"assignee": "wealth2"}))
    ) == ["accepted"]
    row = referral_row(app, referral_id)
    assert (row["status"], row["assignee"], row["taker"]) == ("open", "wealth2", None)
    assert codes(results(wealth1, make_event("referral.accepted", referral_id))) == ["not_assignee"]
    assert codes(results(wealth2, make_event("referral.accepted", referral_id))) == ["accepted"]


# --- referral.outcome: the product sold -----------------------------------------


def test_outcome_with_the_product_sold(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)
    bad = results(
        wealth1,
        make_event(
            "referral.outcome",
            referral_id,
            {"result": "sold", "amount_band": "200k_1m", "product": "no-such"},
        ),
    )
    assert codes(bad) == ["unknown_product"]
    assert codes(
        results(
            wealth1,
            make_event("referral.outcome", referral_id, {"result": "met", "product": "wm-stable"}),
        )
    ) == ["invalid_payload"]
    assert codes(
        results(
            wealth1,
            make_event(
                "referral.outcome",
                referral_id,
                {"result": "sold", "amount_band": "200k_1m", "product": "wm-stable"},
            ),
        )
    ) == ["accepted"]
    row = referral_row(app, referral_id)
    assert (row["status"], row["result"], row["product"]) == ("done", "sold", "wm-stable")


def outcome(result="met"):
    return {"result": result}


def test_only_the_wealth_manager_who_has_it_records_the_outcome(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    results(wealth1, make_event("referral.accepted", referral_id))
    assert codes(results(wealth2, make_event("referral.outcome", referral_id, outcome()))) == [
        "not_yours"
    ]
    assert referral_row(app, referral_id)["status"] == "accepted"
    assert codes(results(wealth1, make_event("referral.outcome", referral_id, outcome()))) == [
        "accepted"
    ]
    # A correction is for the one who recorded it.
    assert codes(
        results(wealth2, make_event("referral.outcome", referral_id, outcome("no_sale")))
    ) == ["not_yours"]
    assert codes(
        results(wealth1, make_event("referral.outcome", referral_id, outcome("no_sale")))
    ) == ["accepted"]
    assert referral_row(app, referral_id)["result"] == "no_sale"


def test_a_named_referral_nobody_took_is_its_assignees_to_close(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1, assignee="wealth1")

    def card(client):
        page = client.get("/referrals").get_data(as_text=True)
        return re.search(rf'<li[^>]*data-referral-id="{referral_id}".*?</li>', page, re.S).group(0)

    assert 'data-testid="result-sold"' in card(wealth1)
    assert 'data-testid="result-sold"' not in card(wealth2)  # no form the server would refuse
    assert codes(results(wealth2, make_event("referral.outcome", referral_id, outcome()))) == [
        "not_yours"
    ]
    assert codes(results(wealth1, make_event("referral.outcome", referral_id, outcome()))) == [
        "accepted"
    ]


def test_a_cancelled_referral_takes_no_outcome(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)
    results(lobby1, make_event("referral.cancelled", referral_id))
    assert codes(results(wealth1, make_event("referral.outcome", referral_id, outcome()))) == [
        "referral_closed"
    ]
    assert referral_row(app, referral_id)["status"] == "cancelled"


# --- visit.called ----------------------------------------------------------------


def test_a_visit_is_called_by_the_lobby_or_a_teller(app, lobby1, sign_in):
    visit_id = str(uuid.uuid4())
    results(lobby1, greeted(visit_id))
    teller = sign_in("teller1")
    assert codes(
        results(
            teller,
            make_event(
                "visit.called", visit_id, {"counter": "3"}, occurred_at="2026-11-29T09:10:00+08:00"
            ),
        )
    ) == ["accepted"]
    assert codes(
        results(
            lobby1,
            make_event(
                "visit.called", visit_id, {"counter": "5"}, occurred_at="2026-11-29T09:12:00+08:00"
            ),
        )
    ) == ["accepted"]
    with app.app_context():
        v = db.session.get(Visit, visit_id)
        assert (v.called_at.isoformat(), v.called_counter) == ("2026-11-29T01:10:00+00:00", "5")
        db.session.remove()
    assert codes(
        results(lobby1, make_event("visit.called", visit_id, {"counter": "12345678901"}))
    ) == ["invalid_payload"]
    assert codes(results(lobby1, make_event("visit.called", visit_id, {}))) == ["accepted"]
    assert codes(results(sign_in("wealth1"), make_event("visit.called", visit_id))) == ["forbidden"]


# --- the pages -------------------------------------------------------------------


def test_inbox_cards_carry_the_contract_test_hooks(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    html = wealth1.get("/referrals").get_data(as_text=True)
    card = re.search(rf'<li[^>]*data-referral-id="{referral_id}"[^>]*>', html).group(0)
    assert 'data-testid="referral-card"' in card and 'data-state="open"' in card
    assert 'data-testid="accept-referral"' in html
    taken = wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    assert taken.status_code == 200 and 'data-state="accepted"' in taken.get_data(as_text=True)
    assert 'data-testid="accept-referral"' not in taken.get_data(as_text=True)
    late = wealth2.post(f"/referrals/{referral_id}/accept?lang=en", htmx=True)
    text = late.get_data(as_text=True)
    assert late.status_code == 422 and "Another wealth manager has taken" in text
    assert 'data-state="accepted"' in text and "Taken by" in text
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Event).where(Event.type == "referral.accepted")
            )
            == 1
        )
        db.session.remove()


def test_the_losers_message_stays_until_the_list_changes_again(lobby1, wealth1, wealth2):
    """The answer to a tap carries the list's version with the card, so the list's
    poll (every 2 s) does not redraw the list, and wipe the message, for a change
    the card already shows."""
    _visit, referral_id = refer(lobby1)
    wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    late = wealth2.post(f"/referrals/{referral_id}/accept?lang=en", htmx=True)
    text = late.get_data(as_text=True)
    assert late.status_code == 422 and "Another wealth manager has taken" in text
    oob = re.search(r'<input type="hidden" id="referrals-since" [^>]*hx-swap-oob="true">', text)
    since = re.search(r'value="([\d-]+)"', oob.group(0)).group(1)
    poll = {"HX-Request": "true", "X-Datang-Background": "1"}
    assert wealth2.get(f"/referrals/list?since={since}", headers=poll).status_code == 204
    refer(lobby1)  # something else happens: the list is drawn again
    assert wealth2.get(f"/referrals/list?since={since}", headers=poll).status_code == 200


def test_the_lobby_card_shows_who_took_it(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)
    board = lobby1.get("/lobby/board?lang=en", headers=HX).get_data(as_text=True)
    assert 'data-testid="referral-state" data-state="open"' in board
    wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    board = lobby1.get("/lobby/board?lang=en", headers=HX).get_data(as_text=True)
    assert re.search(
        r'data-testid="referral-state" data-state="accepted">Taken by 理财经理<', board
    )


def test_an_open_referral_turns_amber_after_the_branch_time(app, lobby1, wealth1):
    _visit, referral_id = refer(lobby1)  # created at 2026-11-29 09:03: long past
    html = wealth1.get("/referrals").get_data(as_text=True)
    card = re.search(rf'<li[^>]*data-referral-id="{referral_id}"[^>]*>', html).group(0)
    assert "overdue" in card
    board = lobby1.get("/lobby/board", headers=HX).get_data(as_text=True)
    assert "step-referral overdue" in board
    wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    assert "step-referral overdue" not in lobby1.get("/lobby/board", headers=HX).get_data(
        as_text=True
    )


def test_a_fresh_referral_arms_its_amber_clock(app, lobby1, wealth1):
    from datetime import datetime

    now = datetime.now(UTC).isoformat()
    visit_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    results(
        lobby1,
        greeted(visit_id, occurred_at=now),
        make_event(
            "referral.created", referral_id, {"visit_id": visit_id, "to": "wealth"}, occurred_at=now
        ),
    )
    html = wealth1.get("/referrals").get_data(as_text=True)
    seconds = int(re.search(r'data-overdue-in="(\d+)"', html).group(1))
    assert 170 <= seconds <= 180


def test_list_poll_answers_204_until_something_changes(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    html = wealth2.get("/referrals/list", headers=HX).get_data(as_text=True)
    version = re.search(r'name="since" value="([\d-]+)"', html).group(1)
    assert wealth2.get(f"/referrals/list?since={version}", headers=HX).status_code == 204
    wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    again = wealth2.get(f"/referrals/list?since={version}", headers=HX)
    assert again.status_code == 200 and 'data-state="accepted"' in again.get_data(as_text=True)


def test_hand_off_and_outcome_from_the_page(app, lobby1, wealth1, wealth2):
    _visit, referral_id = refer(lobby1)
    wealth1.post(f"/referrals/{referral_id}/accept", htmx=True)
    handed = wealth1.post(
        f"/referrals/{referral_id}/reassign", data={"assignee": "wealth2"}, htmx=True
    )
    assert handed.status_code == 200 and 'data-state="open"' in handed.get_data(as_text=True)
    assert (
        wealth1.post(
            f"/referrals/{referral_id}/reassign", data={"assignee": "nobody"}, htmx=True
        ).status_code
        == 422
    )
    wealth2.post(f"/referrals/{referral_id}/accept", htmx=True)
    done = wealth2.post(
        f"/referrals/{referral_id}/outcome",
        data={"result": "sold", "amount_band": "50k_200k", "product": "wm-stable"},
        htmx=True,
    )
    assert done.status_code == 200
    row = referral_row(app, referral_id)
    assert (row["status"], row["product"], row["taker"]) == ("done", "wm-stable", "wealth2")


def test_teller_refers_to_a_named_wealth_manager_with_consent(app, sign_in):
    teller = sign_in("teller1")
    refused = teller.post("/referrals?lang=en", data={"to": "wealth"}, htmx=True)
    assert refused.status_code == 422 and "agree" in refused.get_data(as_text=True)
    ok = teller.post(
        "/referrals", data={"to": "wealth", "assignee": "wealth2", "consent": "yes"}, htmx=True
    )
    assert ok.status_code == 200
    with app.app_context():
        r = db.session.scalar(select(Referral))
        assert (r.assignee.username, r.consent) == ("wealth2", True)
        db.session.remove()
    assert teller.post("/referrals", data={"to": "corporate"}, htmx=True).status_code == 200


@pytest.mark.parametrize("user", ["lobby1", "teller1", "super1", "admin"])
def test_only_wealth_managers_accept_or_hand_on(app, lobby1, sign_in, user):
    _visit, referral_id = refer(lobby1)
    client = sign_in(user)
    assert client.post(f"/referrals/{referral_id}/accept", htmx=True).status_code == 403
    assert (
        client.post(
            f"/referrals/{referral_id}/reassign", data={"assignee": "wealth1"}, htmx=True
        ).status_code
        == 403
    )


def test_the_wealth_and_teller_pages_are_installable_tablet_pages(sign_in):
    """Service worker, sync badge and install button, with their own pages kept offline."""
    for user, url, kept in (
        ("wealth1", "/referrals", "/waiting"),
        ("wealth1", "/waiting", "/waiting"),
        ("teller1", "/referrals", "/counter"),
    ):
        html = sign_in(user).get(url).get_data(as_text=True)
        assert 'data-testid="sync-status"' in html and 'data-sw="/sw.js"' in html, url
        assert 'data-testid="install-app"' in html
        assert kept in html.split('data-offline-urls="')[1].split('"')[0], url
