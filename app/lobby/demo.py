"""The lobby's demo data: triage rules, self-service machines and need tags.

Registered by app/lobby/__init__.py (app.demo.register_seed); adds only what is
missing, so it is safe to run twice.
"""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import NeedTag, RouteRule, SelfServiceMachine
from .codes import DEFAULT_NEED_TAGS
from .rules import DEFAULT_RULES

DEMO_MACHINES = ["ATM-1", "ATM-2", "STM-1"]  # two ATMs and a smart teller machine (智能柜台)


def seed_lobby(branches: dict) -> None:
    known_tags = set(db.session.scalars(select(NeedTag.code)))
    for position, (code, name, name_en) in enumerate(DEFAULT_NEED_TAGS):
        if code not in known_tags:
            db.session.add(NeedTag(code=code, name=name, name_en=name_en, position=position))
    for branch in branches.values():
        if not db.session.scalar(select(RouteRule.id).where(RouteRule.branch_id == branch.id)):
            for rule in DEFAULT_RULES:
                db.session.add(
                    RouteRule(
                        branch_id=branch.id,
                        purpose=rule.purpose,
                        route=rule.route,
                        min_band=rule.min_band,
                    )
                )
        if not db.session.scalar(
            select(SelfServiceMachine.id).where(SelfServiceMachine.branch_id == branch.id)
        ):
            for position, name in enumerate(DEMO_MACHINES):
                db.session.add(
                    SelfServiceMachine(branch_id=branch.id, name=name, position=position)
                )
    db.session.flush()
