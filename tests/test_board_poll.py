"""The board's unchanged poll, answered before Flask (app/lobby/poll.py).

It may answer only what Flask would answer, and only when Flask would write
nothing: each case below that it must leave alone is checked to reach Flask.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from flask import request_started
from sqlalchemy import event, select, update

from app import create_app
from app.database import utcnow
from app.extensions import db
from app.lobby import board_version
from app.models import Branch, SignIn, User

from .conftest import DEMO_PASSWORD, SignedIn, greeted

POLL = {"HX-Request": "true", "X-Datang-Background": "1"}


def version_of(app, code: str = "demo") -> int:
    with app.app_context():
        return board_version(db.session.scalar(select(Branch).where(Branch.code == code)))


def reached_flask(app, do):
    """(the response to `do()`, whether Flask handled the request)."""
    seen = []

    def started(sender, **extra):
        seen.append(True)

    request_started.connect(started, app)
    try:
        response = do()
    finally:
        request_started.disconnect(started, app)
    return response, bool(seen)


def queries(app, do) -> int:
    """How many SELECTs `do()` sends (SQLite's BEGIN is not a query)."""
    with app.app_context():
        engine = db.engine
    count = []

    def before(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            count.append(1)

    event.listen(engine, "before_cursor_execute", before)
    try:
        do()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(count)


def change(app, model, row_id, **values) -> None:
    with app.app_context():
        db.session.execute(update(model).where(model.id == row_id).values(**values))
        db.session.commit()


def sign_in_of(app, username: str) -> SignIn:
    with app.app_context():
        return db.session.scalars(
            select(SignIn)
            .join(User, User.id == SignIn.user_id)
            .where(User.username == username)
            .order_by(SignIn.started_at.desc())
        ).first()


@pytest.fixture
def full_path_app(database_url, app):
    """The same app on the same database, without the shortcut: Flask's own answers."""
    plain = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEMO_PASSWORD=DEMO_PASSWORD,
        BOARD_POLL_SHORTCUT=False,
    )
    yield plain
    with plain.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_unchanged_poll_gets_flask_s_answer_with_one_query_and_no_flask(
    app, full_path_app, lobby1
):
    url = f"/lobby/board?since={version_of(app)}"
    fast, through_flask = reached_flask(app, lambda: lobby1.get(url, headers=POLL))
    assert not through_flask
    assert queries(app, lambda: lobby1.get(url, headers=POLL)) == 1
    # The same cookie, through Flask alone.
    plain = full_path_app.test_client()
    plain.set_cookie("session", lobby1.client.get_cookie("session").value)
    full = plain.get(url, headers=POLL)
    assert (fast.status_code, fast.get_data()) == (full.status_code, full.get_data()) == (204, b"")
    assert sorted(fast.headers.items()) == sorted(full.headers.items())


def test_a_changed_board_and_any_other_request_go_to_flask(app, lobby1):
    version = version_of(app)
    restore = {**POLL, "HX-History-Restore-Request": "true"}
    cases = [
        (f"/lobby/board?since={version - 1}", POLL, 200),
        (f"/lobby/board?since={version}&lang=en", POLL, 204),  # Flask keeps the language
        (f"/lobby/board?since={version}", {"X-Datang-Background": "1"}, 302),  # not htmx
        (f"/lobby/board?since={version}", restore, 302),
        ("/lobby/board", POLL, 200),
    ]
    for url, headers, status in cases:
        response, through_flask = reached_flask(app, partial(lobby1.get, url, headers=headers))
        assert through_flask, url
        assert response.status_code == status, url
    response, through_flask = reached_flask(
        app, lambda: lobby1.client.head(f"/lobby/board?since={version}", headers=POLL)
    )
    assert through_flask


def test_a_poll_that_counts_as_activity_goes_to_flask_which_writes_the_clock(app, lobby1):
    url = f"/lobby/board?since={version_of(app)}"
    row = sign_in_of(app, "lobby1")
    change(app, SignIn, row.id, last_seen_at=utcnow() - timedelta(minutes=2))
    # A background poll: not activity, nothing to write.
    assert not reached_flask(app, lambda: lobby1.get(url, headers=POLL))[1]
    # Someone pulled to refresh: Flask writes the idle clock.
    response, through_flask = reached_flask(
        app, lambda: lobby1.get(url, headers={"HX-Request": "true"})
    )
    assert through_flask and response.status_code == 204
    assert sign_in_of(app, "lobby1").last_seen_at > utcnow() - timedelta(seconds=30)
    # Now it is not due again for a minute: the shortcut answers that one too.
    assert not reached_flask(app, lambda: lobby1.get(url, headers={"HX-Request": "true"}))[1]


@pytest.mark.parametrize(
    "what",
    ["idle", "expired", "signed out", "password reset", "deactivated", "no branch"],
)
def test_a_sign_in_that_no_longer_stands_goes_to_flask_which_refuses_it(app, lobby1, what):
    url = f"/lobby/board?since={version_of(app)}"
    row = sign_in_of(app, "lobby1")
    with app.app_context():
        user = db.session.get(User, row.user_id)
        user_id, session_version = user.id, user.session_version
    if what == "idle":
        change(app, SignIn, row.id, last_seen_at=utcnow() - timedelta(minutes=61))
    elif what == "expired":
        change(app, SignIn, row.id, started_at=utcnow() - timedelta(hours=13))
    elif what == "signed out":
        change(app, SignIn, row.id, ended_at=utcnow(), ended_reason="signed_out")
    elif what == "password reset":
        change(app, User, user_id, session_version=session_version + 1)
    elif what == "deactivated":
        change(app, User, user_id, active=False)
    else:
        with app.app_context():
            db.session.get(User, user_id).branches = []
            db.session.commit()
    response, through_flask = reached_flask(app, lambda: lobby1.get(url, headers=POLL))
    assert through_flask
    assert response.status_code == (403 if what == "no branch" else 401)
    if what in ("idle", "expired"):
        assert sign_in_of(app, "lobby1").ended_reason == what


def test_another_role_or_another_cookie_goes_to_flask(app, lobby1, sign_in):
    url = f"/lobby/board?since={version_of(app)}"
    teller = sign_in("teller1")
    response, through_flask = reached_flask(app, lambda: teller.get(url, headers=POLL))
    assert through_flask and response.status_code == 403
    # Another browser (session protection): Flask-Login marks the session, so Flask answers.
    other = {**POLL, "User-Agent": "another tablet"}
    assert reached_flask(app, lambda: lobby1.get(url, headers=other))[1]
    other = {**POLL, "X-Forwarded-For": "10.0.0.9"}
    assert reached_flask(app, lambda: lobby1.get(url, headers=other))[1]
    # A cookie that is not the server's.
    cookie = lobby1.client.get_cookie("session").value
    stranger = app.test_client()
    stranger.set_cookie("session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    response, through_flask = reached_flask(app, lambda: stranger.get(url, headers=POLL))
    assert through_flask and response.status_code == 401
    nobody = app.test_client()
    response, through_flask = reached_flask(app, lambda: nobody.get(url, headers=POLL))
    assert through_flask and response.status_code == 401


def test_a_greet_changes_the_answer_at_once(app, lobby1):
    version = version_of(app)
    assert lobby1.get(f"/lobby/board?since={version}", headers=POLL).status_code == 204
    assert lobby1.sync([greeted()]).status_code == 200
    response = lobby1.get(f"/lobby/board?since={version}", headers=POLL)
    assert response.status_code == 200
    assert f'value="{version_of(app)}"' in response.get_data(as_text=True)


def test_behind_a_proxy_the_poll_is_still_answered_before_flask(app):
    """Flask-Login's session protection hashes X-Forwarded-For when there is one:
    the shortcut reads it the same way, or every poll behind nginx would reach Flask."""
    tablet = app.test_client()
    tablet.environ_base["HTTP_X_FORWARDED_FOR"] = "10.0.0.9, 10.0.0.1"
    lobby = SignedIn(tablet, "lobby1")
    url = f"/lobby/board?since={version_of(app)}"
    response, through_flask = reached_flask(app, lambda: lobby.get(url, headers=POLL))
    assert response.status_code == 204 and not through_flask
