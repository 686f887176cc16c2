"""Schemathesis against the app's own OpenAPI document, as a signed-in tablet.

Shared by tests/test_api_fuzz.py (bounded, in CI) and bench/fuzz_api.py (long runs).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.extensions import db
from app.models import Event

from .clients import SignedIn, greeted

EXAMPLES = int(os.environ.get("DATANG_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("DATANG_FUZZ_SEED")
USERNAME = "lobby1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


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
        lines = [
            f"{self.cases} cases, {len(self.failures)} failures, {self.server_errors} server errors"
        ]
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
        events.append(
            {
                **greeted(visits[0]),
                "type": "visit.closed",
                "id": str(uuid.uuid4()),
                "payload": {"outcome": "served", "satisfaction": 5},
            }
        )
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
            return st.tuples(
                cases, st.booleans(), st.booleans(), st.sampled_from(self.known_visits)
            ).map(self._aim)
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
                    if (
                        event.get("type", "").startswith("visit.")
                        and event["type"] != "visit.greeted"
                    ):
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

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            derandomize=SEED is None,
            suppress_health_check=list(HealthCheck),
        )
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
