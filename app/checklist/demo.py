"""Demo inventory and checklist template for the demo branches (registered by
app/checklist/__init__.py through app.demo.register_seed).

Safe to run twice: a branch that already has equipment, leaflets or template
rows keeps them as they are.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import Branch, Equipment, Leaflet, Product, TemplateItem
from .inventory import ITEM_KINDS

EQUIPMENT = [
    # kind, name, English name, critical
    ("atm", "1号ATM(存取款一体机)", "ATM 1 (cash in/out)", True),
    ("atm", "2号ATM(取款机)", "ATM 2 (cash out)", False),
    ("kiosk", "1号自助终端", "Self-service kiosk 1", False),
    ("kiosk", "2号自助终端(智能柜台)", "Self-service kiosk 2 (smart counter)", False),
    ("ebank_pc", "网银体验区电脑", "Online-banking PC", False),
    ("phone_line", "客户服务电话", "Customer service phone", False),
    ("recount", "1号柜台复点验钞机", "Counter 1 re-count / counterfeit detector", False),
    ("recount", "2号柜台复点验钞机", "Counter 2 re-count / counterfeit detector", False),
    ("comment_book", "客户意见簿", "Customer comment book", False),
    ("signage", "LED屏与海报灯箱", "LED screen, posters and light boxes", False),
    ("signage", "指引牌、标识牌与折页架", "Guide boards, signs and leaflet racks", False),
]

LEAFLETS = [
    # product code, minimum stock
    ("wm-stable", 30),
    ("deposit-3y", 20),
    ("card-gold", 20),
    ("mobile-app", 40),
    ("pension-plan", 20),
    ("fund-2025", 10),  # its product ended on 2025-12-31: expired, to be removed
]

CRITICAL_KINDS = {"devices_running"}


def _count(model, branch: Branch) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(model).where(model.branch_id == branch.id)
        )
        or 0
    )


def seed_checklist(branches: dict[str, Branch]) -> None:
    for branch in branches.values():
        if not _count(Equipment, branch):
            for sort, (kind, name, name_en, critical) in enumerate(EQUIPMENT):
                db.session.add(
                    Equipment(
                        branch_id=branch.id,
                        kind=kind,
                        name=name,
                        name_en=name_en,
                        critical=critical,
                        sort=sort,
                    )
                )
        if not _count(Leaflet, branch):
            products = {
                p.code: p
                for p in db.session.scalars(select(Product).where(Product.branch_id == branch.id))
            }
            for sort, (code, min_stock) in enumerate(LEAFLETS):
                product = products.get(code)
                if product is None:
                    continue
                db.session.add(
                    Leaflet(
                        branch_id=branch.id,
                        name=product.name,
                        name_en=product.name_en,
                        product_id=product.id,
                        min_stock=min_stock,
                        sort=sort,
                    )
                )
        if not _count(TemplateItem, branch):
            for sort, kind in enumerate(ITEM_KINDS):
                db.session.add(
                    TemplateItem(
                        branch_id=branch.id,
                        kind=kind,
                        enabled=True,
                        critical=kind in CRITICAL_KINDS,
                        sort=sort,
                    )
                )
    db.session.flush()
