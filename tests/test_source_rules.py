"""The source document's rules: small cash to the machines, large cash to the counter with
a wealth-manager alert, large transfers to another bank and the funds kept."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.lobby.rules import Rule, branch_rules, large_cash_band, save_rules, suggest_route
from app.models import Branch, Visit
from app.supervisor.figures import compute, period_for

from .authz_fixtures import stamp
from .conftest import make_event


def demo_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == "demo"))


def test_only_small_cash_goes_to_the_machines(app):
    with app.app_context():
        rules = branch_rules(demo_id(app))
        assert suggest_route(rules, "cash") == "self_service"
        assert suggest_route(rules, "cash", "lt_50k") == "self_service"
        assert suggest_route(rules, "cash", "50k_200k") == "counter"
        assert suggest_route(rules, "cash", "gt_1m") == "counter"
        assert large_cash_band(rules) == "50k_200k"
        # The admin moves the threshold: the cash rule's large amount (/lobby/settings).
        assert (
            large_cash_band([Rule("cash", "self_service"), Rule("cash", "counter", "200k_1m")])
            == "200k_1m"
        )
        assert large_cash_band([Rule("cash", "self_service")]) is None


def cash_visit(lobby, band: str) -> str:
    visit = str(uuid.uuid4())
    results = lobby.sync(
        [
            make_event(
                "visit.greeted",
                visit,
                {"purpose": "cash", "ticket": f"C{band[:3]}"},
                occurred_at=stamp(3),
            ),
            make_event(
                "visit.triaged",
                visit,
                {"route": "counter", "amount_band": band},
                occurred_at=stamp(2),
            ),
        ]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"], results
    return visit


def test_large_cash_alerts_the_wealth_managers_until_the_visit_ends(app, lobby1, sign_in):
    wealth1 = sign_in("wealth1")
    cash_visit(lobby1, "lt_50k")
    assert 'data-testid="large-cash-alert"' not in wealth1.get("/referrals").get_data(as_text=True)
    big = cash_visit(lobby1, "50k_200k")
    html = wealth1.get("/referrals?lang=en").get_data(as_text=True)
    assert 'data-testid="large-cash-alert" data-count="1"' in html and "C50k" in html
    # The list fragment the page polls sees it too (a triage changes the list's version).
    fragment = wealth1.get("/referrals/list", headers={"HX-Request": "true"})
    assert 'data-testid="large-cash-alert"' in fragment.get_data(as_text=True)
    lobby1.sync([make_event("visit.closed", big, {"outcome": "served"}, occurred_at=stamp(1))])
    assert 'data-testid="large-cash-alert"' not in wealth1.get("/referrals").get_data(as_text=True)


def test_a_higher_threshold_set_by_the_admin_stops_the_alert(app, lobby1, sign_in):
    with app.app_context():
        rules = [r for r in branch_rules(demo_id(app)) if r.purpose != "cash"]
        save_rules(
            demo_id(app), rules + [Rule("cash", "self_service"), Rule("cash", "counter", "200k_1m")]
        )
        db.session.commit()
    cash_visit(lobby1, "50k_200k")
    teller = sign_in("teller1")
    assert 'data-testid="large-cash-alert"' not in teller.get("/referrals").get_data(as_text=True)


def test_a_large_transfer_to_another_bank_and_the_funds_kept_are_counted(app, lobby1, sign_in):
    visit = str(uuid.uuid4())
    at = "2026-11-10T10:0{}:00+08:00"
    results = lobby1.sync(
        [
            make_event("visit.greeted", visit, {"purpose": "transfer"}, occurred_at=at.format(1)),
            make_event(
                "visit.triaged",
                visit,
                {"route": "wealth", "amount_band": "200k_1m", "to_other_bank": True},
                occurred_at=at.format(2),
            ),
            make_event(
                "visit.funds_kept", visit, {"amount_band": "200k_1m"}, occurred_at=at.format(5)
            ),
            make_event("visit.closed", visit, {"outcome": "served"}, occurred_at=at.format(6)),
        ]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 4, results
    with app.app_context():
        row = db.session.get(Visit, visit)
        assert (row.to_other_bank, row.funds_kept_band) == (True, "200k_1m")
        demo = db.session.get(Branch, demo_id(app))
        fig = compute([demo], period_for("day", date(2026, 11, 10)), today=date(2026, 11, 10))
        assert (fig["to_other_bank"], fig["funds_kept"]) == (1, 1)
        assert fig["funds_kept_bands"] == {"200k_1m": 1}
    export = lobby1  # the lobby manager may not export; the branch head does
    super1 = sign_in("super1")
    raw = super1.get("/supervisor/export/visits.csv?period=day&date=2026-11-10&lang=en").get_data()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, [row] = rows[0], rows[1:]
    facts = dict(zip(header, row, strict=True))
    assert (facts["To another bank"], facts["Funds kept"]) == ("1", "200k_1m")
    assert facts["Recommended before a need was known"] == "0"
    assert export.get("/supervisor/export/visits.csv").status_code == 403


def test_funds_kept_needs_a_known_band_and_nothing_else(app, lobby1):
    visit = str(uuid.uuid4())
    lobby1.sync([make_event("visit.greeted", visit, {"purpose": "transfer"})])
    for payload in ({}, {"amount_band": "lots"}, {"amount_band": "lt_50k", "bank": "ICBC"}):
        result = lobby1.sync([make_event("visit.funds_kept", visit, payload)]).get_json()
        assert result["results"][0]["error"]["code"] == "invalid_payload", payload
    result = lobby1.sync(
        [make_event("visit.triaged", visit, {"route": "counter", "to_other_bank": "yes"})]
    )
    assert result.get_json()["results"][0]["error"]["code"] == "invalid_payload"


def test_the_dialogs_ask_the_band_for_cash_and_offer_the_talking_points(lobby1):
    html = lobby1.get("/lobby?lang=en").get_data(as_text=True)
    assert "Amount (cash or transfer)" in html
    assert 'data-toggle="to_other_bank"' in html and 'data-testid="talking-points"' in html
    for words in ("Fee", "Arrival time", "Our product", "leaflet"):
        assert words in html
    assert 'data-testid="kept-200k_1m"' in html


def test_the_openapi_document_has_the_new_fields(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert "to_other_bank" in schemas["payload.visit.triaged"]["properties"]
    assert schemas["payload.visit.funds_kept"]["required"] == ["amount_band"]
