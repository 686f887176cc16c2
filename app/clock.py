"""The server's "now", which tests may move: the checklist's "today", the
supervisor's figures, and the trust rules of device clocks (app/events.py)
measure time by it.

Only when DATANG_ENV=testing: `app.config["CHECKLIST_NOW"]` (an aware
datetime, for the Flask client tests) or the file named by the environment
variable DATANG_TEST_CLOCK_FILE holding an RFC 3339 time (for the live server
of the browser tests, which runs in another process). Anywhere else it is the
real clock.
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import current_app

from .database import utcnow


def now() -> datetime:
    if current_app.config.get("ENV_NAME") != "testing":
        return utcnow()
    fixed = current_app.config.get("CHECKLIST_NOW")
    if fixed is not None:
        return fixed
    path = os.environ.get("DATANG_TEST_CLOCK_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
        if text:
            return datetime.fromisoformat(text)
    return utcnow()
