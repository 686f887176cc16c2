"""The admin's audit log: who recorded what, when, from which device."""

from __future__ import annotations

import re

import pytest

from .conftest import greeted, make_event


def rows(html: str) -> list[str]:
    return re.findall(r'data-event-id="([^"]+)"', html)


@pytest.fixture
def admin(sign_in):
    return sign_in("admin")


def test_audit_lists_who_did_what_from_which_device(lobby1, admin):
    event = greeted(device_id="tablet-front-door")
    assert lobby1.sync([event]).status_code == 200
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert rows(html)[0] == event["id"]
    assert "tablet-front-door" in html and "visit.greeted" in html and "lobby1" in html


def test_audit_filters(sign_in, lobby1, admin):
    lobby2 = sign_in("lobby2")
    mine = greeted(device_id="pad-a")
    closed = make_event(
        "visit.closed",
        mine["subject_id"],
        {"outcome": "served"},
        device_id="pad-a",
        occurred_at="2026-11-29T09:13:12.481+08:00",
    )
    theirs = greeted(device_id="pad-b", occurred_at="2026-11-28T10:00:00+08:00")
    assert lobby1.sync([mine, closed]).status_code == 200
    assert lobby2.sync([theirs]).status_code == 200

    def found(query: str) -> set[str]:
        response = admin.get(f"/admin/audit?{query}", headers={"HX-Request": "true"})
        assert response.status_code == 200
        return set(rows(response.get_data(as_text=True)))

    assert found("user=lobby1") >= {mine["id"], closed["id"]}
    assert theirs["id"] not in found("user=lobby1")
    assert found("device=pad-b") == {theirs["id"]}
    assert found("type=visit.closed&device=pad-a") == {closed["id"]}
    assert found("day_from=2026-11-28&day_to=2026-11-28&device=pad-b") == {theirs["id"]}
    assert found("day_from=2026-11-29&device=pad-b") == set()


def test_audit_pages_back_without_gaps_or_repeats(lobby1, admin):
    events = [greeted(device_id="pad-pages") for _ in range(60)]
    assert lobby1.sync(events).status_code == 200
    first = admin.get("/admin/audit?device=pad-pages").get_data(as_text=True)
    older = re.search(r'href="(/admin/audit\?[^"]+)"[^>]*>[^<]*</a></p>', first).group(1)
    second = admin.get(older.replace("&amp;", "&")).get_data(as_text=True)
    seen = rows(first) + rows(second)
    assert len(rows(first)) == 50 and len(seen) == 60
    assert sorted(seen) == sorted(e["id"] for e in events)


@pytest.mark.parametrize(
    "query",
    [
        "day_from=not-a-date",
        "user=nobody",
        "before=-3",
        "day_from=2026-11-29&day_to=2026-11-01",
        "type=drop.table",
    ],
)
def test_bad_filters_are_400_with_a_message(admin, query):
    response = admin.get(f"/admin/audit?{query}&lang=en")
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["lobby1", "super1", "area1", "teller1", "wealth1"])
def test_only_admins_read_the_audit_log(sign_in, username):
    user = sign_in(username)
    assert user.get("/admin/audit").status_code == 403
    assert user.get("/admin/sign-ins").status_code == 403


def test_sign_ins_show_how_each_session_ended(sign_in, admin):
    lobby = sign_in("lobby1")
    lobby.post("/logout")
    html = admin.get("/admin/sign-ins?user=lobby1&lang=en").get_data(as_text=True)
    assert "Signed out" in html and "127.0.0.1" in html
    assert admin.get("/admin/sign-ins?page=0").status_code == 400


def test_the_audit_log_has_no_way_to_change_an_entry(app):
    """The audit pages are read-only: GET only, and no route deletes or replaces events."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("admin.audit", "admin.sign_ins"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}
        assert not rule.methods & {"PUT", "PATCH", "DELETE"}, rule
