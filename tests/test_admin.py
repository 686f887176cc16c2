"""The admin screens: branches and users, for admins only."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Branch, Event, Role, User

from .conftest import CSRF_META, greeted

NON_ADMINS = ["lobby1", "lobby-north", "super1", "area1", "wealth1", "teller1"]


def admin_urls(app) -> list[tuple[str, str]]:
    """(method, url) of every admin route, ids filled with 1 (a product's code with a demo one)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        url = re.sub(
            r"<(?:int:)?(\w+)>",
            lambda m: "wm-stable" if m.group(1) == "product_code" else "1",
            rule.rule,
        )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def branch_form(**overrides) -> dict:
    data = {
        "code": "east",
        "name": "城东支行",
        "name_en": "East Branch",
        "timezone": "Asia/Shanghai",
        "opens_at": "08:30",
        "wait_warn_minutes": "8",
        "wait_alert_minutes": "20",
        "referral_take_minutes": "4",
    }
    data.update(overrides)
    return data


def user_form(app, **overrides) -> dict:
    data = {
        "username": "lobby3",
        "display_name": "大堂经理三",
        "role": "lobby_manager",
        "branches": [branch_id(app, "demo")],
        "password": "a-long-password",
        "confirm": "a-long-password",
    }
    data.update(overrides)
    return data


def branch_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


def get_user(app, username: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            user.branch_codes = [b.code for b in user.branches]
            db.session.expunge(user)
        return user


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def sign_in_with(app, username: str, password: str):
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    return client, response


@pytest.fixture
def admin(sign_in):
    return sign_in("admin")


# --- who may enter ----------------------------------------------------------


def test_the_admin_routes_exist(app):
    urls = admin_urls(app)
    assert ("GET", "/admin") in urls
    assert ("POST", "/admin/users/1/deactivate") in urls
    assert len(urls) >= 12


@pytest.mark.parametrize("username", NON_ADMINS)
def test_every_admin_route_is_forbidden_to_other_roles(app, sign_in, username):
    user = sign_in(username)
    users_before = count(app, User)
    for method, url in admin_urls(app):
        if method == "GET":
            response = user.get(url)
        else:
            response = user.post(
                url,
                data={
                    "code": "x",
                    "name": "x",
                    "username": "x",
                    "role": "admin",
                    "password": "long-enough-pw",
                    "confirm": "long-enough-pw",
                },
            )
        assert response.status_code == 403, (method, url)
        htmx = user.get(url, headers={"HX-Request": "true"}) if method == "GET" else None
        if htmx is not None:
            assert htmx.status_code == 403
    assert count(app, User) == users_before
    assert get_user(app, "admin").active


def test_admin_routes_ask_strangers_to_sign_in(app, client):
    for method, url in admin_urls(app):
        if method != "GET":
            continue
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        htmx = client.get(url, headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and "/login" in htmx.headers["HX-Redirect"]


def test_admin_pages_render(admin, app):
    for method, url in admin_urls(app):
        if method == "GET":
            response = admin.get(url)
            assert response.status_code == 200, url
            html = response.get_data(as_text=True)
            # Strict CSP: no inline script and no style attributes.
            assert 'style="' not in html, url
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
            assert 'name="csrf-token"' in html


def test_admin_pages_speak_english_and_chinese(admin):
    assert "Branches" in admin.get("/admin/branches?lang=en").get_data(as_text=True)
    html = admin.get("/admin/users?lang=zh").get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "添加用户" in html


# --- branches ---------------------------------------------------------------


def test_create_branch(admin, app):
    response = admin.post("/admin/branches/new", data=branch_form())
    assert response.status_code == 302
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == "east"))
        assert branch.name == "城东支行" and branch.name_en == "East Branch"
        assert branch.opens_at.strftime("%H:%M") == "08:30"
        assert (branch.wait_warn_minutes, branch.wait_alert_minutes) == (8, 20)
        assert branch.referral_take_minutes == 4
        assert branch.active
    assert "east" in admin.get("/admin/branches").get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"code": "demo"}, "A branch with this code already exists."),
        ({"code": "DEMO "}, "A branch with this code already exists."),
        ({"code": "bad code!"}, "Use lowercase letters, digits and hyphens only."),
        ({"code": ""}, "Enter a code."),
        ({"code": "x" * 33}, "Field cannot be longer than 32 characters."),
        ({"name": ""}, "Enter the branch's name."),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone."),
        ({"timezone": "../../etc/passwd"}, "Unknown time zone."),
        ({"timezone": "localtime"}, "Unknown time zone."),
        ({"opens_at": "25:99"}, "Not a valid time value."),
        ({"opens_at": ""}, "Enter the opening time."),
        ({"wait_warn_minutes": "ten"}, "Not a valid integer value."),
        ({"wait_warn_minutes": "0"}, "Enter a number from 1 to 240."),
        ({"referral_take_minutes": "0"}, "Enter a number from 1 to 60."),
        (
            {"wait_warn_minutes": "30", "wait_alert_minutes": "20"},
            "The red threshold must be longer than the amber one.",
        ),
    ],
)
def test_bad_branch_input_is_refused_with_a_message(admin, app, overrides, message):
    before = count(app, Branch)
    response = admin.post("/admin/branches/new?lang=en", data=branch_form(**overrides))
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert message in html
    assert 'name="code"' in html  # the form again, with what was typed
    assert count(app, Branch) == before


def test_edit_branch(admin, app):
    north = branch_id(app, "north")
    page = admin.get(f"/admin/branches/{north}/edit").get_data(as_text=True)
    assert 'value="north"' in page
    response = admin.post(
        f"/admin/branches/{north}/edit",
        data=branch_form(
            code="north",
            name="城北支行（新）",
            timezone="Asia/Urumqi",
            opens_at="09:30",
            wait_warn_minutes="12",
            wait_alert_minutes="40",
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        branch = db.session.get(Branch, north)
        assert (branch.name, branch.timezone, branch.wait_alert_minutes) == (
            "城北支行（新）",
            "Asia/Urumqi",
            40,
        )
        assert branch.opens_at.strftime("%H:%M") == "09:30"


def test_edit_branch_to_a_taken_code_changes_nothing(admin, app):
    north = branch_id(app, "north")
    response = admin.post(
        f"/admin/branches/{north}/edit?lang=en", data=branch_form(code="demo", name="changed")
    )
    assert response.status_code == 422
    assert "A branch with this code already exists." in response.get_data(as_text=True)
    with app.app_context():
        branch = db.session.get(Branch, north)
        assert (branch.code, branch.name) == ("north", "城北支行")


def test_unknown_branch_is_404(admin):
    assert admin.get("/admin/branches/9999/edit").status_code == 404
    assert admin.post("/admin/branches/9999/deactivate").status_code == 404


def test_deactivate_branch_with_htmx_swaps_its_row(admin, app, sign_in):
    north = branch_id(app, "north")
    response = admin.post(f"/admin/branches/{north}/deactivate?lang=en", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="branch-{north}"')
    assert "<html" not in html and "Reactivate" in html
    assert "HX-Request" in response.headers.get("Vary", "")
    with app.app_context():
        assert not db.session.get(Branch, north).active
    # A deactivated branch takes no new events.
    result = sign_in("lobby-north").sync([greeted(branch="north")]).get_json()["results"][0]
    assert result["error"]["code"] == "branch_forbidden"

    response = admin.post(f"/admin/branches/{north}/reactivate?lang=en", htmx=True)
    assert response.status_code == 200 and "Deactivate" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Branch, north).active


def test_deactivate_branch_without_htmx_redirects(admin, app):
    north = branch_id(app, "north")
    response = admin.post(f"/admin/branches/{north}/deactivate")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/branches")
    with app.app_context():
        assert not db.session.get(Branch, north).active


# --- users ------------------------------------------------------------------


def usernames_in(html: str) -> set[str]:
    return set(re.findall(r'data-username="([^"]+)"', html))


def test_user_list_and_filters(admin):
    everyone = usernames_in(admin.get("/admin/users").get_data(as_text=True))
    assert everyone == {
        "lobby1",
        "lobby2",
        "lobby-north",
        "super1",
        "area1",
        "wealth1",
        "wealth2",
        "teller1",
        "admin",
    }
    north = usernames_in(admin.get("/admin/users?branch=north").get_data(as_text=True))
    assert north == {"lobby-north", "area1"}
    lobby_demo = admin.get("/admin/users?branch=demo&role=lobby_manager").get_data(as_text=True)
    assert usernames_in(lobby_demo) == {"lobby1", "lobby2"}


def test_user_filter_with_htmx_returns_the_table(admin):
    response = admin.get("/admin/users?role=teller", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="user-table"')
    assert "<html" not in html
    assert usernames_in(html) == {"teller1"}


def test_bad_user_filter_is_400_not_500(admin):
    response = admin.get("/admin/users?role=emperor")
    assert response.status_code == 400
    assert usernames_in(response.get_data(as_text=True)) == set()
    assert (
        admin.get("/admin/users?branch=nowhere", headers={"HX-Request": "true"}).status_code == 400
    )


def test_create_user_who_then_signs_in(admin, app):
    response = admin.post("/admin/users/new", data=user_form(app))
    assert response.status_code == 302
    user = get_user(app, "lobby3")
    assert user.role is Role.LOBBY_MANAGER and user.branch_codes == ["demo"]
    assert user.display_name == "大堂经理三" and user.active
    client, signed = sign_in_with(app, "lobby3", "a-long-password")
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/lobby")


def test_create_area_supervisor_with_two_branches_and_admin_with_none(admin, app):
    both = [branch_id(app, "demo"), branch_id(app, "north")]
    assert (
        admin.post(
            "/admin/users/new",
            data=user_form(app, username="area2", role="area_supervisor", branches=both),
        ).status_code
        == 302
    )
    assert get_user(app, "area2").branch_codes == ["demo", "north"]
    assert (
        admin.post(
            "/admin/users/new", data=user_form(app, username="admin2", role="admin", branches=[])
        ).status_code
        == 302
    )
    assert get_user(app, "admin2").role is Role.ADMIN


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"username": "lobby1"}, "This username is taken."),
        ({"username": "Lobby1"}, "This username is taken."),
        ({"username": ""}, "Enter a username."),
        (
            {"username": "no spaces"},
            "Use lowercase letters, digits, dots, hyphens and underscores only.",
        ),
        ({"password": "short", "confirm": "short"}, "The password must have 10 to 256 characters."),
        ({"confirm": "something-else"}, "The two passwords differ."),
        ({"role": "emperor"}, "Not a valid choice."),
        ({"branches": []}, "This role works in exactly one branch: choose one."),
        ({"branches": ["1", "2"]}, "This role works in exactly one branch: choose one."),
        ({"branches": ["9999"]}, "is not a valid choice"),
        ({"branches": ["abc"]}, "Invalid choice(s): one or more data inputs could not be coerced."),
        ({"role": "area_supervisor", "branches": []}, "Choose at least one branch."),
    ],
)
def test_bad_user_input_is_refused_with_a_message(admin, app, overrides, message):
    before = count(app, User)
    response = admin.post("/admin/users/new?lang=en", data=user_form(app, **overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, User) == before


def test_edit_user_role_and_branches(admin, app):
    lobby2 = get_user(app, "lobby2")
    page = admin.get(f"/admin/users/{lobby2.id}/edit").get_data(as_text=True)
    assert '<option selected value="lobby_manager">' in page
    response = admin.post(
        f"/admin/users/{lobby2.id}/edit",
        data={"display_name": "柜员二", "role": "teller", "branches": [branch_id(app, "north")]},
    )
    assert response.status_code == 302
    user = get_user(app, "lobby2")
    assert (user.role, user.branch_codes, user.display_name) == (Role.TELLER, ["north"], "柜员二")
    _client, signed = sign_in_with(app, "lobby2", "test-pass-1234")
    assert signed.headers["Location"].endswith("/referrals")


def test_edit_user_with_bad_input_changes_nothing(admin, app):
    lobby2 = get_user(app, "lobby2")
    response = admin.post(
        f"/admin/users/{lobby2.id}/edit?lang=en",
        data={
            "display_name": "x",
            "role": "lobby_manager",
            "branches": [branch_id(app, "demo"), branch_id(app, "north")],
        },
    )
    assert response.status_code == 422
    assert "exactly one branch" in response.get_data(as_text=True)
    user = get_user(app, "lobby2")
    assert (user.display_name, user.branch_codes) == ("大堂经理二", ["demo"])


def test_admin_cannot_remove_their_own_admin_role(admin, app):
    me = get_user(app, "admin")
    response = admin.post(
        f"/admin/users/{me.id}/edit?lang=en",
        data={
            "display_name": "me",
            "role": "area_supervisor",
            "branches": [branch_id(app, "demo")],
        },
    )
    assert response.status_code == 422
    assert "You cannot remove your own administrator role." in response.get_data(as_text=True)
    assert get_user(app, "admin").role is Role.ADMIN


def test_deactivate_user_with_htmx_ends_their_session(admin, app, sign_in):
    lobby1 = sign_in("lobby1")
    assert lobby1.get("/lobby").status_code == 200
    user = get_user(app, "lobby1")
    response = admin.post(f"/admin/users/{user.id}/deactivate?lang=en", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="user-{user.id}"')
    assert "<html" not in html and "Reactivate" in html
    after = get_user(app, "lobby1")
    assert not after.active and after.session_version == user.session_version + 1

    # Signed out everywhere: pages redirect, the API answers 401, sign-in fails.
    assert lobby1.get("/lobby").status_code == 302
    assert lobby1.sync([greeted()]).status_code == 401
    _client, signed = sign_in_with(app, "lobby1", "test-pass-1234")
    assert signed.status_code == 401

    response = admin.post(f"/admin/users/{user.id}/reactivate?lang=en", htmx=True)
    assert response.status_code == 200 and "Deactivate" in response.get_data(as_text=True)
    _client, signed = sign_in_with(app, "lobby1", "test-pass-1234")
    assert signed.status_code == 302


def test_deactivate_user_without_htmx_redirects(admin, app):
    user = get_user(app, "teller1")
    response = admin.post(f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert not get_user(app, "teller1").active


def test_admin_cannot_deactivate_themselves(admin, app):
    me = get_user(app, "admin")
    assert f'action="/admin/users/{me.id}/deactivate"' not in admin.get("/admin/users").get_data(
        as_text=True
    )
    htmx = admin.post(f"/admin/users/{me.id}/deactivate?lang=en", htmx=True)
    assert htmx.status_code == 422
    assert "You cannot deactivate yourself." in htmx.get_data(as_text=True)
    assert "<html" not in htmx.get_data(as_text=True)
    plain = admin.post(f"/admin/users/{me.id}/deactivate?lang=en")
    assert plain.status_code == 422
    assert "You cannot deactivate yourself." in plain.get_data(as_text=True)
    after = get_user(app, "admin")
    assert after.active and after.session_version == me.session_version
    assert admin.get("/admin").status_code == 200


def test_reset_password_ends_old_sessions(admin, app, sign_in):
    wealth1 = sign_in("wealth1")
    assert wealth1.get("/referrals").status_code == 200
    user = get_user(app, "wealth1")
    assert admin.get(f"/admin/users/{user.id}/password").status_code == 200
    response = admin.post(
        f"/admin/users/{user.id}/password",
        data={"password": "brand-new-password", "confirm": "brand-new-password"},
    )
    assert response.status_code == 302
    assert get_user(app, "wealth1").session_version == user.session_version + 1
    assert wealth1.get("/referrals").status_code == 302
    assert sign_in_with(app, "wealth1", "test-pass-1234")[1].status_code == 401
    assert sign_in_with(app, "wealth1", "brand-new-password")[1].status_code == 302


def test_reset_own_password_keeps_this_session(admin, app):
    me = get_user(app, "admin")
    response = admin.post(
        f"/admin/users/{me.id}/password",
        data={"password": "brand-new-password", "confirm": "brand-new-password"},
    )
    assert response.status_code == 302
    assert admin.get("/admin").status_code == 200


def test_reset_password_refuses_a_short_one(admin, app):
    user = get_user(app, "wealth1")
    response = admin.post(
        f"/admin/users/{user.id}/password?lang=en", data={"password": "short", "confirm": "short"}
    )
    assert response.status_code == 422
    assert "The password must have 10 to 256 characters." in response.get_data(as_text=True)
    assert get_user(app, "wealth1").session_version == user.session_version


def test_admin_post_without_csrf_token_writes_nothing(admin, app):
    before = count(app, Branch)
    response = admin.client.post("/admin/branches/new", data=branch_form())
    assert response.status_code == 400
    assert count(app, Branch) == before
    user = get_user(app, "teller1")
    assert (
        admin.client.post(
            f"/admin/users/{user.id}/deactivate", headers={"HX-Request": "true"}
        ).status_code
        == 400
    )
    assert get_user(app, "teller1").active


def test_admin_is_not_a_lobby_actor(admin, app):
    """Admin configuration is plain ORM writes: no lobby events are recorded."""
    admin.post("/admin/branches/new", data=branch_form())
    assert count(app, Event) == 0
