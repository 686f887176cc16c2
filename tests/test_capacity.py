"""What the capacity work (issue 14) must not change: a pull stream per branch without
gap or repeat, per-branch write locks, and a cached board that is never stale for an event."""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import uuid
from datetime import timedelta
from functools import partial
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import create_engine, event, select, text, update

from app import create_app, database
from app.database import EVENT_APPEND_LOCK, utcnow, write_transaction
from app.extensions import db
from app.lobby import panels, views
from app.lobby.views import wealth_managers
from app.models import (
    SETTINGS_RECHECK_SECONDS,
    Branch,
    DailyTarget,
    Event,
    FigureSubject,
    FocusProduct,
    NeedTag,
    Product,
    Role,
    RouteRule,
    SelfServiceMachine,
    SignIn,
    User,
)
from testbed.clients import SignedIn

from .conftest import greeted


def branch_ids(app) -> dict[str, int]:
    with app.app_context():
        return {code: id_ for code, id_ in db.session.execute(select(Branch.code, Branch.id))}


def store_event(app, branch: str, position: int) -> str:
    """An event stored with the position given, as a transaction that took its
    position early and committed late would leave it."""
    with app.app_context():
        branch_id = branch_ids(app)[branch]
        user_id = db.session.scalar(select(User.id).where(User.username == "lobby1"))
        event_id = str(uuid.uuid4())
        db.session.add(
            Event(
                position=position,
                id=event_id,
                type="visit.greeted",
                occurred_at=utcnow(),
                device_occurred_at=utcnow(),
                subject_id=str(uuid.uuid4()),
                branch_id=branch_id,
                device_id="late",
                seq=position,
                user_id=user_id,
                payload={"purpose": "cash"},
            )
        )
        db.session.commit()
        return event_id


def pulled(client, since: str) -> tuple[list[str], str]:
    answer = client.pull(since).get_json()
    return [e["id"] for e in answer["events"]], answer["next"]


def test_a_device_reading_two_branches_gets_an_event_committed_late(app, lobby1, sign_in):
    area1 = sign_in("area1")
    first = greeted()
    assert lobby1.sync([first]).status_code == 200
    ids, cursor = pulled(area1, "")
    assert ids == [first["id"]]
    with app.app_context():
        start = db.session.scalar(select(Event.position).where(Event.id == first["id"]))
    # North's event commits at start + 10 while demo's at start + 5 is still open.
    north = store_event(app, "north", start + 10)
    ids, cursor = pulled(area1, cursor)
    assert ids == [north]
    positions = branch_ids(app)
    assert cursor == f"{positions['demo']}:{start},{positions['north']}:{start + 10}"
    late = store_event(app, "demo", start + 5)
    ids, cursor_after = pulled(area1, cursor)
    assert ids == [late]
    assert pulled(area1, cursor_after) == ([], cursor_after)  # next == since
    # One number for both branches (what a page drawn earlier carries) still reads both.
    assert pulled(area1, str(start))[0] == [late, north]


def test_a_page_of_several_branches_ends_where_each_branch_stands(app, lobby1, sign_in):
    area1 = sign_in("area1")
    events = [greeted() for _ in range(3)]
    assert lobby1.sync(events).status_code == 200
    north = store_event(app, "north", 10_000)
    seen, cursor = [], ""
    while True:
        answer = area1.pull(cursor, limit=2).get_json()
        if not answer["events"]:
            assert answer["next"] == cursor
            break
        seen += [e["id"] for e in answer["events"]]
        cursor = answer["next"]
    assert seen == [e["id"] for e in events] + [north]


def test_a_device_of_one_branch_keeps_a_plain_cursor(app, lobby1, sign_in):
    assert lobby1.sync([greeted()]).status_code == 200
    store_event(app, "north", 10_000)  # not lobby1's branch
    ids, cursor = pulled(lobby1, "")
    assert len(ids) == 1 and cursor.isdigit()
    assert sign_in("area1").get("/api/v1/session").get_json()["cursor"] == (
        f"{branch_ids(app)['demo']}:{cursor},{branch_ids(app)['north']}:10000"
    )


@pytest.mark.parametrize(
    "since", ["1:", ":5", "1:2,", "x:1", "1:2:3", "1;2", "1:99999999999999999999999999"]
)
def test_a_cursor_the_server_did_not_give_is_400(lobby1, since):
    response = lobby1.pull(since)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_cursor"


def test_writes_of_two_branches_do_not_wait_on_each_other(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite has one writer")
    with app.test_request_context():
        other = db.engine.connect()
        with write_transaction(["demo"]):

            def try_lock(code: str) -> bool:
                with other.begin():
                    return other.scalar(
                        text("SELECT pg_try_advisory_xact_lock(:k, hashtext(:c))"),
                        {"k": EVENT_APPEND_LOCK, "c": code},
                    )

            assert try_lock("north")
            assert not try_lock("demo")
        other.close()


def test_the_cached_board_changes_with_the_first_event_and_tells_the_time_afresh(app, lobby1):
    first = lobby1.get("/lobby/board", headers={"HX-Request": "true"}).get_data(as_text=True)
    again = lobby1.get("/lobby/board", headers={"HX-Request": "true"}).get_data(as_text=True)
    server_now = re.compile(r'data-server-now="([^"]+)"')
    assert server_now.sub("", first) == server_now.sub("", again)
    assert server_now.search(again).group(1) >= server_now.search(first).group(1)
    visit = greeted(payload={"purpose": "cash", "ticket": "Q123"})
    assert lobby1.sync([visit]).status_code == 200
    board = lobby1.get("/lobby/board", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert visit["subject_id"] in board and "Q123" in board
    page = lobby1.get("/lobby").get_data(as_text=True)
    assert visit["subject_id"] in page


def lobby_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="lobby-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def settings_versions(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(Branch.code, Branch.settings_version))
        return {code: version for code, version in rows}


def first_of(model, branch_id: int | None = None):
    query = select(model).order_by(model.id)
    if branch_id is not None:
        query = query.where(model.branch_id == branch_id)
    return db.session.scalars(query).first()


def add_machine(demo, north):
    db.session.add(SelfServiceMachine(branch_id=demo, name="ATM-7", position=0))


def rename_product(demo, north):
    first_of(Product, demo).name_en = "Renamed fund"


def focus_on_a_product(demo, north):
    lobby1 = db.session.scalar(select(User).where(User.username == "lobby1"))
    today = utcnow().date()
    db.session.add(
        FocusProduct(
            branch_id=demo,
            product_code=first_of(Product, demo).code,
            starts_on=today,
            ends_on=today,
            set_by_id=lobby1.id,
        )
    )


def set_a_daily_target(demo, north):
    lobby1 = db.session.scalar(select(User).where(User.username == "lobby1"))
    today = utcnow().date()
    db.session.add(
        DailyTarget(
            branch_id=demo,
            starts_on=today,
            ends_on=today,
            referrals=5,
            sales=2,
            set_by_id=lobby1.id,
        )
    )


def drop_a_triage_rule(demo, north):
    db.session.delete(first_of(RouteRule, demo))


def deactivate_wealth1(demo, north):
    db.session.scalar(select(User).where(User.username == "wealth1")).active = False


def move_wealth1_to_north(demo, north):
    db.session.scalar(select(User).where(User.username == "wealth1")).branches = [
        db.session.get(Branch, north)
    ]


def rename_a_need_tag(demo, north):
    first_of(NeedTag).name_en = "Renamed need"


@pytest.mark.parametrize(
    "edit, moved",
    [
        (add_machine, {"demo"}),
        (rename_product, {"demo"}),
        (focus_on_a_product, {"demo"}),
        (set_a_daily_target, {"demo"}),
        (drop_a_triage_rule, {"demo"}),
        (deactivate_wealth1, {"demo"}),
        (move_wealth1_to_north, {"demo", "north"}),
        (rename_a_need_tag, {"demo", "north", "east"}),  # shared by every branch
    ],
)
def test_each_change_to_a_branch_s_settings_moves_its_settings_version_and_no_other(
    app, edit, moved
):
    before = settings_versions(app)
    ids = branch_ids(app)
    with app.app_context():
        edit(ids["demo"], ids["north"])
        db.session.commit()
    after = settings_versions(app)
    assert {code for code in after if after[code] != before[code]} == moved & after.keys()
    assert all(after[code] == before[code] + 1 for code in moved & after.keys())


def test_events_sign_ins_and_an_edit_that_changes_nothing_leave_the_settings_version(
    app, lobby1, sign_in
):
    before = settings_versions(app)
    assert lobby1.sync([greeted()]).status_code == 200
    sign_in("lobby2")
    with app.app_context():
        product = first_of(Product, branch_ids(app)["demo"])
        product.name_en = product.name_en  # set, not changed
        db.session.commit()
    assert settings_versions(app) == before


def statements_run(app, load) -> list[str]:
    """The statements `load()` makes the database run."""
    seen: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    run_listening(app, "before_cursor_execute", before_cursor_execute, load)
    return seen


def settings_reads(app, load) -> list[str]:
    """The statements `load()` runs that read what the lobby panels are drawn from."""
    tables = ("product", "self_service_machine", "route_rule", "need_tag")
    return [s for s in statements_run(app, load) if re.search(rf"FROM ({'|'.join(tables)})\b", s)]


def test_a_tablet_s_greet_projects_its_figures_without_a_savepoint(app, lobby1):
    """The fast lane projects the figures in the batch's own transaction: a savepoint
    and its release were two round trips under the branch's write lock."""
    greet = greeted()
    ran = statements_run(app, lambda: lobby1.sync([greet]))
    assert any(s.startswith("INSERT INTO figure_subject") for s in ran), ran
    assert not [s for s in ran if "SAVEPOINT" in s], ran
    with app.app_context():
        assert db.session.get(FigureSubject, greet["subject_id"]).status == "waiting"


def test_a_batch_of_greets_only_writes_under_the_branch_s_write_lock(app, lobby1):
    """The fast lane takes a greet's event and visit as new without asking (a unique
    key catches one that is not): nothing is read while the lock is held."""
    ran = statements_run(app, lambda: lobby1.sync([greeted(), greeted()]))
    start = next(i for i, s in enumerate(ran) if "BEGIN IMMEDIATE" in s or "advisory" in s)
    writes = ran[start + 1 :]
    assert writes and all(s.startswith("INSERT") for s in writes), ran


def test_on_postgresql_a_greet_s_lock_and_writes_go_in_one_flight(app, lobby1):
    """psycopg's pipeline mode: the lock and every insert are sent without waiting for
    each answer, and the transaction waits once for them all."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite is in-process: no round trips to save")
    pipelined: list[tuple[str, bool]] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        status = conn.connection.dbapi_connection.pgconn.pipeline_status
        pipelined.append((statement.split()[0], status != psycopg.pq.PipelineStatus.OFF))

    greet = greeted()
    run_listening(app, "before_cursor_execute", before_cursor_execute, lambda: lobby1.sync([greet]))
    # The sign-in's read first, on its own; then the lock and the writes.
    assert pipelined[0] == ("SELECT", False)
    assert pipelined[1:] and all(in_pipeline for _verb, in_pipeline in pipelined[1:]), pipelined
    assert {verb for verb, _ in pipelined[2:]} == {"INSERT"}
    with app.app_context():
        assert db.session.get(FigureSubject, greet["subject_id"]).status == "waiting"


def test_the_cached_lobby_panels_follow_every_setting_and_keep_each_user_s_own_bits(
    app, lobby1, sign_in
):
    first = lobby1.get("/lobby?lang=en").get_data(as_text=True)
    assert "ATM-7" not in lobby_data(first)["machines"]
    assert 'data-testid="refer-assignee-wealth1"' in first
    # Nothing changed: the page reads none of the settings again.
    assert settings_reads(app, lambda: lobby1.get("/lobby?lang=en")) == []
    with app.app_context():
        demo = db.session.scalar(select(Branch).where(Branch.code == "demo"))
        db.session.add(SelfServiceMachine(branch_id=demo.id, name="ATM-7", position=0))
        product = first_of(Product, demo.id)
        product.name_en, code = "Renamed fund", product.code
        db.session.scalar(select(User).where(User.username == "wealth1")).active = False
        db.session.commit()
    page = lobby1.get("/lobby?lang=en").get_data(as_text=True)
    data = lobby_data(page)
    assert "ATM-7" in data["machines"]
    assert {"code": code, "name": "Renamed fund"}.items() <= data["products"][0].items()
    assert 'data-testid="refer-assignee-wealth1"' not in page
    with app.app_context():
        db.session.scalar(select(Branch).where(Branch.code == "demo")).wait_warn_minutes = 7
        db.session.commit()
    data = lobby_data(lobby1.get("/lobby?lang=en").get_data(as_text=True))
    assert data["warn"] == 7
    # Another user of the branch gets the same panels but their own name and token.
    lobby2 = sign_in("lobby2")
    other = lobby2.get("/lobby?lang=en").get_data(as_text=True)
    assert lobby_data(other) == data
    token = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
    assert token.search(other).group(1) != token.search(page).group(1)
    assert 'data-user="lobby2"' in other and 'data-user="lobby1"' in page


def test_a_setting_changed_outside_the_app_shows_once_the_panels_look_again(
    app, sign_in, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(panels, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    lobby1 = sign_in("lobby1")  # signing in loads the page: on this clock too
    assert "ATM-9" not in lobby_data(lobby1.get("/lobby").get_data(as_text=True))["machines"]
    with app.app_context():  # as SQL by hand would: no ORM, no settings version
        db.session.execute(
            SelfServiceMachine.__table__.insert().values(
                branch_id=branch_ids(app)["demo"], name="ATM-9", position=9
            )
        )
        db.session.commit()
    clock[0] += SETTINGS_RECHECK_SECONDS - 1
    assert "ATM-9" not in lobby_data(lobby1.get("/lobby").get_data(as_text=True))["machines"]
    clock[0] += 1
    assert "ATM-9" in lobby_data(lobby1.get("/lobby").get_data(as_text=True))["machines"]


def transaction_states(app, do) -> list[bool]:
    """For each statement `do()` makes the database run: whether it ran inside a
    transaction the driver had begun (as it stands after the statement)."""
    seen: list[bool] = []

    def after_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        dbapi = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            seen.append(dbapi.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)
        else:
            seen.append(dbapi.in_transaction)

    run_listening(app, "after_cursor_execute", after_cursor_execute, do)
    return seen


def run_listening(app, name: str, listener, do) -> None:
    """`do()` with `listener` on the app's engine for the event `name`."""
    with app.app_context():
        engine = db.engine
    event.listen(engine, name, listener)
    try:
        do()
    finally:
        event.remove(engine, name, listener)


POLL = {"HX-Request": "true", "X-Datang-Background": "1"}


def test_polls_and_greets_cost_no_begin_and_rollback_for_their_reads_on_postgresql(app, lobby1):
    """A poll is two round trips, not four: read committed gives its reads their own
    snapshots anyway. SQLite keeps its (in-process) transaction and its snapshot."""
    with app.app_context():
        on_postgresql = db.engine.dialect.name == "postgresql"
    for path in ("/lobby/board?since=0", "/api/v1/events?since=", "/lobby"):
        states = transaction_states(app, partial(lobby1.get, path, headers=POLL))
        assert states, path
        assert set(states) == {not on_postgresql}, path
    # A greet: the sign-in read alone, then every write in the transaction.
    visit = greeted()
    states = transaction_states(app, partial(lobby1.sync, [visit]))
    assert states[0] is not on_postgresql and set(states[1:]) == {True}
    # A page not marked keeps its transaction on both.
    states = transaction_states(app, lambda: lobby1.get(f"/lobby/visits/{visit['subject_id']}"))
    assert states and set(states) == {True}


def test_a_page_asks_only_its_sign_in_once_its_parts_are_kept(app, lobby1):
    """The sign-in's query brings each branch's newest position: the board's version,
    the pull cursor's start and the open complaints' key. A changed board's fragment
    adds only the poll shortcut's look, which found it changed."""
    assert lobby1.sync([greeted()]).status_code == 200
    fragment = partial(lobby1.get, "/lobby/board?since=0", headers={"HX-Request": "true"})
    for load, asked in ((partial(lobby1.get, "/lobby"), 1), (fragment, 2)):
        assert load().status_code == 200  # the parts kept
        selects = [s for s in statements_run(app, load) if s != "BEGIN"]
        assert len(selects) == asked, selects
        assert selects[-1].startswith("SELECT sign_in.started_at"), selects


def test_a_reading_view_still_writes_the_sign_in_s_clocks(app, lobby1):
    """The sign-in's idle clock and its end are written in a transaction of their
    own, committed, whatever the view's reads ran in."""

    def sign_in_row():
        with app.app_context():
            return db.session.scalars(select(SignIn).order_by(SignIn.started_at.desc())).first()

    def last_seen(minutes_ago: int) -> None:
        with app.app_context():
            db.session.execute(
                update(SignIn)
                .where(SignIn.id == row.id)
                .values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago))
            )
            db.session.commit()

    row = sign_in_row()
    last_seen(30)
    before = sign_in_row().last_seen_at
    # Not a background poll: the person asked for it, so it counts as work.
    assert lobby1.get("/lobby/board", headers={"HX-Request": "true"}).status_code == 200
    assert sign_in_row().last_seen_at > before + timedelta(minutes=29)
    last_seen(61)
    assert lobby1.get("/lobby/board", headers=POLL).status_code == 401
    assert sign_in_row().ended_reason == "idle"


def test_a_referral_goes_to_the_branch_s_own_active_wealth_managers(app):
    """Asked of the branch's members, not of every wealth manager in the province."""
    with app.app_context():
        demo, north = (
            db.session.scalar(select(Branch).where(Branch.code == code))
            for code in ("demo", "north")
        )
        for username, branches, active in [
            ("wm-north", [north], True),
            ("wm-both", [north, demo], True),
            ("wm-gone", [demo], False),
        ]:
            db.session.add(
                User(
                    username=username,
                    display_name=username,
                    password_hash="x",
                    role=Role.WEALTH_MANAGER,
                    branches=branches,
                    active=active,
                )
            )
        db.session.commit()
        assert [u.username for u in wealth_managers(demo)] == ["wealth1", "wealth2", "wm-both"]
        assert [u.username for u in wealth_managers(north)] == ["wm-both", "wm-north"]


def test_a_server_s_workers_share_each_rendered_board_and_no_other_database_s(
    app, tmp_path, monkeypatch
):
    """With BOARD_CACHE_DIR, a version one worker rendered is not rendered by the next;
    a new event is rendered afresh; another database never gets this one's board."""

    def worker(database_url: str):
        return create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=database_url,
            DEMO_PASSWORD=app.config["DEMO_PASSWORD"],
            BOARD_CACHE_DIR=str(tmp_path / "boards"),
        )

    renders = []
    render = views.board_context
    monkeypatch.setattr(views, "board_context", lambda *a: renders.append(a) or render(*a))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    one, two = (SignedIn(worker(url).test_client(), "lobby1") for _ in range(2))
    hx = {"HX-Request": "true"}
    first = one.get("/lobby/board", headers=hx).get_data(as_text=True)
    again = two.get("/lobby/board", headers=hx).get_data(as_text=True)
    assert again.split("data-server-now")[0] == first.split("data-server-now")[0]
    assert len(renders) == 1
    visit = greeted(payload={"purpose": "cash", "ticket": "Q777"})
    assert one.sync([visit]).status_code == 200
    assert "Q777" in two.get("/lobby/board", headers=hx).get_data(as_text=True)
    assert "Q777" in one.get("/lobby/board", headers=hx).get_data(as_text=True)
    assert len(renders) == 2

    # Another database (another URL) keeps its boards apart, at the same ids and versions.
    elsewhere = worker("sqlite://")
    shared = views.SHARED_BOARD_CACHE
    with app.test_request_context():
        language = views.lang()
    key = f"{branch_ids(app)['demo']}-{language}"
    assert one.client.application.extensions[shared].has(key)
    assert not elsewhere.extensions[shared].has(key)


def sqlite_writer_lock(app) -> str:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("PostgreSQL orders writers with its own locks")
    return url.removeprefix("sqlite:///") + "-writer.lock"


def test_a_sqlite_writer_waits_for_its_turn_and_goes_the_moment_it_is_free(app, lobby1):
    """SQLite's busy timeout sleeps between looks at its lock; the server's writers
    instead queue for a lock the kernel hands on (another process holds it here)."""
    other_process = os.open(sqlite_writer_lock(app), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        answers = []
        greet = threading.Thread(target=lambda: answers.append(lobby1.sync([greeted()])))
        greet.start()
        greet.join(0.5)
        assert greet.is_alive() and not answers  # waiting for the turn, not writing
        fcntl.flock(other_process, fcntl.LOCK_UN)
        greet.join(10)
        assert answers[0].status_code == 200
        assert answers[0].get_json()["results"][0]["status"] == "accepted"
    finally:
        os.close(other_process)


def test_a_sqlite_write_that_fails_gives_up_its_turn(app):
    lock = sqlite_writer_lock(app)
    with app.test_request_context(), pytest.raises(RuntimeError), write_transaction(["demo"]):
        raise RuntimeError("a fault in the middle of a write")
    other_process = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no BlockingIOError
    finally:
        os.close(other_process)


def test_a_connection_the_database_dropped_while_idle_is_replaced_before_use(app, monkeypatch):
    """No ping at every checkout (pool_pre_ping), but one after the connection sat idle."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("a SQLite connection is not dropped by a server")
    engine, admin = create_engine(url), create_engine(url)
    try:
        with engine.connect() as connection:
            pid = connection.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()
        admin.dispose()
