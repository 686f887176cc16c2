"""Sign-in, sign-out, languages, and who may see and change which branch."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Branch, Event, User

from .conftest import CSRF_META, DEMO_PASSWORD, greeted

HOMES = {
    "lobby1": "/lobby",
    "lobby2": "/lobby",
    "lobby-north": "/lobby",
    "super1": "/supervisor",
    "area1": "/supervisor",
    "wealth1": "/referrals",
    "teller1": "/referrals",
    "admin": "/admin",
}


def csrf_of(client) -> str:
    return CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)


def post_login(client, username: str, password: str, **kwargs):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client)},
        **kwargs,
    )


def sign_out(client):
    """Sign out as the page's control does: POST /logout with the CSRF token."""
    page = client.get("/logout")
    token = CSRF_META.search(page.get_data(as_text=True)).group(1)
    return client.post("/logout", data={"csrf_token": token})


def set_active(app, username: str, active: bool) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(active=active))
        db.session.commit()


def event_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


# --- signing in and out -----------------------------------------------------


def test_sign_in_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html
    assert 'name="csrf-token"' in html


@pytest.mark.parametrize("username, home", sorted(HOMES.items()))
def test_sign_in_and_out_for_every_role(client, username, home):
    response = post_login(client, username, DEMO_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(home)
    page = client.get(home)
    assert page.status_code == 200
    assert 'data-testid="sign-out"' in page.get_data(as_text=True)
    assert client.get("/").headers["Location"].endswith(home)
    # Visiting /login while signed in goes home.
    assert client.get("/login").headers["Location"].endswith(home)

    out = sign_out(client)
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    after = client.get(home)
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_sign_in_is_case_tolerant_about_spaces(client):
    response = post_login(client, "  lobby1 ", DEMO_PASSWORD)
    assert response.status_code == 302


def test_wrong_password_is_401_with_a_message(client):
    response = post_login(client, "lobby1", "not-the-password", query_string={"lang": "en"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/lobby").status_code == 302


def test_unknown_user_is_401_with_the_same_message(client):
    response = post_login(client, "nobody", DEMO_PASSWORD, query_string={"lang": "en"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_empty_sign_in_form_is_400(client):
    response = client.post("/login", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 400


def test_sign_in_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "lobby1", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert client.get("/lobby").status_code == 302


def test_next_goes_back_only_to_this_site(client):
    response = client.post(
        "/login?next=/checklist",
        data={"username": "lobby1", "password": DEMO_PASSWORD, "csrf_token": csrf_of(client)},
    )
    assert response.headers["Location"].endswith("/checklist")
    sign_out(client)
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(
            "/login",
            query_string={"next": evil},
            data={"username": "lobby1", "password": DEMO_PASSWORD, "csrf_token": csrf_of(client)},
        )
        assert response.headers["Location"].endswith("/lobby"), evil
        sign_out(client)


def test_repeated_failed_sign_ins_are_throttled(app, client):
    assert app.config["LOGIN_RATE_LIMIT"].startswith("10 per minute")
    statuses = [post_login(client, "lobby1", f"wrong-{i}").status_code for i in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # Even the right password waits now.
    assert post_login(client, "lobby1", DEMO_PASSWORD).status_code == 429


def test_a_new_session_on_sign_in(client):
    """No session fixation: what was in the session before signing in is gone."""
    with client.session_transaction() as session:
        session["planted"] = "x"
    post_login(client, "lobby1", DEMO_PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session


# --- languages --------------------------------------------------------------


def test_language_switch_is_remembered(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html
    # Remembered without the parameter.
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["lang"] == "en"
    html = client.get("/login?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["lang"] == "zh"


def test_language_is_remembered_from_a_redirect(client, lobby1):
    assert client.get("/?lang=en").status_code == 302
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    lobby1.get("/api/v1/events?lang=en")
    with lobby1.client.session_transaction() as session:
        assert session["lang"] == "en"


def test_chinese_is_the_default(client):
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)


def test_an_unknown_language_is_ignored(client):
    assert '<html lang="zh-CN">' in client.get("/login?lang=xx").get_data(as_text=True)


def test_language_survives_sign_in_and_out(client):
    client.get("/login?lang=en")
    post_login(client, "lobby1", DEMO_PASSWORD)
    assert '<html lang="en">' in client.get("/lobby").get_data(as_text=True)
    sign_out(client)
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


# --- deactivated users ------------------------------------------------------


def test_deactivated_user_cannot_sign_in(app, client):
    set_active(app, "teller1", False)
    response = post_login(client, "teller1", DEMO_PASSWORD)
    assert response.status_code == 401


def test_deactivated_user_is_signed_out(app, sign_in):
    teller = sign_in("teller1")
    lobby = sign_in("lobby1")
    set_active(app, "teller1", False)
    set_active(app, "lobby1", False)
    response = teller.get("/referrals")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert lobby.sync([greeted()]).status_code == 401
    assert event_count(app) == 0


def test_bumped_session_version_signs_out(app, sign_in):
    lobby = sign_in("lobby1")
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.username == "lobby1")
            .values(session_version=User.session_version + 1)
        )
        db.session.commit()
    assert lobby.get("/lobby").status_code == 302


# --- callers without a session ----------------------------------------------

PAGES = ["/lobby", "/checklist", "/referrals", "/supervisor", "/admin", "/"]


@pytest.mark.parametrize("path", PAGES)
def test_browser_without_session_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", PAGES)
def test_htmx_without_session_gets_401_with_hx_redirect(client, path):
    response = client.get(path, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert "/login" in response.headers["HX-Redirect"]


def test_htmx_post_without_session_gets_401(app, client):
    """With a good CSRF token (the sign-in page gives one) but no session: 401."""
    with app.app_context():
        teller = db.session.scalar(select(User.id).where(User.username == "teller1"))
    response = client.post(
        f"/admin/users/{teller}/deactivate",
        headers={"HX-Request": "true", "X-CSRFToken": csrf_of(client)},
    )
    assert response.status_code == 401
    assert "/login" in response.headers["HX-Redirect"]
    with app.app_context():
        assert db.session.get(User, teller).active


def test_api_without_session_is_401_json_even_without_csrf(app, client):
    for response in (
        client.post("/api/v1/sync", json={"events": [greeted()]}),
        client.post("/api/v1/sync", data="not json"),
        client.get("/api/v1/events"),
        client.get("/api/v1/events", headers={"HX-Request": "true"}),
    ):
        assert response.status_code == 401
        assert response.is_json
        assert response.get_json()["error"]["code"] == "unauthenticated"
        assert response.get_json()["error"]["message"]
        assert "Location" not in response.headers
    assert event_count(app) == 0


# --- CSRF while signed in ---------------------------------------------------


def test_api_post_without_csrf_token_is_400_and_writes_nothing(app, lobby1):
    response = lobby1.client.post("/api/v1/sync", json={"device_id": "d", "events": [greeted()]})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert event_count(app) == 0


def test_api_post_with_a_wrong_csrf_token_is_400(app, lobby1):
    response = lobby1.sync([greeted()], headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert event_count(app) == 0


def test_form_post_without_csrf_token_is_400_and_writes_nothing(app, sign_in):
    admin = sign_in("admin")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Branch))
    response = admin.client.post(
        "/admin/branches/new",
        data={
            "code": "east",
            "name": "城东",
            "timezone": "Asia/Shanghai",
            "opens_at": "09:00",
            "wait_warn_minutes": "10",
            "wait_alert_minutes": "30",
        },
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Branch)) == before


# --- one branch may not see or change another --------------------------------


def test_lobby_manager_cannot_write_another_branch(app, lobby1):
    result = lobby1.sync([greeted(branch="north")]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "branch_forbidden"
    assert event_count(app) == 0


def test_lobby_manager_cannot_read_another_branch(sign_in):
    north = sign_in("lobby-north")
    north_events = [greeted(branch="north") for _ in range(3)]
    assert [r["status"] for r in north.sync(north_events).get_json()["results"]] == ["accepted"] * 3
    lobby1 = sign_in("lobby1")
    mine = greeted()
    lobby1.sync([mine])

    pulled = lobby1.pull().get_json()["events"]
    assert [e["id"] for e in pulled] == [mine["id"]]
    assert all(e["branch"] == "demo" for e in pulled)
    # The north manager sees only north; the area supervisor sees both.
    assert {e["branch"] for e in north.pull().get_json()["events"]} == {"north"}
    area = sign_in("area1").pull().get_json()["events"]
    assert len(area) == 4 and {e["branch"] for e in area} == {"demo", "north"}


def test_lobby_manager_cannot_close_another_branch_visit(app, sign_in):
    north = sign_in("lobby-north")
    visit = greeted(branch="north")
    north.sync([visit])
    lobby1 = sign_in("lobby1")
    closing = {"outcome": "served"}
    from .conftest import make_event

    as_north = make_event("visit.closed", visit["subject_id"], closing, branch="north")
    as_demo = make_event("visit.closed", visit["subject_id"], closing, branch="demo")
    results = lobby1.sync([as_north, as_demo]).get_json()["results"]
    assert [r["error"]["code"] for r in results] == ["branch_forbidden", "subject_mismatch"]
    assert event_count(app) == 1
    # Re-sending another branch's event id does not reveal it either.
    result = lobby1.sync([dict(visit, branch="demo")]).get_json()["results"][0]
    assert result["error"]["code"] == "id_conflict"


@pytest.mark.parametrize(
    "username, forbidden",
    [
        ("lobby1", ["/admin", "/admin/users", "/admin/branches", "/supervisor", "/referrals"]),
        ("lobby-north", ["/admin", "/supervisor", "/referrals"]),
        ("teller1", ["/lobby", "/checklist", "/supervisor", "/admin"]),
        ("wealth1", ["/lobby", "/checklist", "/supervisor", "/admin"]),
        ("super1", ["/lobby", "/checklist", "/admin", "/referrals"]),
        ("area1", ["/lobby", "/checklist", "/admin"]),
        ("admin", ["/lobby", "/checklist", "/supervisor", "/referrals"]),
    ],
)
def test_pages_of_other_roles_are_403(sign_in, username, forbidden):
    user = sign_in(username)
    for path in forbidden:
        assert user.get(path).status_code == 403, path
        assert user.get(path, headers={"HX-Request": "true"}).status_code == 403, path


def test_403_answers_json_to_the_api_and_html_to_browsers(lobby1):
    html = lobby1.get("/admin")
    assert html.status_code == 403 and "text/html" in html.content_type


# --- signing out only by POST, signing in over a live session (issue 13) -----------


def test_a_get_of_logout_signs_no_one_out(client):
    post_login(client, "lobby1", DEMO_PASSWORD)
    page = client.get("/logout?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="confirm-sign-out"' in html and 'method="post"' in html
    assert client.get("/lobby").status_code == 200  # still signed in


def test_a_post_of_logout_without_the_token_signs_no_one_out(client):
    post_login(client, "lobby1", DEMO_PASSWORD)
    assert client.post("/logout").status_code == 400
    assert client.get("/lobby").status_code == 200
    assert sign_out(client).headers["Location"].endswith("/login")
    assert client.get("/lobby").status_code == 302


def test_logout_when_signed_out_goes_to_the_sign_in_form(client):
    response = client.get("/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_signing_in_over_a_live_session_ends_it_everywhere(app, client):
    from app.models import SignIn

    post_login(client, "lobby1", DEMO_PASSWORD)
    copied = app.test_client()  # the first sign-in's cookie, copied to another browser
    copied.set_cookie("session", client.get_cookie("session").value)
    assert copied.get("/lobby").status_code == 200
    # The same browser signs in again (a form kept open, or another person) without
    # signing out: the first sign-in ends, its copied cookie with it.
    response = client.post(
        "/login",
        data={
            "username": "lobby2",
            "password": DEMO_PASSWORD,
            "csrf_token": CSRF_META.search(client.get("/logout").get_data(as_text=True)).group(1),
        },
    )
    assert response.status_code == 302
    assert copied.get("/lobby").status_code == 302
    assert client.get("/lobby").status_code == 200
    with app.app_context():
        lobby1_id, lobby2_id = (
            db.session.scalar(select(User.id).where(User.username == name))
            for name in ("lobby1", "lobby2")
        )
        rows = db.session.scalars(select(SignIn).order_by(SignIn.started_at)).all()
        assert [(r.user_id, r.ended_reason) for r in rows] == [
            (lobby1_id, "replaced"),
            (lobby2_id, None),
        ]


def test_an_unknown_user_name_costs_a_password_hash(client, monkeypatch):
    """The time of a refusal tells nothing: unknown, inactive and wrong all hash once."""
    import werkzeug.security as security

    hashed = []
    real = security._hash_internal

    def counting(method, salt, password):
        hashed.append(method.split(":")[0])
        return real(method, salt, password)

    monkeypatch.setattr(security, "_hash_internal", counting)
    csrf_of(client)  # any hashing of the page itself is done before counting
    for username in ("lobby1", "nobody-such", "lobby1"):
        hashed.clear()
        password = "wrong-password-1" if username == "lobby1" else DEMO_PASSWORD
        assert post_login(client, username, password).status_code == 401
        assert len(hashed) == 1, (username, hashed)
    wrong_kind = hashed[0]
    hashed.clear()
    post_login(client, "nobody-such", "x" * 12)
    assert hashed == [wrong_kind]  # the same method as a real user's hash, so the same cost


def test_an_inactive_user_costs_a_password_hash_too(app, client, monkeypatch):
    import werkzeug.security as security

    hashed = []
    real = security._hash_internal
    monkeypatch.setattr(security, "_hash_internal", lambda *args: hashed.append(1) or real(*args))
    set_active(app, "lobby2", False)
    assert post_login(client, "lobby2", DEMO_PASSWORD).status_code == 401
    assert len(hashed) == 1
