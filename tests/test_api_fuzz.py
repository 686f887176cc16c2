"""schemathesis against /api/v1/openapi.json, signed in as a lobby manager (issue #7).

Every operation of the document gets generated requests, positive (what the
document allows) and negative (what it does not), sent in-process through the
WSGI app with the session cookie and the X-CSRFToken header. Each answer must be
no server error, of a documented status code and content type, match its
schema and its documented headers. After the run, the database holds exactly
the events the server answered `accepted`: nothing half-written.

The count is bounded for CI: DATANG_FUZZ_EXAMPLES cases per operation and mode
(default 40: ~200 cases, ~10 s on SQLite, ~30 s on PostgreSQL). Generation is
derandomized, so a run is repeatable; DATANG_FUZZ_SEED picks another fixed seed.
`bench/fuzz_api.py` runs the same with >= 1,000 cases.

Works on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event
from testbed.clients import greeted
from testbed.fuzz import CHECKS, EXAMPLES, Fuzzer, Report

# --- the tests ----------------------------------------------------------------


def test_generated_requests_signed_in_match_the_document(app):
    fuzzer = Fuzzer(app)
    report = fuzzer.run_all()
    print(report.summary())
    assert report.cases >= 4 * min(EXAMPLES, 10), report.summary()
    assert not report.failures, report.summary()
    assert report.server_errors == 0
    # Every operation was reached with a success, not only refused.
    assert {label for label, status in report.statuses if status == 200} == {
        op.label for op in fuzzer.operations()
    }
    # Nothing half-written: the stored events are exactly those answered `accepted`.
    assert fuzzer.stored_event_ids() == report.accepted


def test_every_operation_without_a_session_is_401_json(app):
    fuzzer = Fuzzer(app)
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    cases = 0
    for operation in fuzzer.operations():
        security = document["paths"][operation.path][operation.method.lower()].get(
            "security", document["security"]
        )

        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            nonlocal cases
            cases += 1
            for csrf in (True, False):
                response = fuzzer.call(case, signed_in=False, csrf=csrf)
                case.validate_response(response, checks=CHECKS)
                if security == []:  # public: the document itself
                    assert response.status_code == 200
                    continue
                assert response.status_code == 401, (operation.label, response.status_code)
                assert response.headers["content-type"][0].startswith("application/json")
                assert "location" not in response.headers
                assert response.json()["error"]["code"] == "unauthenticated"

        check()
    assert cases >= 4
    assert fuzzer.stored_event_ids() == fuzzer.report.accepted  # only the seeded ones


def test_signed_in_post_without_csrf_token_is_400_json_and_writes_nothing(app):
    fuzzer = Fuzzer(app)
    posts = [op for op in fuzzer.operations() if op.method.upper() == "POST"]
    assert posts

    @settings(
        max_examples=10,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data):
        operation = data.draw(st.sampled_from(posts))
        case = data.draw(fuzzer.strategy(operation, GenerationMode.POSITIVE))
        response = fuzzer.call(case, csrf=False)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "csrf_failed"

    check()
    assert fuzzer.stored_event_ids() == fuzzer.report.accepted


def test_the_fuzzer_can_fail(app, monkeypatch):
    """A server error and an answer the document does not describe are both caught."""
    from app.sync import routes

    fuzzer = Fuzzer(app)
    session = next(op for op in fuzzer.operations() if op.path == "/api/v1/session")

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "sync.session_info", broken)
    fuzzer.run(session, GenerationMode.POSITIVE, 3)
    assert fuzzer.report.server_errors and fuzzer.report.failures

    fuzzer.report = Report()
    monkeypatch.setitem(
        app.view_functions,
        "sync.session_info",
        lambda: routes.jsonify(user=1, csrf_token="t", cursor=""),
    )
    fuzzer.run(session, GenerationMode.POSITIVE, 3)
    assert fuzzer.report.failures and not fuzzer.report.server_errors


# --- what the fuzzer found, kept as plain regressions ------------------------------


def _ev(**fields) -> dict:
    return {**greeted(), **fields}


MALFORMED_EVENTS = {
    # PostgreSQL stores no NUL in text: a 500 there (DataError) before the guard.
    "nul in device_id": lambda: _ev(device_id="tablet\u0000"),
    "nul in branch": lambda: _ev(branch="de\u0000mo"),
    "nul in a payload string": lambda: greeted(payload={"purpose": "cash", "ticket": "A\u0000"}),
    "nul in a payload key": lambda: greeted(payload={"purpose": "cash", "t\u0000": 1}),
    # Valid RFC 3339, but an hour before year 1 in UTC: OverflowError, a 500 on both.
    "occurred_at before year 1 in UTC": lambda: _ev(occurred_at="0001-01-01T00:00:00+01:00"),
    "occurred_at after year 9999 in UTC": lambda: _ev(occurred_at="9999-12-31T23:30:00-01:00"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_EVENTS))
def test_a_malformed_event_is_rejected_alone_not_a_500(app, lobby1, name):
    good = greeted()
    response = lobby1.sync([good, MALFORMED_EVENTS[name](), greeted()])
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["error"]["code"] in ("invalid_envelope", "invalid_payload")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 2


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": [NaN]}',
        b'{"events": [], "x": Infinity}',
        b'{"events": [' + b"[" * 50000 + b"]" * 50000 + b"]}",
        b'{"events": [{"seq": ' + b"9" * 5000 + b"}]}",
        b'{"events": [{"id": "\xff"}]}',
    ],
)
def test_a_body_that_is_not_json_is_400(app, lobby1, body):
    response = lobby1.post("/api/v1/sync", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_batch"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", None])
def test_a_json_body_is_read_whatever_its_content_type(app, lobby1, content_type):
    """The contract names no Content-Type: fetch() with a string body says text/plain."""
    body = '{"device_id": "d", "events": [' + json.dumps(greeted()) + "]}"
    response = lobby1.post("/api/v1/sync", data=body, content_type=content_type)
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["accepted"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_batch_posted_as_a_form_is_400_and_writes_nothing(app, lobby1, content_type):
    body = '{"device_id": "d", "events": [' + json.dumps(greeted()) + "]}"
    response = lobby1.post("/api/v1/sync", data=body, content_type=content_type)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_or_no_content_type_is_read_as_json(lobby1, content_type):
    body = '{"device_id": "d", "events": [' + json.dumps(greeted()) + "]}"
    kwargs = {"content_type": content_type} if content_type else {}
    response = lobby1.post("/api/v1/sync", data=body, **kwargs)
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == "accepted"
