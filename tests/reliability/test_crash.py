"""Crash (issue #7): kill -9 the server during sync; every event applied exactly once.

The CI version runs 3 cycles (DATANG_CRASH_CYCLES); bench/crash.py runs 20.
After each kill (server down) and each restart (the clients have resent): every
acknowledged event stored once, nothing unknown; SQLite passes integrity_check
and foreign_key_check; the read models equal a rebuild from the events.
"""

from __future__ import annotations

from testbed.reliability import run_crash

from .conftest import assert_exactly_once, env_number


def test_kill_9_during_sync_loses_and_doubles_nothing(database_url, server_log):
    cycles = int(env_number("DATANG_CRASH_CYCLES", 3))
    report = run_crash(database_url, cycles=cycles, log_path=server_log, up=(0.3, 1.5))
    assert_exactly_once(report)
