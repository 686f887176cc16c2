"""The product catalogue: `flask --app run import-products` (docs/product-rules.md, "Commands")."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Branch, Product

from .conftest import greeted, make_event

HEADER = "code,name_zh,name_en,needs,risk_level,ends_on\n"


def run_import(app, tmp_path, text: str | bytes, *branches: str):
    path = tmp_path / "products.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    args = ["import-products", str(path)]
    for code in branches:
        args += ["--branch", code]
    return app.test_cli_runner().invoke(args=args)


def offered_in(app, code: str) -> dict[str, bool]:
    with app.app_context():
        rows = db.session.execute(
            select(Branch.code, Product.active)
            .join(Branch, Branch.id == Product.branch_id)
            .where(Product.code == code)
        ).all()
        return dict(rows)


def catalogue_snapshot(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(
                Product.branch_id,
                Product.code,
                Product.name,
                Product.name_en,
                Product.risk_level,
                Product.ends_on,
                Product.active,
            ).order_by(Product.branch_id, Product.code)
        ).all()


def test_a_csv_with_a_bom_adds_new_products_in_every_branch_and_updates_known_ones(app, tmp_path):
    text = (
        "\ufeff"
        + HEADER
        + "gold_bar-2026,积存金,Gold savings,wealth_management|deposits,R3,2026-12-31\n"
        + "wm-stable,稳盈理财 180天,Steady Wealth 180-day,wealth_management,r2,\n"
    )
    result = run_import(app, tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated" in result.output
    assert offered_in(app, "gold_bar-2026") == {"demo": True, "north": True}
    with app.app_context():
        gold = db.session.scalars(select(Product).where(Product.code == "gold_bar-2026")).first()
        assert (gold.name, gold.name_en, gold.needs, gold.risk_level, gold.ends_on) == (
            "积存金",
            "Gold savings",
            ["wealth_management", "deposits"],
            "R3",
            date(2026, 12, 31),
        )
        stable = db.session.scalars(select(Product).where(Product.code == "wm-stable")).all()
        assert {(p.name, p.risk_level, p.needs[0]) for p in stable} == {
            ("稳盈理财 180天", "R2", "wealth_management")
        }
        assert all(p.pitch for p in stable), "the CSV has no pitch: an import keeps it"


def test_an_import_offers_only_in_the_named_branches(app, tmp_path):
    result = run_import(
        app, tmp_path, HEADER + "north-only,城北专享,North special,deposits,R1,\n", "north"
    )
    assert result.exit_code == 0, result.output
    assert offered_in(app, "north-only") == {"north": True}


def test_bad_rows_are_reported_with_their_line_numbers_and_nothing_is_written(app, tmp_path):
    before = catalogue_snapshot(app)
    text = (
        HEADER
        + "good-one,好产品,Good one,deposits,R1,\n"  # line 2: fine
        + "bad code!,坏代码,Bad,deposits,R1,\n"  # line 3
        + "wm-stable,稳盈理财,Steady,yachts,R2,\n"  # line 4: unknown need
        + "risky,高风险,Risky,deposits,R6,\n"  # line 5
        + "late,到期,Late,deposits,R1,31/12/2026\n"  # line 6
        + "short,少一列,Short,deposits,R1\n"  # line 7
        + "good-one,重复,Again,deposits,R1,\n"  # line 8: duplicate
        + ",,,,,\n"  # line 9: blank, skipped
        + "nameless,,Nameless,,R1,\n"
    )  # line 10
    result = run_import(app, tmp_path, text)
    assert result.exit_code != 0
    assert "nothing was imported" in result.output
    for line, words in [
        (3, "code"),
        (4, "yachts"),
        (5, "R6"),
        (6, "31/12/2026"),
        (7, "columns"),
        (8, "already on line 2"),
        (10, "name_zh"),
    ]:
        assert any(
            f"products.csv:{line}:" in out and words in out for out in result.output.splitlines()
        ), (line, result.output)
    assert "products.csv:2:" not in result.output
    assert "products.csv:9:" not in result.output
    assert catalogue_snapshot(app) == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("code,name,needs\nx,y,z\n", "products.csv:1: the header must be"),
        (HEADER.encode() + "bad,\xff\n".encode("latin-1"), "products.csv:2: not UTF-8"),
    ],
)
def test_an_unreadable_file_is_refused(app, tmp_path, text, message):
    before = catalogue_snapshot(app)
    result = run_import(app, tmp_path, text)
    assert result.exit_code != 0
    assert message in result.output
    assert catalogue_snapshot(app) == before


def test_an_unknown_branch_is_refused_and_nothing_is_written(app, tmp_path):
    before = catalogue_snapshot(app)
    result = run_import(app, tmp_path, HEADER + "new-one,新,New,deposits,R1,\n", "demo", "nowhere")
    assert result.exit_code != 0
    assert "no branch with code nowhere" in result.output
    assert catalogue_snapshot(app) == before


def test_an_imported_product_can_be_recommended_at_once(app, tmp_path, lobby1):
    result = run_import(
        app, tmp_path, HEADER + "gold-2026,积存金,Gold savings,wealth_management,R3,\n"
    )
    assert result.exit_code == 0, result.output
    visit = str(uuid.uuid4())
    answer = lobby1.sync(
        [
            greeted(visit),
            make_event("visit.engaged", visit, {"needs": ["wealth_management"]}),
            make_event(
                "visit.recommended", visit, {"products": ["gold-2026"], "response": "interested"}
            ),
        ]
    ).get_json()
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 3
    lobby_page = lobby1.get("/lobby").get_data(as_text=True)
    assert 'data-product="gold-2026"' in lobby_page


def test_a_product_offered_elsewhere_is_not_in_this_branch_s_catalogue(app, tmp_path, lobby1):
    assert (
        run_import(
            app, tmp_path, HEADER + "north-only,城北专享,North,deposits,R1,\n", "north"
        ).exit_code
        == 0
    )
    visit = str(uuid.uuid4())
    answer = lobby1.sync(
        [
            greeted(visit),
            make_event(
                "visit.recommended", visit, {"products": ["north-only"], "response": "interested"}
            ),
        ]
    )
    assert answer.get_json()["results"][1]["error"]["code"] == "unknown_product"


def test_an_ended_product_is_refused_with_its_own_code(app, tmp_path, lobby1):
    # The tablet's day is 2026-11-29 (conftest.make_event); the sale ended the day before.
    assert (
        run_import(
            app,
            tmp_path,
            HEADER
            + "ended,已结束,Ended,deposits,R1,2026-11-28\n"
            + "last-day,最后一天,Last day,deposits,R1,2026-11-29\n",
        ).exit_code
        == 0
    )
    visit = str(uuid.uuid4())
    results = lobby1.sync(
        [
            greeted(visit),
            make_event(
                "visit.recommended", visit, {"products": ["ended"], "response": "interested"}
            ),
            make_event("visit.recommended", visit, {"products": ["last-day"], "response": "later"}),
        ]
    ).get_json()["results"]
    assert results[1]["status"] == "rejected" and results[1]["error"]["code"] == "product_ended"
    assert "ended" in results[1]["error"]["message"]
    assert results[2]["status"] == "accepted"
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Product).where(Product.code == "ended")
            )
            == 2
        )
