"""The app as scripts/serve.sh serves it, plus one bare endpoint for a baseline.

    BENCH_DATABASE_URL=... gunicorn bench.server.wsgi:app

Only for bench/server_bench.py: the bare endpoint is added here, never to the app.
The login rate limit is raised (the bench signs in more than ten times a minute
when run repeatedly); nothing else differs from `run:app`.
"""

from __future__ import annotations

import os

from app import create_app

app = create_app(
    SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DATABASE_URL"], LOGIN_RATE_LIMIT="100000 per minute"
)


def bare():
    """Flask and gunicorn alone (the app's before/after-request hooks still run)."""
    return "ok\n", 200, {"Content-Type": "text/plain"}


app.add_url_rule("/bench/bare", "bench_bare", bare)
