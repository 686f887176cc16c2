"""Soak (issue #7): 20 tablets syncing while supervisors read; 0 errors, 0 lost, 0 doubled.

The CI version runs 60 s (DATANG_SOAK_SECONDS); bench/soak.py runs 10 minutes.
Counted on the server, straight from the database.
"""

from __future__ import annotations

from testbed.reliability import run_soak

from .conftest import assert_exactly_once, env_number


def test_tablets_sync_for_a_while_and_nothing_is_lost_or_doubled(database_url, server_log):
    seconds = env_number("DATANG_SOAK_SECONDS", 60)
    tablets = int(env_number("DATANG_SOAK_TABLETS", 20))
    report = run_soak(database_url, tablets=tablets, seconds=seconds, log_path=server_log)
    summary = assert_exactly_once(report)
    assert report.stats.supervisor_reads > 0 and report.stats.board_reads > 0, summary
