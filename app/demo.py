"""The demo data of docs/product-rules.md: two branches and one user per role.

Safe to run twice: what is there already is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time

from flask import Flask, current_app
from sqlalchemy import select

from .extensions import db
from .models import Branch, Product, Role, User

BRANCHES = [
    # code, name, English name, time zone, opening time
    ("demo", "示范支行", "Demo Branch", "Asia/Shanghai", time(9, 0)),
    ("north", "城北支行", "North Branch", "Asia/Shanghai", time(9, 0)),
]

USERS = [
    # username, display name, role, branch codes ([] for admin: all)
    ("lobby1", "大堂经理一", Role.LOBBY_MANAGER, ["demo"]),
    ("lobby2", "大堂经理二", Role.LOBBY_MANAGER, ["demo"]),
    ("lobby-north", "城北大堂经理", Role.LOBBY_MANAGER, ["north"]),
    ("super1", "网点负责人", Role.BRANCH_SUPERVISOR, ["demo"]),
    ("area1", "区域主管", Role.AREA_SUPERVISOR, ["demo", "north"]),
    ("wealth1", "理财经理", Role.WEALTH_MANAGER, ["demo"]),
    ("wealth2", "理财经理二", Role.WEALTH_MANAGER, ["demo"]),
    ("teller1", "柜员", Role.TELLER, ["demo"]),
    ("admin", "系统管理员", Role.ADMIN, []),
]


def seed_demo(password: str) -> dict[str, int]:
    """Add whatever part of the demo data is missing; return what was added."""
    added = {"branches": 0, "users": 0}
    branches = {b.code: b for b in db.session.scalars(select(Branch))}
    for code, name, name_en, tz, opens_at in BRANCHES:
        if code not in branches:
            branches[code] = Branch(
                code=code, name=name, name_en=name_en, timezone=tz, opens_at=opens_at
            )
            db.session.add(branches[code])
            added["branches"] += 1
    db.session.flush()
    existing = set(db.session.scalars(select(User.username)))
    for username, display_name, role, codes in USERS:
        if username in existing:
            continue
        user = User(
            username=username,
            display_name=display_name,
            role=role,
            branches=[branches[c] for c in codes],
        )
        user.set_password(password)
        db.session.add(user)
        added["users"] += 1
    db.session.flush()
    for branch in branches.values():
        seed_catalogue(branch)
    db.session.flush()
    for seed in current_app.extensions.get(SEEDS_KEY, ()):
        seed(branches)
    db.session.commit()
    return added


# Where an app keeps the features' demo seeds (app.extensions[SEEDS_KEY]).
SEEDS_KEY = "datang_demo_seeds"


def register_seed(app: Flask, seed: Callable[[dict[str, Branch]], None]) -> None:
    """Add a feature's own demo data (inventory, triage rules, ...) to `app`'s seed-demo.

    A feature's init_app calls it; once per seed however often the app is set up.
    Each seed gets the branches by code and must be safe to run twice.
    """
    seeds = app.extensions.setdefault(SEEDS_KEY, [])
    if seed not in seeds:
        seeds.append(seed)


PRODUCTS = [
    # code, name, English name, need tags, risk level, ends on, pitch, English pitch
    (
        "wm-stable",
        "稳盈理财 90天",
        "Steady Wealth 90-day",
        ["wealth_management", "deposits"],
        "R2",
        None,
        "90天封闭，稳健低波动",
        "90 days, steady and low-volatility",
    ),
    (
        "deposit-3y",
        "三年期大额存单",
        "3-year large certificate of deposit",
        ["deposits"],
        "R1",
        None,
        "保本保息，利率高于定期",
        "Capital and interest guaranteed, above time deposits",
    ),
    (
        "card-gold",
        "金卡信用卡",
        "Gold credit card",
        ["credit_card"],
        "R1",
        None,
        "首年免年费，机场贵宾厅",
        "No fee in the first year, airport lounges",
    ),
    (
        "mobile-app",
        "手机银行",
        "Mobile banking",
        ["mobile_banking"],
        "R1",
        None,
        "转账免手续费，随时可办",
        "Free transfers, any time",
    ),
    (
        "pension-plan",
        "个人养老金账户",
        "Private pension account",
        ["pension"],
        "R1",
        None,
        "每年最高 12000 元可抵税",
        "Up to ¥12,000 a year tax-deductible",
    ),
    (
        "loan-home",
        "安居房贷",
        "Home loan",
        ["loans"],
        "R1",
        None,
        "审批快，可提前还款",
        "Fast approval, early repayment allowed",
    ),
    (
        "insure-life",
        "安康保险",
        "Life insurance",
        ["insurance"],
        "R3",
        None,
        "保障全家，按年缴费",
        "Covers the family, paid yearly",
    ),
    (
        "fund-2025",
        "2025 新春基金",
        "2025 New Year fund",
        ["wealth_management"],
        "R3",
        date(2025, 12, 31),
        "",
        "",
    ),
]


def seed_catalogue(branch: Branch) -> None:
    known = set(db.session.scalars(select(Product.code).where(Product.branch_id == branch.id)))
    for code, name, name_en, needs, risk, ends_on, pitch, pitch_en in PRODUCTS:
        if code not in known:
            db.session.add(
                Product(
                    branch_id=branch.id,
                    code=code,
                    name=name,
                    name_en=name_en,
                    needs=needs,
                    risk_level=risk,
                    ends_on=ends_on,
                    pitch=pitch,
                    pitch_en=pitch_en,
                )
            )
