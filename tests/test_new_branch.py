"""A new branch from nothing (docs/setup-branch.md): an empty database, no demo data.

The admin comes from `flask --app run create-user`; the branch, its people, its
inventory, its checklist and its products from the admin pages and
`import-products`. Then a whole day: the checklist signed off, visits, a
recommendation of an imported product, a referral sold, and the figures.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.checklist.inventory import ITEM_KINDS, generate_items, run_id
from app.extensions import db, limiter
from app.models import Branch, ChecklistRun, Product, User
from app.supervisor.figures import compute, period_for

from .conftest import DEMO_PASSWORD, SignedIn, make_event

DAY = date(2026, 11, 29)
PASSWORD = DEMO_PASSWORD  # SignedIn signs in with it


def at(hhmm: str) -> str:
    return f"{DAY.isoformat()}T{hhmm}:00.000+08:00"


@pytest.fixture
def empty_app(database_url):
    """The schema from the migrations, as `flask --app run db upgrade` makes it; no rows."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    loggers = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    with app.app_context():
        upgrade()
    for name, was in loggers.items():  # alembic's env.py reconfigures logging
        logging.getLogger(name).disabled = was
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def ok(response, status: int = 302):
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def accepted(response) -> None:
    results = response.get_json()["results"]
    assert all(r["status"] == "accepted" for r in results), results


def test_a_new_branch_runs_a_whole_day_without_demo_data(empty_app, tmp_path):
    app = empty_app
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Branch)) == 0
        assert db.session.scalar(select(func.count()).select_from(Product)) == 0
    cli = app.test_cli_runner()

    # 1. the first admin, from the command line
    result = cli.invoke(
        args=["create-user", "boss", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    admin = SignedIn(app.test_client(), "boss")

    # 2. the branch and its people, through the admin pages
    ok(
        admin.post(
            "/admin/branches/new",
            data={
                "code": "east",
                "name": "城东支行",
                "name_en": "East",
                "timezone": "Asia/Shanghai",
                "opens_at": "09:00",
                "wait_warn_minutes": "10",
                "wait_alert_minutes": "30",
            },
        )
    )
    with app.app_context():
        east_id = db.session.scalar(select(Branch.id).where(Branch.code == "east"))
    for username, role in [
        ("east-lobby", "lobby_manager"),
        ("east-wealth", "wealth_manager"),
        ("east-head", "branch_supervisor"),
    ]:
        ok(
            admin.post(
                "/admin/users/new",
                data={
                    "username": username,
                    "role": role,
                    "display_name": username,
                    "branches": [east_id],
                    "password": PASSWORD,
                    "confirm": PASSWORD,
                },
            )
        )

    # 3. the products, from the bank's CSV
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(
        "code,name_zh,name_en,needs,risk_level,ends_on\n"
        "east-deposit,城东三年定期,East 3-year deposit,deposits,R1,\n"
        "east-fund,城东稳健基金,East steady fund,wealth_management,R2,2027-06-30\n",
        encoding="utf-8-sig",
    )
    result = cli.invoke(args=["import-products", str(csv_file), "--branch", "east"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        fund_id = db.session.scalar(select(Product.id).where(Product.code == "east-fund"))

    # 4. the inventory and the checklist template, through the admin pages
    ok(
        admin.post(
            "/admin/equipment/east",
            data={"kind": "atm", "name": "1号ATM", "name_en": "ATM 1", "critical": "on"},
        )
    )
    ok(admin.post("/admin/equipment/east", data={"kind": "comment_book", "name": "客户意见簿"}))
    ok(
        admin.post(
            "/admin/leaflets/east",
            data={"name": "城东稳健基金折页", "min_stock": "10", "product_id": str(fund_id)},
        )
    )
    for kind in ITEM_KINDS:
        ok(admin.post(f"/admin/checklist-template/east/kind/{kind}", data={"enabled": "on"}))

    # 5. the day, sent in the evening (the server refuses times ahead of its clock)
    app.config["CHECKLIST_NOW"] = datetime.fromisoformat(at("18:00"))
    lobby = SignedIn(app.test_client(), "east-lobby")
    wealth = SignedIn(app.test_client(), "east-wealth")
    head = SignedIn(app.test_client(), "east-head")
    with app.app_context():
        items = generate_items(db.session.get(Branch, east_id))
    assert {"devices_running", "comment_book", "leaflet"} <= {i["kind"] for i in items}
    assert "城东稳健基金折页" in lobby.get("/checklist").get_data(as_text=True)
    accepted(
        lobby.sync(
            [
                make_event(
                    "checklist.item_recorded",
                    run_id("east", DAY),
                    {
                        "day": DAY.isoformat(),
                        "item_id": i["id"],
                        "status": "ok",
                        **({"count": 40} if i["kind"] == "leaflet" else {}),
                    },
                    branch="east",
                    occurred_at=at("08:30"),
                )
                for i in items
            ]
        )
    )
    accepted(
        lobby.sync(
            [
                make_event(
                    "checklist.signed_off",
                    run_id("east", DAY),
                    {"day": DAY.isoformat()},
                    branch="east",
                    occurred_at=at("08:50"),
                )
            ]
        )
    )

    # the branch head's focus of the day
    ok(
        head.post(
            "/supervisor/focus/products?branch=east",
            data={
                "product": "east-fund",
                "priority": "focus",
                "span": "day",
                "starts_on": DAY.isoformat(),
                "daily_recommendations": "3",
            },
        )
    )

    # 6. visits: one served at a machine, one recommended the imported fund and referred
    served, referred, referral = (str(uuid.uuid4()) for _ in range(3))
    accepted(
        lobby.sync(
            [
                make_event(
                    "visit.greeted",
                    served,
                    {"purpose": "cash"},
                    branch="east",
                    occurred_at=at("09:05"),
                ),
                make_event(
                    "visit.triaged",
                    served,
                    {"route": "self_service", "amount_band": "lt_50k"},
                    branch="east",
                    occurred_at=at("09:06"),
                ),
                make_event(
                    "visit.closed",
                    served,
                    {"outcome": "served", "satisfaction": 5},
                    branch="east",
                    occurred_at=at("09:12"),
                ),
                make_event(
                    "visit.greeted",
                    referred,
                    {"purpose": "wealth"},
                    branch="east",
                    occurred_at=at("09:20"),
                ),
                make_event(
                    "visit.engaged",
                    referred,
                    {"needs": ["wealth_management"]},
                    branch="east",
                    occurred_at=at("09:22"),
                ),
                make_event(
                    "visit.recommended",
                    referred,
                    {"products": ["east-fund"], "response": "interested"},
                    branch="east",
                    occurred_at=at("09:25"),
                ),
                make_event(
                    "visit.referred",
                    referred,
                    {"referral_id": referral, "to": "wealth"},
                    branch="east",
                    occurred_at=at("09:26"),
                ),
                make_event(
                    "referral.created",
                    referral,
                    {"visit_id": referred, "to": "wealth"},
                    branch="east",
                    occurred_at=at("09:26"),
                ),
                make_event(
                    "visit.closed",
                    referred,
                    {"outcome": "referred"},
                    branch="east",
                    occurred_at=at("09:40"),
                ),
            ]
        )
    )
    accepted(
        wealth.sync(
            [
                make_event(
                    "referral.outcome",
                    referral,
                    {"result": "sold", "amount_band": "50k_200k"},
                    branch="east",
                    occurred_at=at("10:10"),
                )
            ]
        )
    )

    # 7. the figures
    with app.app_context():
        run = db.session.get(ChecklistRun, run_id("east", DAY))
        assert run.signed_at is not None and not run.late
        fig = compute([db.session.get(Branch, east_id)], period_for("day", DAY), today=DAY)
        assert fig["visits"] == 2 and fig["self_service"] == 1
        assert (fig["recs"], fig["recs_interested"], fig["recs_without_need"]) == (1, 1, 0)
        assert fig["referrals"] == 1 and fig["ref_sold"] == 1
        assert fig["checklist"]["on_time"] == 1
        assert db.session.scalar(select(func.count()).select_from(User)) == 4
    page = head.get(f"/supervisor/figures?branch=east&period=day&date={DAY.isoformat()}")
    html = ok(page, 200).get_data(as_text=True)
    assert (
        'data-testid="target-day" data-day="2026-11-29" data-key="rec:east-fund" '
        'data-target="3" data-done="1"'
    ) in html
