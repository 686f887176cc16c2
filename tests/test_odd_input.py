"""No 500 on odd input (issue 13): each odd value gets a 4xx or a sensible answer.

Lone surrogates in an envelope (each event judged on its own), non-ASCII digits
in the pollers' `?since=`, dates out of the calendar's reach in the
supervisor's figures and exports, control characters in `?next=`.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event

from .conftest import CSRF_META, DEMO_PASSWORD, greeted


def sync_raw(client, body: str):
    """A body as bytes on the wire: json.dumps would refuse a lone surrogate's escape."""
    return client.post(
        "/api/v1/sync", data=body.encode("ascii"), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("field", ["branch", "device_id", "subject_id", "type", "id"])
def test_a_lone_surrogate_in_the_envelope_loses_only_its_event(app, lobby1, field):
    good, bad, after = greeted(), greeted(), greeted()
    bad[field] = "PLACEHOLDER"
    body = json.dumps({"events": [good, bad, after]}).replace("PLACEHOLDER", "x\\ud800y")
    response = sync_raw(lobby1, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["error"]["code"] == "invalid_envelope"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 2


def test_a_lone_surrogate_in_a_payload_key_or_value(app, lobby1):
    good, bad = greeted(), greeted(payload={"purpose": "cash", "ticket": "PLACEHOLDER"})
    body = json.dumps({"events": [bad, good]}).replace("PLACEHOLDER", "\\udfff")
    results = sync_raw(lobby1, body).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["error"]["code"] == "invalid_payload"
    key = json.dumps({"events": [greeted(payload={"purpose": "cash", "KEY": 1})]})
    results = sync_raw(lobby1, key.replace("KEY", "\\ud800")).get_json()["results"]
    assert results[0]["error"]["code"] == "invalid_payload"


def test_device_ids_of_the_server_are_reserved(app, lobby1):
    forged = greeted(device_id="server:1")
    results = lobby1.sync([forged, greeted()]).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["error"]["code"] == "reserved_device"


@pytest.mark.parametrize("since", ["²", "٣", "１", "9" * 5000, "-1", " 1"])
@pytest.mark.parametrize(
    "user, path",
    [("lobby1", "/lobby/board"), ("wealth1", "/referrals/list"), ("teller1", "/referrals/list")],
)
def test_pollers_take_any_since(sign_in, user, path, since):
    client = sign_in(user)
    response = client.get(path, query_string={"since": since}, headers={"HX-Request": "true"})
    assert response.status_code == 200  # not the version: the fragment, drawn anew


def test_the_pull_refuses_non_ascii_digits(lobby1):
    response = lobby1.get("/api/v1/events", query_string={"since": "²"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_cursor"


ODD_DATES = ["9999-12-31", "0001-01-01", "0001-01-02", "٢٠٢٦-١١-٢٩", "2026-02-30", "x" * 300]


@pytest.mark.parametrize("period", ["day", "week", "month", "range"])
@pytest.mark.parametrize("day", ODD_DATES)
def test_the_supervisors_figures_take_any_date(sign_in, period, day):
    super1 = sign_in("super1")
    for path in (
        "/supervisor",
        "/supervisor/figures",
        "/supervisor/exports",
        "/supervisor/export/visits.csv",
        "/supervisor/export/checklist.csv",
    ):
        query = {"period": period, "date": day, "start": day, "end": "9999-12-31"}
        response = super1.get(path, query_string=query)
        assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize(
    "target",
    [
        "/lobby\r\nSet-Cookie: x=1",
        "/lobby\x00",
        "/lobby\x7f",
        "/lobby\x85",
        "/\\evil.example",
        "/\\/evil.example",
    ],
)
def test_sign_in_ignores_a_next_with_control_characters(client, target):
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "lobby1", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/lobby"
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/lobby"
