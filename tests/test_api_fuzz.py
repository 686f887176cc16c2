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
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event

from .conftest import SignedIn, greeted

EXAMPLES = int(os.environ.get("DATANG_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("DATANG_FUZZ_SEED")
USERNAME = "lobby1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@dataclass
class Report:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # label, curl, error
    accepted: set[str] = field(default_factory=set)
    results: Counter = field(default_factory=Counter)  # (status, error code) of sync results

    @property
    def server_errors(self) -> int:
        return sum(n for (_label, status), n in self.statuses.items() if status >= 500)

    def summary(self, limit: int = 10) -> str:
        lines = [f"{self.cases} cases, {len(self.failures)} failures, "
                 f"{self.server_errors} server errors"]
        seen = set()
        for label, curl, error in self.failures:
            key = (label, error.splitlines()[0] if error else "")
            if key in seen:
                continue
            seen.add(key)
            lines += [f"--- {label}", curl, error]
            if len(seen) >= limit:
                break
        return "\n".join(lines)


class Fuzzer:
    """Runs generated cases against `app`, authenticated as a signed-in user."""

    def __init__(self, app, username: str = USERNAME):
        self.app = app
        self.user = SignedIn(app.test_client(), username)
        self.cookie = self.user.client.get_cookie("session").value
        self.known_visits = self._seed_events()
        self.schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        self.report = Report()
        self.report.accepted |= set(self._seeded_ids)

    def _seed_events(self) -> list[str]:
        """A few accepted events, so that the pull side answers stored events too."""
        visits = [str(uuid.uuid4()) for _ in range(3)]
        events = [greeted(v) for v in visits]
        events.append({**greeted(visits[0]), "type": "visit.closed", "id": str(uuid.uuid4()),
                       "payload": {"outcome": "served", "satisfaction": 5}})
        response = self.user.sync(events)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert [r["status"] for r in response.get_json()["results"]] == ["accepted"] * 4
        self._seeded_ids = [e["id"] for e in events]
        return visits[1:]  # still waiting: later events about them can be accepted

    def operations(self):
        """Every operation of the document (schemathesis' own iteration leaves out the
        path the document was loaded from)."""
        for path, methods in self.schema.raw_schema["paths"].items():
            for method in methods:
                yield self.schema[path][method.upper()]

    def strategy(self, operation, mode: GenerationMode):
        cases = operation.as_strategy(mode)
        if operation.method.upper() == "POST" and mode == GenerationMode.POSITIVE:
            # Point some of the generated events at what exists, so that they get past
            # the branch and subject checks into the event types' own code.
            return st.tuples(cases, st.booleans(), st.booleans(),
                             st.sampled_from(self.known_visits)).map(self._aim)
        return cases

    def _aim(self, drawn):
        case, own_branch, own_user, visit_id = drawn
        # JSON Schema's integer admits 274.0, which JSON.stringify never writes and the
        # server's strict types refuse (`rejected`): send it as a JS client would.
        case.body = _as_javascript_json(case.body)
        if own_user and case.headers and "X-Datang-User" in case.headers:
            case.headers["X-Datang-User"] = self.user.username
        if own_branch and isinstance(case.body, dict):
            for event in case.body.get("events", []):
                if isinstance(event, dict):
                    event["branch"] = "demo"
                    if event.get("type", "").startswith("visit.") and event["type"] != "visit.greeted":
                        event["subject_id"] = visit_id
        return case

    def call(self, case, *, signed_in: bool = True, csrf: bool = True):
        # Flask-Compress would gzip the answer, and schemathesis' WSGI transport does not
        # decode a Content-Encoding: ask for the body as it is.
        headers = {"Accept-Encoding": "identity"}
        if csrf:
            headers["X-CSRFToken"] = self.user.csrf
        cookies = {"session": self.cookie} if signed_in else {}
        return case.call(headers=headers, cookies=cookies)

    def run(self, operation, mode: GenerationMode, examples: int) -> None:
        label = f"{operation.label} [{mode.value}]"
        report = self.report

        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                  derandomize=SEED is None, suppress_health_check=list(HealthCheck))
        @given(case=self.strategy(operation, mode))
        def check(case):
            report.cases += 1
            response = None
            try:
                response = self.call(case)
                report.statuses[(operation.label, response.status_code)] += 1
                case.validate_response(response, checks=CHECKS)
                self._track(case, response, mode)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported
                report.failures.append((label, case.as_curl_command(), _describe(exc, response)))

        if SEED is not None:
            check = hypothesis.seed(int(SEED))(check)
        check()

    def _track(self, case, response, mode) -> None:
        if case.operation.method.upper() == "POST" and response.status_code == 200:
            for result in response.json()["results"]:
                self.report.results[(result["status"], result.get("error", {}).get("code"))] += 1
                if result["status"] == "accepted":
                    self.report.accepted.add(result["id"])

    def run_all(self, examples: int = EXAMPLES) -> Report:
        for operation in self.operations():
            self.run(operation, GenerationMode.POSITIVE, examples)
            if operation.method.upper() == "POST" or operation.path == "/api/v1/events":
                self.run(operation, GenerationMode.NEGATIVE, examples)
        return self.report

    def stored_event_ids(self) -> set[str]:
        with self.app.app_context():
            return set(db.session.scalars(select(Event.id)))


def _as_javascript_json(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _as_javascript_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_javascript_json(item) for item in value]
    return value


def _describe(exc: Exception, response) -> str:
    text = str(exc).strip() or type(exc).__name__
    if response is not None and response.status_code >= 500:
        text = f"{response.status_code}: {response.text[:300]}\n{text}"
    return text[:2000]


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
        op.label for op in fuzzer.operations()}
    # Nothing half-written: the stored events are exactly those answered `accepted`.
    assert fuzzer.stored_event_ids() == report.accepted


def test_every_operation_without_a_session_is_401_json(app):
    fuzzer = Fuzzer(app)
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    cases = 0
    for operation in fuzzer.operations():
        security = document["paths"][operation.path][operation.method.lower()].get(
            "security", document["security"])

        @settings(max_examples=5, deadline=None, database=None, phases=[Phase.generate],
                  derandomize=True, suppress_health_check=list(HealthCheck))
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

    @settings(max_examples=10, deadline=None, database=None, phases=[Phase.generate],
              derandomize=True, suppress_health_check=list(HealthCheck))
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
    monkeypatch.setitem(app.view_functions, "sync.session_info",
                        lambda: routes.jsonify(user=1, csrf_token="t", cursor=""))
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


@pytest.mark.parametrize("body", [b'{"events": [NaN]}', b'{"events": [], "x": Infinity}',
                                  b'{"events": [' + b"[" * 50000 + b"]" * 50000 + b"]}",
                                  b'{"events": [{"seq": ' + b"9" * 5000 + b"}]}",
                                  b'{"events": [{"id": "\xff"}]}'])
def test_a_body_that_is_not_json_is_400(app, lobby1, body):
    response = lobby1.post("/api/v1/sync", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_batch"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", None])
def test_a_json_body_is_read_whatever_its_content_type(app, lobby1, content_type):
    """The contract names no Content-Type: fetch() with a string body says text/plain."""
    body = '{"device_id": "d", "events": [%s]}' % json.dumps(greeted())
    response = lobby1.post("/api/v1/sync", data=body, content_type=content_type)
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["accepted"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_batch_posted_as_a_form_is_400_and_writes_nothing(app, lobby1, content_type):
    body = '{"device_id": "d", "events": [%s]}' % json.dumps(greeted())
    response = lobby1.post("/api/v1/sync", data=body, content_type=content_type)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("content_type", [None, "application/json; charset=utf-8",
                                          "application/merge-patch+json"])
def test_json_or_no_content_type_is_read_as_json(lobby1, content_type):
    body = '{"device_id": "d", "events": [%s]}' % json.dumps(greeted())
    kwargs = {"content_type": content_type} if content_type else {}
    response = lobby1.post("/api/v1/sync", data=body, **kwargs)
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == "accepted"
