"""A session that ends takes its offline pages with it (docs/client.md).

However the session ended (sign-out, idle, lifetime, password reset, deactivation),
once the tablet hears of it the service worker's copies of the screens are gone:
offline, /lobby shows the offline page, never the board. The entries waiting in
the outbox stay, bound to their user, and go as theirs when that person is back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from testbed.serve import PASSWORD

from .conftest import (
    move_sign_in,
    outbox_size,
    ready,
    record_visits,
    sign_in,
    sign_out,
    wait_badge,
    wait_until,
)

NEW_PASSWORD = "a-new-pass-5678"
SCREENS_CACHED = (
    "caches.open('datang-pages-v2').then(c => c.match('/lobby', {ignoreVary: true}))"
    ".then(hit => !!hit)"
)
SCREENS_GONE = (
    "caches.keys().then(names => !names.includes('datang-pages-v2')"
    " && !names.includes('datang-fragments-v2'))"
)
DRAINED = "Datang.pending().then(p => p.length === 0)"


def user_row(admin, username: str):
    admin.goto("/admin/users")
    return admin.locator(f'[data-testid="user-row"][data-username="{username}"]')


def reset_password(admin, username: str) -> None:
    user_row(admin, username).locator('a[href$="/password"]').click()
    admin.fill("input[name=password]", NEW_PASSWORD)
    admin.fill("input[name=confirm]", NEW_PASSWORD)
    with admin.expect_navigation():
        admin.click("main button[type=submit]")


def toggle_active(admin, username: str, active: bool) -> None:
    row = user_row(admin, username)
    row.locator("button[type=submit]").click()
    wanted = "!" if active else ""
    wait_until(
        admin,
        f"{wanted}document.querySelector('[data-username=\"{username}\"]')"
        ".classList.contains('row-inactive')",
    )


def quiet_board(page) -> None:
    """No poll of the board: the tablet hears of the ended session from the outbox's sync."""
    page.evaluate("document.querySelectorAll('[hx-trigger*=every]').forEach(el => el.remove())")


def assert_no_board_offline(page) -> None:
    page.context.set_offline(True)
    for path in ("/lobby", "/checklist"):
        page.goto(path)
        assert page.locator('[data-testid="offline-page"], input[name=password]').count() >= 1
        assert (
            page.locator('[data-testid^="purpose-"], [data-testid="checklist-item"]').count() == 0
        )
        assert page.locator("body[data-user]").count() == 0
    page.context.set_offline(False)


def assert_sent_once_as(server_events, subjects, username) -> None:
    mine = [(e[2], e[3]) for e in server_events("visit.greeted") if e[2] in set(subjects)]
    assert sorted(mine) == sorted((subject, username) for subject in subjects)


@pytest.mark.parametrize("ending", ["idle", "lifetime", "password_reset", "deactivation"])
def test_an_ended_session_leaves_no_board_offline_and_keeps_the_entries(
    ending, tablet, live_server, database_url, server_events
):
    page = tablet("lobby1")
    ready(page)
    assert page.evaluate(SCREENS_CACHED)
    quiet_board(page)
    page.context.set_offline(True)
    subjects = record_visits(page, 2)

    admin = tablet("admin") if ending in ("password_reset", "deactivation") else None
    if ending == "idle":
        move_sign_in(database_url, "lobby1", last_seen_at=timedelta(hours=2))
    elif ending == "lifetime":
        move_sign_in(
            database_url,
            "lobby1",
            started_at=timedelta(hours=13),
            last_seen_at=timedelta(minutes=1),
        )
    elif ending == "password_reset":
        reset_password(admin, "lobby1")
    else:
        toggle_active(admin, "lobby1", active=False)

    page.context.set_offline(False)  # the outbox sends: the server answers 401
    wait_badge(page, state="paused", pending=2)
    wait_until(page, SCREENS_GONE)
    assert_no_board_offline(page)
    assert outbox_size(page) == 2  # the entries stay, bound to lobby1

    if ending == "deactivation":
        toggle_active(admin, "lobby1", active=True)
    sign_in(
        page, live_server.url, "lobby1", NEW_PASSWORD if ending == "password_reset" else PASSWORD
    )
    ready(page)
    wait_until(page, DRAINED)
    assert outbox_size(page) == 0
    assert_sent_once_as(server_events, subjects, "lobby1")


def test_signing_out_leaves_no_board_offline_and_keeps_the_entries(
    tablet, live_server, server_events
):
    page = tablet("lobby1")
    ready(page)
    assert page.evaluate(SCREENS_CACHED)
    page.context.route("**/api/v1/sync", lambda route: route.abort())
    subjects = record_visits(page, 2)
    sign_out(page)
    page.context.unroute("**/api/v1/sync")
    wait_until(page, SCREENS_GONE)
    assert_no_board_offline(page)
    assert outbox_size(page) == 2

    sign_in(page, live_server.url, "lobby1")
    ready(page)
    wait_until(page, DRAINED)
    assert_sent_once_as(server_events, subjects, "lobby1")


def test_the_boards_poll_hears_of_the_end_and_takes_the_tablet_to_sign_in(
    tablet, live_server, database_url
):
    """htmx's 401 (HX-Redirect to the sign-in page) clears the copies too."""
    page = tablet("lobby1")
    ready(page)
    assert page.evaluate(SCREENS_CACHED)
    move_sign_in(database_url, "lobby1", last_seen_at=timedelta(hours=2))
    page.wait_for_url(lambda url: "/login?" in url, timeout=15000)  # the board polls every 3 s
    wait_until(page, SCREENS_GONE)
    assert_no_board_offline(page)


def test_the_signed_in_pages_are_not_kept_by_the_browsers_cache(tablet):
    page = tablet("lobby1")
    response = page.goto("/lobby")
    assert response.headers["cache-control"] == "no-store"
