"""A live Datang server for the browser tests, in a process of its own.

    python -m testbed.serve --database-url URL --port PORT

Creates the schema and the demo data, then serves with a threaded WSGI server
until killed. Being a separate process lets a test kill -9 and restart it.
`serve` is also what testbed/browser.py forks from a process that has imported
the app already.
"""

from __future__ import annotations

import argparse
import logging
import os

from jinja2 import FileSystemBytecodeCache
from werkzeug.serving import make_server

from app import create_app
from app.demo import seed_demo
from app.extensions import db

PASSWORD = "test-pass-1234"


def serve(database_url: str, port: int, environ: dict[str, str] | None = None) -> None:
    """Serve until killed; `environ`: the whole environment to serve with."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEMO_PASSWORD=PASSWORD,
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    # Compiled templates shared by every test server (in the user's temporary
    # directory; a changed template is compiled afresh): each test starts one.
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache()
    with app.app_context():
        db.create_all()
        seed_demo(PASSWORD)
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"serving on {port}", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.database_url, args.port)


if __name__ == "__main__":
    main()
