"""Fixtures of the reliability tests: where the server's log goes, and how long to run.

DATANG_SOAK_SECONDS (default 60) and DATANG_SOAK_TABLETS (default 20) size the soak;
DATANG_CRASH_CYCLES (default 3) the crash test. The database is the `database_url`
of tests/conftest.py: a SQLite file, or a PostgreSQL schema with TEST_DATABASE_URL.
"""

from __future__ import annotations

import os

import pytest


def assert_exactly_once(report) -> str:
    """No errors; every event made stored once, nothing unknown; the checks clean.

    Returns the report's summary (printed, and the message of any failure)."""
    summary = "\n".join(report.lines())
    print(summary)
    counts = report.counts
    assert report.errors == 0, summary
    assert not counts.lost and not counts.doubled and not counts.unknown, summary
    assert not counts.unsent, summary
    assert counts.stored == counts.made > 0, summary
    assert not report.problems, summary
    return summary


@pytest.fixture
def server_log(tmp_path, request):
    """The server's output; its tail is printed when the test fails."""
    path = tmp_path / "server.log"
    yield str(path)
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed and path.exists():
        tail = path.read_text(errors="replace").splitlines()[-60:]
        print("\n--- server log (tail) ---\n" + "\n".join(tail))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default
