"""The device API of docs/sync-contract.md: POST /api/v1/sync and GET /api/v1/events."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from app.events import EVENT_TYPES
from app.extensions import db
from app.models import Event, Subject, Visit

from .conftest import greeted, make_event


def event_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


def visit_state(app, visit_id: str) -> tuple | None:
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        if visit is None:
            return None
        return (
            visit.status,
            visit.purpose,
            visit.ticket,
            visit.outcome,
            visit.satisfaction,
            visit.close_note,
            visit.closed_at,
            visit.greeted_at,
        )


def closed(visit_id: str, outcome: str = "served", **kwargs) -> dict:
    payload = kwargs.pop("payload", {"outcome": outcome})
    return make_event("visit.closed", visit_id, payload, **kwargs)


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["status"] for r in response.get_json()["results"]]


def codes(response) -> list[str | None]:
    return [r.get("error", {}).get("code") for r in response.get_json()["results"]]


# --- pushing ----------------------------------------------------------------


def test_accepted_batch_answers_each_event_in_order(app, lobby1):
    visit = greeted(
        payload={"purpose": "cash", "ticket": "A031", "segment": "regular", "flags": ["elderly"]}
    )
    batch = [
        visit,
        closed(
            visit["subject_id"],
            payload={"outcome": "served", "satisfaction": 5, "note": "存50000元"},
        ),
    ]
    response = lobby1.sync(batch)
    body = response.get_json()
    assert [r["id"] for r in body["results"]] == [e["id"] for e in batch]
    assert statuses(response) == ["accepted", "accepted"]
    assert body["server_time"].endswith("Z")
    assert event_count(app) == 2
    state = visit_state(app, visit["subject_id"])
    assert state[:6] == ("closed", "cash", "A031", "served", 5, "存50000元")


def test_same_batch_twice_doubles_nothing(app, lobby1):
    batch = [greeted() for _ in range(5)]
    batch.append(closed(batch[0]["subject_id"]))
    assert statuses(lobby1.sync(batch)) == ["accepted"] * 6
    assert statuses(lobby1.sync(batch)) == ["duplicate"] * 6
    assert event_count(app) == 6
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visit)) == 5


def test_a_repeat_inside_one_batch_is_a_duplicate(app, lobby1):
    visit = greeted()
    assert statuses(lobby1.sync([visit, visit])) == ["accepted", "duplicate"]
    assert event_count(app) == 1


def test_a_duplicate_from_another_tablet_of_the_branch(app, lobby1, sign_in):
    visit = greeted()
    lobby1.sync([visit])
    assert statuses(sign_in("lobby2").sync([visit])) == ["duplicate"]
    assert event_count(app) == 1


def test_same_id_different_content_is_id_conflict(app, lobby1):
    visit = greeted()
    lobby1.sync([visit])
    changed = dict(visit, payload={"purpose": "loan"})
    response = lobby1.sync([changed])
    assert statuses(response) == ["rejected"] and codes(response) == ["id_conflict"]
    for field, value in (
        ("seq", visit["seq"] + 1),
        ("device_id", "other"),
        ("occurred_at", "2026-11-29T09:03:13.481+08:00"),
    ):
        assert codes(lobby1.sync([dict(visit, **{field: value})])) == ["id_conflict"]
    assert event_count(app) == 1
    assert visit_state(app, visit["subject_id"])[1] == "cash"


def test_same_instant_in_another_offset_is_the_same_content(app, lobby1):
    visit = greeted(occurred_at="2026-11-29T09:03:12.481+08:00")
    lobby1.sync([visit])
    same = dict(visit, occurred_at="2026-11-29T01:03:12.481Z")
    assert statuses(lobby1.sync([same])) == ["duplicate"]


def test_one_bad_event_does_not_block_the_others(app, lobby1):
    good1, good2 = greeted(), greeted()
    bad = greeted(payload={"purpose": "party"})
    response = lobby1.sync([good1, bad, good2])
    assert statuses(response) == ["accepted", "rejected", "accepted"]
    error = response.get_json()["results"][1]["error"]
    assert error["code"] == "invalid_payload" and error["message"]
    assert event_count(app) == 2
    assert visit_state(app, bad["subject_id"]) is None


@pytest.mark.parametrize(
    "event, code",
    [
        (dict(greeted(), colour="red"), "invalid_envelope"),
        (greeted(payload={"purpose": "cash", "colour": "red"}), "invalid_payload"),
        (greeted(payload={"purpose": "cash", "ticket": "A" * 11}), "invalid_payload"),
        (greeted(payload={"purpose": "cash", "flags": ["tall"]}), "invalid_payload"),
        (greeted(payload={}), "invalid_payload"),
        (greeted(payload=[]), "invalid_envelope"),
        (greeted(occurred_at="2026-11-29T09:03:12"), "invalid_envelope"),
        (greeted(seq=-1), "invalid_envelope"),
        (dict(greeted(), id="not-a-uuid"), "invalid_envelope"),
        (dict(greeted(), subject_id="not-a-uuid"), "invalid_envelope"),
        ({k: v for k, v in greeted().items() if k != "device_id"}, "invalid_envelope"),
        (make_event("visit.teleported", payload={}), "unknown_type"),
        (greeted(branch="nowhere"), "branch_forbidden"),
        ("not an object", "invalid_envelope"),
        (None, "invalid_envelope"),
        ([1, 2], "invalid_envelope"),
    ],
)
def test_refused_events(app, lobby1, event, code):
    good = greeted()
    response = lobby1.sync([event, good])
    assert statuses(response) == ["rejected", "accepted"]
    assert codes(response)[0] == code
    assert response.get_json()["results"][0]["error"]["message"]
    assert event_count(app) == 1


def test_rejection_messages_follow_the_language(lobby1):
    lobby1.get("/?lang=en")  # a redirect: the choice is remembered all the same
    english = lobby1.sync([greeted(payload={})]).get_json()["results"][0]["error"]["message"]
    assert english == "Missing field: purpose"
    lobby1.get("/api/v1/events?lang=zh")
    chinese = lobby1.sync([greeted(payload={})]).get_json()["results"][0]["error"]["message"]
    assert chinese != english and "purpose" in chinese


def test_personal_data_in_a_note_is_refused(app, lobby1):
    visit = greeted()
    lobby1.sync([visit])
    response = lobby1.sync(
        [
            closed(
                visit["subject_id"], payload={"outcome": "served", "note": "客户手机 138-1234-5678"}
            )
        ]
    )
    assert codes(response) == ["invalid_payload"]
    assert visit_state(app, visit["subject_id"])[0] == "waiting"


def test_a_role_that_may_not_record_the_type(app, sign_in):
    response = sign_in("teller1").sync([greeted()])
    assert codes(response) == ["forbidden"]
    assert event_count(app) == 0


def test_a_branch_the_user_may_not_write(app, lobby1, sign_in):
    assert codes(lobby1.sync([greeted(branch="north")])) == ["branch_forbidden"]
    assert codes(sign_in("lobby-north").sync([greeted(branch="demo")])) == ["branch_forbidden"]
    assert event_count(app) == 0


def test_unknown_subject(app, lobby1):
    response = lobby1.sync([closed(str(uuid.uuid4()))])
    assert codes(response) == ["unknown_subject"]
    assert event_count(app) == 0


def test_subject_exists(app, lobby1):
    visit = greeted()
    again = greeted(visit["subject_id"], payload={"purpose": "loan"})
    assert codes(lobby1.sync([visit, again])) == [None, "subject_exists"]
    assert event_count(app) == 1
    assert visit_state(app, visit["subject_id"])[1] == "cash"


def test_subject_of_another_branch(app, sign_in):
    visit = greeted(branch="north")
    sign_in("lobby-north").sync([visit])
    response = sign_in("lobby1").sync([closed(visit["subject_id"], branch="demo")])
    assert codes(response) == ["subject_mismatch"]
    assert visit_state(app, visit["subject_id"])[0] == "waiting"


# --- malformed batches ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{",
        "[]",
        "42",
        "null",
        json.dumps({"device_id": "d"}),
        json.dumps({"events": "x"}),
        json.dumps({"events": {"0": {}}}),
        json.dumps({"events": None}),
        "[" * 100_000 + "]" * 100_000,  # nested too deep for the parser
        b"\xff\xfe not utf-8",
    ],
)
def test_not_a_batch_is_400_and_writes_nothing(app, lobby1, body):
    response = lobby1.post("/api/v1/sync", data=body, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert event_count(app) == 0


def test_501_events_is_413_and_writes_nothing(app, lobby1):
    response = lobby1.sync([greeted() for _ in range(501)])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "batch_too_large"
    assert event_count(app) == 0


def test_500_events_is_fine(app, lobby1):
    assert statuses(lobby1.sync([greeted() for _ in range(500)])) == ["accepted"] * 500
    assert event_count(app) == 500


def test_body_over_1_mib_is_413_and_writes_nothing(app, lobby1):
    padding = "x" * 400
    events = [
        greeted(payload={"purpose": "cash", "ticket": "A1", "pad": padding}) for _ in range(2700)
    ]
    body = json.dumps({"device_id": "d", "events": events[:2700]})
    assert 1024 * 1024 < len(body) < app.config["MAX_CONTENT_LENGTH"]
    response = lobby1.post("/api/v1/sync", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "batch_too_large"
    assert event_count(app) == 0


def test_body_over_the_server_limit_is_413_json(app, lobby1):
    body = json.dumps({"events": [], "pad": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    response = lobby1.post("/api/v1/sync", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"]["code"]
    assert event_count(app) == 0


def test_not_signed_in_is_401_json(app, client):
    response = client.post("/api/v1/sync", json={"events": [greeted()]})
    assert response.status_code == 401 and response.is_json
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert event_count(app) == 0


def test_get_on_sync_is_405_json(lobby1):
    response = lobby1.get("/api/v1/sync")
    assert response.status_code == 405 and response.is_json


# --- pulling ----------------------------------------------------------------


def test_pull_pages_with_a_cursor(lobby1):
    sent = [greeted() for _ in range(5)]
    lobby1.sync(sent)
    first = lobby1.pull(limit=2).get_json()
    assert [e["id"] for e in first["events"]] == [e["id"] for e in sent[:2]]
    second = lobby1.pull(first["next"], limit=2).get_json()
    assert [e["id"] for e in second["events"]] == [e["id"] for e in sent[2:4]]
    third = lobby1.pull(second["next"], limit=2).get_json()
    assert [e["id"] for e in third["events"]] == [sent[4]["id"]]
    empty = lobby1.pull(third["next"], limit=2).get_json()
    assert empty == {"events": [], "next": third["next"]}
    # A new event shows up after the last cursor.
    later = greeted()
    lobby1.sync([later])
    assert [e["id"] for e in lobby1.pull(third["next"]).get_json()["events"]] == [later["id"]]


def test_pull_from_the_start_of_an_empty_stream(lobby1):
    assert lobby1.pull().get_json() == {"events": [], "next": ""}


def test_pulled_events_are_in_acceptance_order_with_received_at(lobby1, sign_in):
    lobby2 = sign_in("lobby2")
    late = greeted(occurred_at="2026-11-29T10:00:00+08:00")
    early = greeted(occurred_at="2026-11-29T08:00:00+08:00")
    lobby1.sync([late])
    lobby2.sync([early])
    events = lobby1.pull().get_json()["events"]
    assert [e["id"] for e in events] == [late["id"], early["id"]]
    assert [e["user"] for e in events] == ["lobby1", "lobby2"]
    first, second = events
    assert first["received_at"] <= second["received_at"]
    for sent, got in ((late, first), (early, second)):
        assert got["received_at"].endswith("Z")
        for field in ("id", "type", "subject_id", "branch", "device_id", "seq", "payload"):
            assert got[field] == sent[field]
    assert first["occurred_at"] == "2026-11-29T02:00:00.000Z"


def test_pull_limit_is_capped(app, lobby1):
    assert app.config["PULL_MAX_LIMIT"] == 1000 and app.config["PULL_DEFAULT_LIMIT"] == 500
    lobby1.sync([greeted() for _ in range(4)])
    app.config["PULL_MAX_LIMIT"] = 3
    assert len(lobby1.pull(limit=100).get_json()["events"]) == 3
    assert len(lobby1.pull(limit=10**30).get_json()["events"]) == 3
    app.config["PULL_DEFAULT_LIMIT"] = 2
    assert len(lobby1.pull().get_json()["events"]) == 2


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "99999999999999999999999999"])
def test_bad_cursor_is_400(lobby1, since):
    response = lobby1.get(f"/api/v1/events?since={since}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_cursor"


def test_bad_limit_is_400(lobby1):
    response = lobby1.get("/api/v1/events?limit=lots")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_limit"


# --- order of arrival does not matter ---------------------------------------


def _close_events(visit_id: str) -> list[dict]:
    return [
        closed(
            visit_id,
            "walked_away",
            occurred_at="2026-11-29T09:10:00+08:00",
            device_id="device-a",
            seq=10,
        ),
        closed(
            visit_id, "served", occurred_at="2026-11-29T09:20:00+08:00", device_id="device-b", seq=3
        ),
    ]


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_out_of_order_closes_give_the_same_visit(app, lobby1, order):
    """The later correction (by occurred_at) wins, whichever arrives first."""
    visit = greeted(occurred_at="2026-11-29T09:00:00+08:00")
    lobby1.sync([visit])
    closes = _close_events(visit["subject_id"])
    for i in order:
        assert statuses(lobby1.sync([closes[i]])) == ["accepted"]
    status, _purpose, _ticket, outcome, *_rest = visit_state(app, visit["subject_id"])
    assert (status, outcome) == ("closed", "served")
    with app.app_context():
        subject = db.session.get(Subject, visit["subject_id"])
        assert (subject.last_device_id, subject.last_seq) == ("device-b", 3)


def test_a_close_stamped_before_the_greeting_still_closes(app, lobby1, sign_in):
    """Another tablet's clock may run behind: its close sorts before the greeting."""
    visit = greeted(occurred_at="2026-11-29T09:00:00+08:00", device_id="device-a")
    lobby1.sync([visit])
    behind = closed(
        visit["subject_id"], occurred_at="2026-11-29T08:59:00+08:00", device_id="device-b"
    )
    assert statuses(sign_in("lobby2").sync([behind])) == ["accepted"]
    assert visit_state(app, visit["subject_id"])[0] == "closed"


# --- OpenAPI ----------------------------------------------------------------


def test_openapi_describes_both_paths_and_every_event_type(client):
    response = client.get("/api/v1/openapi.json")  # public: no sign-in needed
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api/v1/sync"]
    assert "get" in doc["paths"]["/api/v1/events"]
    schemas = doc["components"]["schemas"]
    assert EVENT_TYPES, "no event types registered"
    for name, etype in EVENT_TYPES.items():
        payload = schemas[f"payload.{name}"]
        assert payload["additionalProperties"] is False
        assert set(payload.get("properties", {})) == set(etype.payload.model_fields), name
        envelope = schemas[f"event.{name}"]
        assert envelope["properties"]["type"]["const"] == name
        assert envelope["properties"]["payload"]["$ref"] == f"#/components/schemas/payload.{name}"
        assert set(envelope["required"]) >= {
            "id",
            "type",
            "occurred_at",
            "subject_id",
            "branch",
            "device_id",
            "seq",
            "payload",
        }
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)
    greeted_schema = schemas["payload.visit.greeted"]
    assert greeted_schema["required"] == ["purpose"]
    closed_schema = schemas["payload.visit.closed"]
    assert set(closed_schema["properties"]) == {"outcome", "satisfaction", "note"}
