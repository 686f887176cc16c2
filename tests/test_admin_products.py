"""/admin/products: the admin adds, edits, retires and offers products per branch."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Branch, Product

from .conftest import greeted, make_event
from .test_catalogue import catalogue_snapshot, offered_in


@pytest.fixture
def admin(sign_in):
    return sign_in("admin")


def branch_ids(app, *codes: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Branch.id).where(Branch.code.in_(codes))))


def product_form(app, **overrides) -> dict:
    data = {
        "code": "gold-2026",
        "name": "积存金",
        "name_en": "Gold savings",
        "pitch": "一克起存",
        "pitch_en": "From one gram",
        "needs": ["wealth_management"],
        "risk_level": "R3",
        "ends_on": "",
        "branches": branch_ids(app, "demo"),
    }
    data.update(overrides)
    return data


def rows(app, code: str) -> list[Product]:
    with app.app_context():
        found = list(db.session.scalars(select(Product).where(Product.code == code)))
        for p in found:
            db.session.expunge(p)
        return found


def test_the_catalogue_page_lists_every_product_with_where_it_is_offered(admin):
    html = admin.get("/admin/products?lang=en").get_data(as_text=True)
    assert 'data-product-code="wm-stable"' in html
    assert "Steady Wealth 90-day" not in html or "稳盈理财 90天" in html
    # fund-2025 ended on 2025-12-31: flagged on the list
    row = html[html.index('data-product-code="fund-2025"') :]
    assert 'data-flag="ended"' in row[: row.index("</tr>")]
    assert "产品" in admin.get("/admin/products?lang=zh").get_data(as_text=True)


def test_add_a_product_that_the_lobby_can_recommend_at_once(admin, app, lobby1):
    response = admin.post("/admin/products/new", data=product_form(app))
    assert response.status_code == 302
    [gold] = rows(app, "gold-2026")
    assert (gold.name, gold.name_en, gold.pitch, gold.pitch_en, gold.needs, gold.risk_level) == (
        "积存金",
        "Gold savings",
        "一克起存",
        "From one gram",
        ["wealth_management"],
        "R3",
    )
    assert offered_in(app, "gold-2026") == {"demo": True}
    page = lobby1.get("/lobby").get_data(as_text=True)
    assert 'data-product="gold-2026"' in page and "一克起存" in page
    visit = str(uuid.uuid4())
    results = lobby1.sync(
        [
            greeted(visit),
            make_event(
                "visit.recommended",
                visit,
                {
                    "products": ["gold-2026"],
                    "response": "interested",
                    "confirmed_without_need": True,
                },
            ),
        ]
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"code": ""}, "Enter a code."),
        ({"code": "bad code!"}, "Use letters, digits"),
        ({"code": "x" * 33}, "32"),
        ({"code": "wm-stable"}, "A product with this code already exists."),
        ({"name": ""}, "Enter the product"),
        ({"risk_level": "R6"}, "Not a valid choice"),
        ({"needs": ["yachts"]}, "not a valid choice"),
        ({"ends_on": "31/12/2026"}, "Not a valid date"),
        ({"branches": [99999]}, "not a valid choice"),
        ({"pitch": "话" * 121}, "120"),
    ],
)
def test_bad_product_input_is_refused_and_nothing_is_written(admin, app, overrides, message):
    before = catalogue_snapshot(app)
    response = admin.post("/admin/products/new?lang=en", data=product_form(app, **overrides))
    assert response.status_code == 422
    assert message.lower() in response.get_data(as_text=True).lower()
    assert catalogue_snapshot(app) == before


def test_edit_changes_every_branch_s_row_and_offers_where_chosen(admin, app):
    response = admin.post(
        "/admin/products/wm-stable/edit",
        data=product_form(
            app,
            code="ignored",
            name="稳盈理财 180天",
            risk_level="R2",
            ends_on="2027-06-30",
            branches=branch_ids(app, "north"),
        ),
    )
    assert response.status_code == 302
    found = rows(app, "wm-stable")
    assert {(p.code, p.name, p.risk_level, str(p.ends_on)) for p in found} == {
        ("wm-stable", "稳盈理财 180天", "R2", "2027-06-30")
    }
    assert offered_in(app, "wm-stable") == {"demo": False, "north": True}
    assert rows(app, "ignored") == []


def test_the_edit_form_shows_the_product(admin):
    html = admin.get("/admin/products/wm-stable/edit").get_data(as_text=True)
    assert "稳盈理财 90天" in html and "90天封闭" in html
    assert 'value="R2" selected' in html or 'selected value="R2"' in html


def test_a_bad_edit_changes_nothing(admin, app):
    before = catalogue_snapshot(app)
    response = admin.post("/admin/products/wm-stable/edit", data=product_form(app, name=""))
    assert response.status_code == 422
    assert catalogue_snapshot(app) == before


def test_retire_withdraws_it_from_every_branch_and_the_lobby_refuses_it(admin, app, lobby1):
    assert admin.post("/admin/products/wm-stable/retire").status_code == 302
    assert offered_in(app, "wm-stable") == {"demo": False, "north": False}
    assert "Retired" in admin.get("/admin/products?lang=en").get_data(as_text=True)
    assert 'data-product="wm-stable"' not in lobby1.get("/lobby").get_data(as_text=True)
    visit = str(uuid.uuid4())
    result = lobby1.sync(
        [
            greeted(visit),
            make_event(
                "visit.recommended",
                visit,
                {"products": ["wm-stable"], "response": "later", "confirmed_without_need": True},
            ),
        ]
    ).get_json()["results"][1]
    assert result["error"]["code"] == "unknown_product"


def test_an_end_date_in_the_past_hides_it_from_the_dialog_and_flags_its_leaflets(
    admin, app, lobby1
):
    assert (
        admin.post(
            "/admin/products/card-gold/edit",
            data=product_form(
                app,
                name="金卡信用卡",
                ends_on="2026-01-01",
                branches=branch_ids(app, "demo", "north"),
            ),
        ).status_code
        == 302
    )
    assert 'data-product="card-gold"' not in lobby1.get("/lobby").get_data(as_text=True)
    checklist = lobby1.get("/checklist").get_data(as_text=True)
    assert checklist.count('data-flag="expired"') >= 2  # fund-2025's and now card-gold's


def test_unknown_product_is_404(admin):
    assert admin.get("/admin/products/no-such/edit").status_code == 404
    assert admin.post("/admin/products/no-such/retire").status_code == 404


def test_product_writes_need_the_csrf_token(admin, app):
    before = catalogue_snapshot(app)
    response = admin.client.post("/admin/products/wm-stable/retire")
    assert response.status_code in (400, 403)
    assert catalogue_snapshot(app) == before


def test_the_form_names_the_branches_in_the_reader_s_language(admin):
    english = admin.get("/admin/products/new?lang=en").get_data(as_text=True)
    assert "Demo Branch" in english and "示范支行" not in english
    chinese = admin.get("/admin/products/new?lang=zh").get_data(as_text=True)
    assert "示范支行" in chinese
