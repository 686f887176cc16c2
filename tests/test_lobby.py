"""The lobby pages, their fragments, who may see them, and the visit events' payload rules."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.lobby.rules import DEFAULT_RULES, Rule, suggest_route
from app.models import Event, NeedTag, RouteRule, SelfServiceMachine, Visit
from app.privacy import personal_data_in
from app.vocabulary import PURPOSES

from .conftest import greeted, make_event

HX = {"HX-Request": "true"}


def ago(minutes: float) -> str:
    t = datetime.now(UTC) - timedelta(minutes=minutes)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lobby_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="lobby-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def event_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count(Event.position)))
        db.session.remove()
        return n


@pytest.fixture
def visit(lobby1):
    """A demo-branch visit greeted 3 minutes ago."""
    visit_id = str(uuid.uuid4())
    result = lobby1.sync(
        [greeted(visit_id, payload={"purpose": "transfer", "ticket": "A031"}, occurred_at=ago(3))]
    ).get_json()["results"][0]
    assert result["status"] == "accepted", result
    return visit_id


# --- the route suggestion --------------------------------------------------


@pytest.mark.parametrize(
    "purpose, band, route",
    [
        ("cash", None, "self_service"),
        ("bills", None, "self_service"),
        ("transfer", None, "counter"),
        ("transfer", "lt_50k", "counter"),
        ("transfer", "50k_200k", "wealth"),
        ("transfer", "gt_1m", "wealth"),
        ("wealth", None, "wealth"),
        ("corporate", None, "corporate"),
        ("loan", None, "counter"),
        ("account", "gt_1m", "counter"),
        ("other", None, "counter"),
    ],
)
def test_default_route_suggestions(purpose, band, route):
    assert suggest_route(list(DEFAULT_RULES), purpose, band) == route


def test_route_rules_pick_the_highest_band_reached():
    rules = [
        Rule("transfer", "counter"),
        Rule("transfer", "wealth", "50k_200k"),
        Rule("transfer", "vip", "gt_1m"),
    ]
    assert suggest_route(rules, "transfer", "200k_1m") == "wealth"
    assert suggest_route(rules, "transfer", "gt_1m") == "vip"
    assert suggest_route([], "cash") == "counter"
    assert {r.purpose for r in DEFAULT_RULES} == set(PURPOSES)


# --- privacy ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind",
    [
        ("客户身份证 11010519491231002X 要开户", "id"),
        ("id 110105194912310021 ok", None),  # wrong check digit: not an ID number
        ("卡号 4111 1111 1111 1111", "card"),
        ("card 6222-0212-3456-7897?", None) if False else ("card 4111-1111-1111-1111", "card"),
        ("手机 13812345678 回电", "mobile"),
        ("call +86 138 1234 5678", "mobile"),
    ],
)
def test_privacy_true_positives(text, kind):
    assert personal_data_in(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "wants to move 300000 to a 3-year deposit",
        "转账 1,000,000 元，约 09:30 再来",
        "ticket A031, waited 25 min",
        "2026-11-29 14:05",
        "amount 12345678.90",
        "4111 1111 1111 1112",
        "两张单子 No. 2026112900123",
    ],
)
def test_privacy_lets_ordinary_numbers_pass(text):
    assert personal_data_in(text) is None


def test_privacy_guard_on_every_note(app, lobby1, visit):
    before = event_count(app)
    refer_id = str(uuid.uuid4())
    events = [
        make_event("visit.engaged", visit, {"note": "mobile 13812345678"}),
        make_event("visit.complaint", visit, {"note": "ID 11010519491231002X"}),
        make_event(
            "visit.referred",
            visit,
            {"referral_id": refer_id, "to": "wealth", "note": "card 4111111111111111"},
        ),
        make_event("visit.closed", visit, {"outcome": "served", "note": "13912345678"}),
    ]
    results = lobby1.sync(events).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 4
    assert all(r["error"]["code"] == "invalid_payload" for r in results)
    assert (
        "personal data" in results[0]["error"]["message"]
        or "个人" in results[0]["error"]["message"]
    )
    assert event_count(app) == before
    ok = lobby1.sync(
        [
            make_event(
                "visit.engaged", visit, {"note": "wants 300000 in a 90-day product, back at 14:30"}
            )
        ]
    )
    assert ok.get_json()["results"][0]["status"] == "accepted"


# --- payload rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "type, payload, code",
    [
        ("visit.triaged", {"route": "helicopter"}, "invalid_payload"),
        ("visit.triaged", {"route": "counter", "machine": "ATM-1"}, "invalid_payload"),
        ("visit.triaged", {"route": "self_service", "machine": "ATM-99"}, "unknown_machine"),
        ("visit.triaged", {"route": "counter", "colour": "red"}, "invalid_payload"),
        ("visit.triaged", {"route": "counter", "form_checked": "yes"}, "invalid_payload"),
        ("visit.engaged", {"needs": ["yachts"]}, "unknown_need"),
        ("visit.recommended", {"products": [], "response": "interested"}, "invalid_payload"),
        (
            "visit.recommended",
            {"products": ["no-such"], "response": "interested"},
            "unknown_product",
        ),
        ("visit.recommended", {"products": ["wm-stable"], "response": "maybe"}, "invalid_payload"),
        ("visit.referred", {"referral_id": "not-a-uuid", "to": "wealth"}, "invalid_payload"),
        ("visit.referred", {"referral_id": str(uuid.uuid4()), "to": "teller"}, "invalid_payload"),
        ("visit.updated", {}, "invalid_payload"),
        ("visit.updated", {"purpose": None}, "invalid_payload"),
        ("visit.updated", {"ticket": "A" * 11}, "invalid_payload"),
        ("visit.complaint", {"note": ""}, "invalid_payload"),
        ("visit.closed", {"outcome": "served", "satisfaction": 6}, "invalid_payload"),
        ("visit.closed", {"outcome": "served", "satisfaction": "5"}, "invalid_payload"),
        ("visit.closed", {"outcome": "vanished"}, "invalid_payload"),
        ("visit.closed", {"outcome": "served", "note": "x" * 501}, "invalid_payload"),
        ("visit.undone", {"event_id": str(uuid.uuid4())}, "unknown_step"),
    ],
)
def test_bad_payloads_are_refused_and_nothing_is_written(app, lobby1, visit, type, payload, code):
    before = event_count(app)
    result = lobby1.sync([make_event(type, visit, payload)]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == code, result
    assert result["error"]["message"]
    assert event_count(app) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"purpose": "atm"},
        {"purpose": "cash", "ticket": "A" * 11},
        {"purpose": "cash", "segment": "vip"},
        {"purpose": "cash", "flags": ["tall"]},
        {"purpose": "cash", "name": "Zhang"},
    ],
)
def test_greeting_payload_is_the_fixed_one(app, lobby1, payload):
    result = lobby1.sync([greeted(payload=payload)]).get_json()["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_payload"


def test_a_whole_visit_through_sync(app, lobby1, visit):
    referral = str(uuid.uuid4())
    events = [
        make_event("visit.updated", visit, {"segment": "high_value", "flags": ["elderly"]}),
        make_event("visit.triaged", visit, {"route": "self_service", "machine": "ATM-1"}),
        make_event(
            "visit.triaged", visit, {"route": "counter", "form_checked": True, "form_redone": True}
        ),
        make_event("visit.engaged", visit, {"needs": ["pension"], "note": "retires next year"}),
        make_event("visit.recommended", visit, {"products": ["pension-plan"], "response": "later"}),
        make_event("visit.referred", visit, {"referral_id": referral, "to": "wealth"}),
        make_event(
            "referral.created", referral, {"visit_id": visit, "to": "wealth", "purpose": "transfer"}
        ),
        make_event("visit.complaint", visit, {"note": "waited too long at the counter"}),
        make_event("visit.closed", visit, {"outcome": "referred", "satisfaction": 3}),
    ]
    results = lobby1.sync(events).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(events), results
    with app.app_context():
        v = db.session.get(Visit, visit)
        assert (v.status, v.route, v.form_checked, v.form_redone) == (
            "closed",
            "counter",
            True,
            True,
        )
        assert v.machine is None and v.needs == ["pension"] and v.complaint
        assert v.referral_id == referral and v.outcome == "referred" and v.satisfaction == 3
        assert [r.product_code for r in v.recommendations] == ["pension-plan"]


# --- pages and fragments ------------------------------------------------------


def test_lobby_page(app, lobby1, visit):
    response = lobby1.get("/lobby")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for code in PURPOSES:
        assert f'data-testid="purpose-{code}"' in html
    assert 'data-testid="ticket-input"' in html
    assert f'data-visit-id="{visit}"' in html
    assert "A031" in html and "尚未交谈" in html  # zh by default: "not talked to yet"
    data = lobby_data(html)
    assert {p["code"] for p in data["products"]} >= {"wm-stable", "card-gold"}
    assert "fund-2025" not in {p["code"] for p in data["products"]}  # its sale has ended
    assert data["machines"] == ["ATM-1", "ATM-2", "STM-1"]
    assert set(data["needs"]) == {
        "wealth_management",
        "deposits",
        "loans",
        "credit_card",
        "mobile_banking",
        "insurance",
        "pension",
        "foreign_exchange",
    }
    assert {"purpose": "transfer", "route": "wealth", "min_band": "50k_200k"} in data["rules"]
    assert "<script>" not in html.replace('<script type="application/json"', "")
    assert 'style="' not in html and "hx-on" not in html


def test_lobby_page_in_english(lobby1, visit):
    html = lobby1.get("/lobby?lang=en").get_data(as_text=True)
    assert "Not talked to yet" in html and "Triage" in html and "New customer" in html
    assert lobby_data(html)["labels"]["routes"]["self_service"] == "Self-service machine"


def test_board_fragment(app, lobby1, visit):
    response = lobby1.get("/lobby/board", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith("{#") is False and 'id="board"' in html
    assert "HX-Request" in response.headers["Vary"]
    version = re.search(r'name="since" value="(\d+)"', html).group(1)
    assert lobby1.get(f"/lobby/board?since={version}", headers=HX).status_code == 204
    assert lobby1.get("/lobby/board").status_code == 302  # a browser gets the page


def test_board_colours_marks_and_order(app, lobby1):
    old, mid, new = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    lobby1.sync(
        [
            greeted(new, occurred_at=ago(1)),
            greeted(old, occurred_at=ago(45)),
            greeted(mid, occurred_at=ago(15)),
            make_event("visit.engaged", mid, {}, occurred_at=ago(14)),
        ]
    )
    html = lobby1.get("/lobby/board", headers=HX).get_data(as_text=True)
    cards = re.findall(r'<li class="visit-card ([^"]*)"[^>]*data-visit-id="([^"]+)"', html)
    assert [c[1] for c in cards] == [old, mid, new]  # longest wait first
    classes = {vid: cls.split() for cls, vid in cards}
    assert (
        "wait-alert" in classes[old] and "wait-warn" in classes[mid] and "wait-ok" in classes[new]
    )
    assert "not-talked" in classes[old] and "not-talked" not in classes[mid]


def test_board_hides_closed_and_void_visits(app, lobby1, visit):
    g = greeted(occurred_at=ago(2))
    lobby1.sync(
        [
            make_event("visit.closed", visit, {"outcome": "walked_away"}, occurred_at=ago(1)),
            g,
            make_event("visit.undone", g["subject_id"], {"event_id": g["id"]}, occurred_at=ago(1)),
        ]
    )
    html = lobby1.get("/lobby/board", headers=HX).get_data(as_text=True)
    assert 'data-testid="visit-card"' not in html
    assert 'data-testid="closed-visit"' in html and "data-undo-close" in html


def test_visit_history_page_and_fragment(app, lobby1, visit):
    step = make_event("visit.triaged", visit, {"route": "vip"})
    lobby1.sync([step, make_event("visit.undone", visit, {"event_id": step["id"]})])
    page = lobby1.get(f"/lobby/visits/{visit}")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    fragment = lobby1.get(f"/lobby/visits/{visit}", headers=HX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert 'data-testid="visit-history"' in html
    assert re.search(rf'history-row undone" data-event-id="{step["id"]}"', html)
    card = lobby1.get(f"/lobby/visits/{visit}/card", headers=HX)
    assert card.status_code == 200 and f'data-visit-id="{visit}"' in card.get_data(as_text=True)
    assert lobby1.get(f"/lobby/visits/{visit}/card").status_code == 302
    assert lobby1.get(f"/lobby/visits/{uuid.uuid4()}", headers=HX).status_code == 404


def test_another_branch_cannot_see_or_write(app, lobby1, sign_in, visit):
    north = sign_in("lobby-north")
    assert visit not in north.get("/lobby").get_data(as_text=True)
    assert visit not in north.get("/lobby/board", headers=HX).get_data(as_text=True)
    assert north.get(f"/lobby/visits/{visit}").status_code == 403
    assert north.get(f"/lobby/visits/{visit}", headers=HX).status_code == 403
    assert north.get(f"/lobby/visits/{visit}/card", headers=HX).status_code == 403
    before = event_count(app)
    results = north.sync(
        [
            make_event("visit.closed", visit, {"outcome": "served"}, branch="north"),
            make_event("visit.closed", visit, {"outcome": "served"}, branch="demo"),
            make_event(
                "referral.created",
                str(uuid.uuid4()),
                {"visit_id": visit, "to": "wealth"},
                branch="north",
            ),
        ]
    ).get_json()["results"]
    assert [r["error"]["code"] for r in results] == [
        "subject_mismatch",
        "branch_forbidden",
        "unknown_visit",
    ]
    assert event_count(app) == before


@pytest.mark.parametrize("user", ["wealth1", "teller1", "super1", "admin"])
def test_other_roles_cannot_use_the_lobby(sign_in, visit, user):
    client = sign_in(user)
    assert client.get("/lobby").status_code == 403
    assert client.get("/lobby/board", headers=HX).status_code == 403
    assert client.get(f"/lobby/visits/{visit}").status_code == 403


def test_other_roles_cannot_record_visit_events(sign_in, visit):
    result = sign_in("wealth1").sync([make_event("visit.closed", visit, {"outcome": "served"})])
    assert result.get_json()["results"][0]["error"]["code"] == "forbidden"


def test_signed_out(client):
    assert client.get("/lobby").status_code == 302
    response = client.get("/lobby/board", headers=HX)
    assert response.status_code == 401 and "HX-Redirect" in response.headers


# --- the admin's settings -----------------------------------------------------


def settings_form(**changes) -> dict:
    form = {f"route-{r.purpose}": r.route for r in DEFAULT_RULES if r.min_band is None}
    form.update(
        {"band-transfer": "50k_200k", "large-transfer": "wealth", "machines": "ATM-1\nATM-2\nSTM-1"}
    )
    form.update(changes)
    return form


def test_settings_only_for_admins(sign_in):
    for user in ("lobby1", "super1", "wealth1"):
        assert sign_in(user).get("/lobby/settings").status_code == 403
    admin = sign_in("admin")
    html = admin.get("/lobby/settings?branch=north").get_data(as_text=True)
    assert 'data-testid="rule-cash"' in html and "ATM-1" in html
    assert admin.get("/lobby/settings?branch=nowhere").status_code == 404
    fragment = admin.get("/lobby/settings?branch=demo", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)


def test_settings_change_rules_machines_and_tags(app, sign_in):
    admin = sign_in("admin")
    with app.app_context():
        tag = db.session.scalar(select(NeedTag).where(NeedTag.code == "loans"))
        tag_id = tag.id
        db.session.remove()
    form = settings_form(
        **{
            "route-cash": "counter",
            "band-transfer": "200k_1m",
            "large-transfer": "vip",
            "machines": "ATM-9\n\nKiosk A\nATM-9",
            f"tag-{tag_id}-name": "个人贷款",
            f"tag-{tag_id}-name_en": "Personal loans",
            "new_tag_code": "gold",
            "new_tag_name": "贵金属",
            "new_tag_name_en": "Precious metals",
            "branch": "demo",
        }
    )
    with app.app_context():
        for t in db.session.scalars(select(NeedTag)):
            form.setdefault(f"tag-{t.id}-name", t.name)
            form.setdefault(f"tag-{t.id}-name_en", t.name_en)
            if t.code != "insurance":
                form[f"tag-{t.id}-active"] = "on"
        db.session.remove()
    response = admin.post("/lobby/settings?branch=demo", data=form)
    assert response.status_code == 302
    with app.app_context():
        demo_rules = db.session.scalars(select(RouteRule).where(RouteRule.branch_id == 1)).all()
        assert {(r.purpose, r.route, r.min_band) for r in demo_rules} >= {
            ("cash", "counter", None),
            ("transfer", "vip", "200k_1m"),
        }
        assert [
            m.name
            for m in db.session.scalars(
                select(SelfServiceMachine)
                .where(SelfServiceMachine.branch_id == 1)
                .order_by(SelfServiceMachine.position)
            )
        ] == ["ATM-9", "Kiosk A"]
        assert db.session.scalar(select(NeedTag).where(NeedTag.code == "gold")).name == "贵金属"
        assert not db.session.scalar(select(NeedTag).where(NeedTag.code == "insurance")).active
        db.session.remove()
    data = lobby_data(sign_in("lobby1").get("/lobby?lang=en").get_data(as_text=True))
    assert data["machines"] == ["ATM-9", "Kiosk A"]
    assert data["needs"]["loans"] == "Personal loans" and "insurance" not in data["needs"]
    assert "gold" in data["needs"]
    assert {"purpose": "cash", "route": "counter", "min_band": None} in data["rules"]


def test_settings_saved_by_htmx_say_so_in_a_toast_once(app, sign_in):
    """An htmx post's flash comes back with its fragment, out of band, and not on the next page."""
    admin = sign_in("admin")
    with app.app_context():
        form = settings_form()
        for t in db.session.scalars(select(NeedTag)):
            form[f"tag-{t.id}-name"] = t.name
            form[f"tag-{t.id}-name_en"] = t.name_en
            if t.active:
                form[f"tag-{t.id}-active"] = "on"
        db.session.remove()
    response = admin.post("/lobby/settings?branch=demo&lang=en", data=form, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="lobby-settings"' in html
    toasts = html[html.index('<div id="toasts" hx-swap-oob="beforeend">') :]
    assert '<p class="toast toast-ok" data-testid="toast">Lobby settings saved.</p>' in toasts
    page = admin.get("/lobby/settings?branch=demo").get_data(as_text=True)
    assert "Lobby settings saved." not in page and 'data-testid="toast"' not in page
    # A fragment with nothing flashed carries no toast region.
    fragment = admin.get("/lobby/settings?branch=demo", headers=HX).get_data(as_text=True)
    assert "hx-swap-oob" not in fragment


def test_settings_saved_by_a_plain_post_say_so_on_the_next_page(app, sign_in):
    admin = sign_in("admin")
    with app.app_context():
        form = settings_form()
        for t in db.session.scalars(select(NeedTag)):
            form[f"tag-{t.id}-name"] = t.name
            form[f"tag-{t.id}-name_en"] = t.name_en
            if t.active:
                form[f"tag-{t.id}-active"] = "on"
        db.session.remove()
    response = admin.post("/lobby/settings?branch=demo&lang=en", data=form)
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="toast toast-ok" data-testid="toast">Lobby settings saved.</p>' in page
    assert "Lobby settings saved." not in admin.get("/lobby/settings").get_data(as_text=True)


@pytest.mark.parametrize(
    "changes",
    [
        {"route-cash": "helicopter"},
        {"band-transfer": "huge"},
        {"machines": "x" * 61},
        {"new_tag_code": "bad code!", "new_tag_name": "x"},
        {"new_tag_code": "loans", "new_tag_name": "x"},
    ],
)
def test_settings_refuse_bad_input(app, sign_in, changes):
    admin = sign_in("admin")
    with app.app_context():
        before = [(r.purpose, r.route, r.min_band) for r in db.session.scalars(select(RouteRule))]
        form = settings_form(**changes)
        for t in db.session.scalars(select(NeedTag)):
            form[f"tag-{t.id}-name"] = t.name
        db.session.remove()
    response = admin.post("/lobby/settings?branch=demo", data=form, htmx=True)
    assert response.status_code == 422
    assert 'role="alert"' in response.get_data(as_text=True)
    with app.app_context():
        assert [
            (r.purpose, r.route, r.min_band) for r in db.session.scalars(select(RouteRule))
        ] == before


def test_demo_seed_is_safe_twice(app):
    from app.demo import seed_demo

    with app.app_context():
        counts = [
            db.session.scalar(select(func.count(m.id)))
            for m in (RouteRule, NeedTag, SelfServiceMachine)
        ]
        seed_demo("another-pass-1234")
        assert [
            db.session.scalar(select(func.count(m.id)))
            for m in (RouteRule, NeedTag, SelfServiceMachine)
        ] == counts
