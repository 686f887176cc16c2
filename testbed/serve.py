"""A live Datang server for the browser tests, in a process of its own.

    python -m testbed.serve --database-url URL --port PORT

Creates the schema and the demo data, then serves with a threaded WSGI server
until killed. Being a separate process lets a test kill -9 and restart it.
"""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import make_server

from app import create_app
from app.demo import seed_demo
from app.extensions import db

PASSWORD = "test-pass-1234"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=args.database_url,
        DEMO_PASSWORD=PASSWORD,
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    with app.app_context():
        db.create_all()
        seed_demo(PASSWORD)
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"serving on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
