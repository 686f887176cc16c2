"""The branch head's focus products and targets, and "today: target / done" on the desks."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from app.clock import local_day
from app.database import utcnow
from app.extensions import db
from app.models import Branch, DailyTarget, FocusProduct

from .authz_fixtures import stamp
from .conftest import make_event


def today(app, code: str = "demo") -> str:
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == code))
        return local_day(branch, utcnow()).isoformat()


def focus_count(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(FocusProduct)),
            db.session.scalar(select(func.count()).select_from(DailyTarget)),
        )


def set_focus(supervisor, app, **overrides):
    data = {
        "product": "card-gold",
        "priority": "focus",
        "span": "day",
        "starts_on": today(app),
        "daily_recommendations": "2",
    }
    data.update(overrides)
    return supervisor.post("/supervisor/focus/products?branch=demo", data=data)


def set_targets(supervisor, app, **overrides):
    data = {"span": "week", "starts_on": today(app), "referrals": "1", "sales": "1"}
    data.update(overrides)
    return supervisor.post("/supervisor/focus/targets?branch=demo", data=data)


def lines(html: str) -> dict[str, tuple[int, int, str]]:
    """key -> (target, done, the line's text) of the _targets.html partial."""
    found = {}
    for m in re.finditer(
        r'data-testid="target-line" data-key="([^"]+)" data-target="(\d+)" '
        r'data-done="(\d+)">(.*?)</li>',
        html,
        re.S,
    ):
        found[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4))
    return found


@pytest.fixture
def super1(sign_in):
    return sign_in("super1")


def test_the_branch_head_sets_focus_and_targets(super1, app):
    assert set_focus(super1, app).status_code == 302
    assert (
        set_focus(
            super1, app, product="deposit-3y", priority="general", daily_recommendations="0"
        ).status_code
        == 302
    )
    assert set_targets(super1, app).status_code == 302
    html = super1.get("/supervisor/focus?branch=demo&lang=en").get_data(as_text=True)
    assert 'data-product="card-gold" data-priority="focus"' in html
    assert 'data-product="deposit-3y" data-priority="general"' in html
    with app.app_context():
        target = db.session.scalars(select(DailyTarget)).one()
        assert (target.ends_on - target.starts_on).days == 6  # a week
    assert set(lines(html)) == {"rec:card-gold", "rec:deposit-3y", "referrals", "sales"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"product": "no-such"},
        {"product": "fund-2025x"},
        {"daily_recommendations": "-1"},
        {"daily_recommendations": "lots"},
        {"starts_on": ""},
        {"priority": "urgent"},
        {"span": "year"},
    ],
)
def test_bad_focus_input_is_refused_and_nothing_is_written(super1, app, overrides):
    response = set_focus(super1, app, **overrides)
    assert response.status_code == 422
    assert focus_count(app) == (0, 0)


def test_bad_targets_are_refused_and_nothing_is_written(super1, app):
    assert set_targets(super1, app, sales="-3").status_code == 422
    assert set_targets(super1, app, referrals="").status_code == 422
    assert focus_count(app) == (0, 0)


def test_a_focus_product_is_taken_off(super1, app):
    set_focus(super1, app)
    with app.app_context():
        focus_id = db.session.scalar(select(FocusProduct.id))
    for garbage in ("x", "", "²", "-1"):  # "²".isdigit() is true, int("²") fails
        assert (
            super1.post(
                "/supervisor/focus/products/remove?branch=demo", data={"focus_id": garbage}
            ).status_code
            == 400
        ), garbage
    assert (
        super1.post(
            "/supervisor/focus/products/remove?branch=demo", data={"focus_id": str(focus_id + 99)}
        ).status_code
        == 404
    )
    assert (
        super1.post(
            "/supervisor/focus/products/remove?branch=demo", data={"focus_id": str(focus_id)}
        ).status_code
        == 302
    )
    assert focus_count(app) == (0, 0)


def test_the_area_supervisor_sets_focus_in_their_other_branch(sign_in, app):
    area1 = sign_in("area1")
    response = area1.post(
        "/supervisor/focus/products?branch=north",
        data={
            "product": "mobile-app",
            "priority": "focus",
            "span": "day",
            "starts_on": today(app, "north"),
            "daily_recommendations": "5",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.scalars(select(FocusProduct)).one()
        assert db.session.get(Branch, row.branch_id).code == "north"


def test_the_recommend_dialog_lists_focus_products_first(super1, app, lobby1):
    set_focus(super1, app, product="insure-life")
    set_focus(super1, app, product="mobile-app", priority="general")
    html = lobby1.get("/lobby").get_data(as_text=True)
    order = re.findall(r'data-testid="product-([\w-]+)"', html)
    assert order[:2] == ["insure-life", "mobile-app"], order
    assert 'data-focus="focus"' in html and 'data-focus="general"' in html


def test_today_target_and_done_on_every_desk_page_and_the_supervisor_figures(
    super1, app, lobby1, sign_in
):
    set_focus(super1, app)
    set_targets(super1, app)
    wealth1 = sign_in("wealth1")
    lines_before = lines(lobby1.get("/lobby").get_data(as_text=True))
    assert lines_before["rec:card-gold"][:2] == (2, 0)
    visit, other, referral = (str(uuid.uuid4()) for _ in range(3))
    results = lobby1.sync(
        [
            make_event("visit.greeted", visit, {"purpose": "card"}, occurred_at=stamp(5)),
            make_event("visit.engaged", visit, {"needs": ["credit_card"]}, occurred_at=stamp(4)),
            make_event(
                "visit.recommended",
                visit,
                {"products": ["card-gold"], "response": "interested"},
                occurred_at=stamp(3),
            ),
            make_event("visit.greeted", other, {"purpose": "cash"}, occurred_at=stamp(3)),
            make_event(
                "visit.recommended",
                other,
                {
                    "products": ["card-gold", "wm-stable"],
                    "response": "later",
                    "confirmed_without_need": True,
                },
                occurred_at=stamp(2),
            ),
            make_event(
                "referral.created",
                referral,
                {"visit_id": visit, "to": "wealth"},
                occurred_at=stamp(2),
            ),
        ]
    ).get_json()["results"]
    assert all(r["status"] == "accepted" for r in results), results
    sold = wealth1.sync(
        [
            make_event(
                "referral.outcome",
                referral,
                {"result": "sold", "amount_band": "50k_200k"},
                occurred_at=stamp(1),
            )
        ]
    ).get_json()["results"]
    assert sold[0]["status"] == "accepted", sold

    lobby = lines(lobby1.get("/lobby?lang=en").get_data(as_text=True))
    assert lobby["rec:card-gold"][:2] == (2, 2) and "mine: 2" in lobby["rec:card-gold"][2]
    assert lobby["referrals"][:2] == (1, 1) and lobby["sales"][:2] == (1, 1)
    assert "mine: 0" in lobby["sales"][2]
    desk = lines(wealth1.get("/referrals?lang=en").get_data(as_text=True))
    assert desk["sales"][:2] == (1, 1) and "mine: 1" in desk["sales"][2]
    # The same at a glance on the waiting area's and the counter's pages.
    waiting = lines(wealth1.get("/waiting?lang=en").get_data(as_text=True))
    assert waiting["sales"][:2] == (1, 1) and "mine: 1" in waiting["sales"][2]
    counter = lines(sign_in("teller1").get("/counter?lang=en").get_data(as_text=True))
    assert counter["referrals"][:2] == (1, 1) and "mine: 0" in counter["referrals"][2]

    figures = super1.get(f"/supervisor/figures?branch=demo&period=day&date={today(app)}")
    html = figures.get_data(as_text=True)
    assert (
        f'data-testid="target-day" data-day="{today(app)}" data-key="rec:card-gold" '
        'data-target="2" data-done="2"'
    ) in html
    people = dict(
        re.findall(
            r'data-testid="target-person" data-name="([^"]+)" (data-recs="\d+" '
            r'data-referrals="\d+" data-sales="\d+")',
            html,
        )
    )
    assert set(people.values()) == {
        'data-recs="2" data-referrals="1" data-sales="0"',
        'data-recs="0" data-referrals="0" data-sales="1"',
    }


def test_no_targets_no_partial(lobby1):
    assert 'data-testid="today-targets"' not in lobby1.get("/lobby").get_data(as_text=True)
