"""Browser tests: Debian's Chromium driven by Playwright, against a live server.

`live_server` runs testbed/serve.py in its own process (so a test may kill
and restart it); `browser` is headless Chromium from /usr/bin/chromium;
`tablet` opens a new context (a tablet) signed in as a given user.

For the offline tests: `ready(page)` waits until the service worker controls
the page and the outbox is loaded; `server_events` counts what the server
stored, straight from the test's database (SQLite file or PostgreSQL schema).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest

# The server and browser helpers live in testbed/ (the benchmarks use them too);
# the tests import them from here.
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, ready, sign_in, wait_until  # noqa: F401


@pytest.fixture
def live_server(database_url):
    server = LiveServer(database_url)
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def playwright():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def persistent_tablet(playwright, live_server, tmp_path):
    """A browser with a profile on disk (not incognito), as an installed app has.

    Chromium refuses to install from an incognito context, which is what
    `browser.new_context()` gives; this one can be checked for installability.
    """
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=live_server.url,
        viewport={"width": 1024, "height": 768},
        has_touch=True,
    )
    yield context
    context.close()


def sign_out(page) -> None:
    """Sign out as a person does: /logout asks, its button posts the form (CSRF and all)."""
    page.goto("/logout")
    page.locator('[data-testid="confirm-sign-out"]').click()
    page.wait_for_url("**/login**")


@pytest.fixture
def tablet(browser, live_server):
    """tablet('lobby1') -> a page in a fresh browser context, signed in."""
    contexts = []

    def open_tablet(username: str, *, lang: str = "zh", viewport=(1024, 768)):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            base_url=live_server.url,
            has_touch=True,
        )
        contexts.append(context)
        page = context.new_page()
        sign_in(page, live_server.url, username)
        if lang == "en":
            page.goto(page.url.split("?")[0] + "?lang=en")
        return page

    yield open_tablet
    for context in contexts:
        context.close()


def badge(page) -> dict:
    """The sync badge's counts, as integers."""
    return page.evaluate("""() => {
        const b = document.querySelector('[data-testid="sync-status"]');
        return {pending: parseInt(b.dataset.pending, 10),
                rejected: parseInt(b.dataset.rejected, 10),
                state: b.dataset.state};
    }""")


def wait_badge(page, timeout: float = 20.0, **expected) -> dict:
    """Wait until the badge shows `expected` (e.g. pending=3, state="offline"); the badge
    is redrawn asynchronously (coalesced), a moment after the outbox changes."""
    deadline = time.monotonic() + timeout
    while True:
        shown = badge(page)
        if all(shown[key] == value for key, value in expected.items()):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"badge shows {shown}, expected {expected}")
        time.sleep(0.05)


def record_visits(page, count: int, purpose: str = "cash") -> list[str]:
    """Record `count` visit.greeted events through Datang.record; their subject ids."""
    return page.evaluate(
        """async ([n, purpose]) => {
        const ids = [];
        for (let i = 0; i < n; i++) {
            const id = Datang.newId();
            await Datang.record('visit.greeted', id, {purpose, ticket: 'T' + i});
            ids.push(id);
        }
        return ids;
    }""",
        [count, purpose],
    )


def outbox_size(page) -> int:
    """Every entry in this browser's outbox, whoever made it."""
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('datang');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const req = open.result.transaction('outbox').objectStore('outbox').count();
            req.onsuccess = () => { resolve(req.result); open.result.close(); };
        };
    })""")


def move_sign_in(database_url: str, username: str, **ago: timedelta) -> None:
    """Set the open sign-ins of `username` back in time, e.g. last_seen_at=2 hours:
    the server's own idle and lifetime rules then end them on the next request."""
    from sqlalchemy import create_engine, select, update
    from sqlalchemy.orm import Session

    from app.database import utcnow
    from app.models import SignIn, User

    engine = create_engine(database_url)
    try:
        # One statement, its transaction's first: on SQLite a read first would make the
        # write an upgrade, refused at once ("database is locked") when the live server
        # wrote in between, instead of waiting its turn (busy_timeout).
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        with Session(engine) as session:
            session.execute(
                update(SignIn)
                .where(SignIn.user_id == user_id, SignIn.ended_at.is_(None))
                .values({column: utcnow() - delta for column, delta in ago.items()})
            )
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture
def server_events(database_url):
    """server_events(**where) -> [(id, type, subject_id, username)] stored on the server."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)

    def query(type: str | None = None):
        sql = (
            "SELECT e.id, e.type, e.subject_id, u.username FROM event e "
            'JOIN "user" u ON u.id = e.user_id'
        )
        params = {}
        if type:
            sql += " WHERE e.type = :type"
            params["type"] = type
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql + " ORDER BY e.position"), params)]

    yield query
    engine.dispose()
