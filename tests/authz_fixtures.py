"""Data for the authorisation matrix (tests/test_authorization_matrix.py).

Three branches with real objects made through the app's own write paths:
`demo` and `north` from the demo data, and `south`, added through the admin's
screens with its own staff. Visits, referrals, checklist runs, faults with
photos and spot-checks are recorded through POST /api/v1/sync by the users
whose role may record them, so every object the matrix points at is real.

Every branch's objects carry marker texts (tickets, notes, names, ids) that
are unique to that branch: a page that shows one of them to a user who may
not read that branch is a leak.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.checklist.inventory import generate_items, run_id
from app.extensions import db
from app.models import (
    Branch,
    ChecklistRun,
    Equipment,
    Fault,
    Leaflet,
    Referral,
    TemplateItem,
    User,
    Visit,
)
from app.models.figures import SpotCheck

from .conftest import SHANGHAI, SignedIn, make_event


@dataclass
class BranchData:
    """One branch's real objects, and the texts that identify them."""

    code: str
    id: int = 0
    visit: str = ""
    referral: str = ""
    spare_referral: str = ""  # one the sync case may close
    closed_referral: str = ""  # its wealth manager recorded "no_sale"
    run: str = ""
    fault: str = ""
    spotcheck: str = ""
    complaint: str = ""
    equipment: int = 0
    leaflet: int = 0
    custom_row: int = 0
    victim_user: int = 0  # a user of this branch the admin's screens may act on
    markers: list[str] = field(default_factory=list)

    def ids(self) -> dict:
        return {
            "visit_id": self.visit,
            "referral_id": self.referral,
            "run_id": self.run,
            "fault_id": self.fault,
            "branch_id": self.id,
            "user_id": self.victim_user,
            "code": self.code,
            "item_id": self.equipment,
            "leaflet_id": self.leaflet,
            "row_id": self.custom_row,
            "product_code": "wm-stable",
            "complaint_id": self.complaint,
        }

    def marker_bytes(self) -> list[bytes]:
        out = []
        for text in self.markers:
            out.append(text.encode())
            escaped = json.dumps(text)[1:-1].encode()  # jsonify writes \uXXXX for non-ASCII
            if escaped != out[-1]:
                out.append(escaped)
        return out


def local_now() -> datetime:
    return datetime.now(UTC).astimezone(SHANGHAI)


def stamp(minutes_ago: float) -> str:
    moment = local_now() - timedelta(minutes=minutes_ago)
    return moment.isoformat(timespec="milliseconds")


def photo(marker: str) -> str:
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF" + marker.encode() + b"\x00" * 64 + b"\xff\xd9"
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def accepted(response, events: list[dict]) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    bad = [r for r in results if r["status"] != "accepted"]
    assert not bad, bad
    assert len(results) == len(events)


def add_branch_and_staff(admin: SignedIn, app) -> None:
    """`south` and its staff, through the admin's own screens."""
    response = admin.post(
        "/admin/branches/new",
        data={
            "code": "south",
            "name": "南郊支行",
            "name_en": "South Side Branch",
            "timezone": "Asia/Shanghai",
            "opens_at": "09:00",
            "wait_warn_minutes": "10",
            "wait_alert_minutes": "30",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        ids = {b.code: b.id for b in db.session.scalars(select(Branch))}
    password = app.config["DEMO_PASSWORD"]
    for username, role, code in [
        ("lobby-south", "lobby_manager", "south"),
        ("wealth-south", "wealth_manager", "south"),
        ("super-south", "branch_supervisor", "south"),
        ("wealth-north", "wealth_manager", "north"),
        ("super-north", "branch_supervisor", "north"),
        ("victim-demo", "teller", "demo"),
        ("victim-north", "teller", "north"),
        ("victim-south", "teller", "south"),
    ]:
        response = admin.post(
            "/admin/users/new",
            data={
                "username": username,
                "display_name": username,
                "role": role,
                "branches": [str(ids[code])],
                "password": password,
                "confirm": password,
            },
        )
        assert response.status_code == 302, (username, response.get_data(as_text=True))
    # the inventory and template of each branch, through the admin's checklist screens
    for code in ("demo", "north", "south"):
        for url, data in [
            (f"/admin/equipment/{code}", {"name": f"Equip-{code}-qx7", "kind": "atm"}),
            (f"/admin/leaflets/{code}", {"name": f"Leaflet-{code}-qx7", "min_stock": "5"}),
            (f"/admin/checklist-template/{code}/custom", {"label": f"Custom-{code}-qx7"}),
        ]:
            response = admin.post(url, data=data)
            assert response.status_code == 302, (url, response.get_data(as_text=True))


def record_branch(
    app,
    code: str,
    lobby: SignedIn,
    wealth: SignedIn,
    supervisor: SignedIn,
    teller: SignedIn | None = None,
) -> BranchData:
    """A day of work in branch `code`, recorded through POST /api/v1/sync."""
    data = BranchData(code)
    day = local_now().date()
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == code))
        data.id = branch.id
        items = generate_items(branch)
    tag = f"{code}-qx7"
    data.visit = str(uuid.uuid4())
    data.referral = str(uuid.uuid4())
    data.spare_referral = str(uuid.uuid4())  # open: the sync case may close it
    data.run = run_id(code, day)
    data.fault = str(uuid.uuid4())
    ticket = f"TK{code.upper()[:5]}Q"
    second_ticket = f"TW{code.upper()[:5]}Q"
    closed_referral = data.closed_referral = str(uuid.uuid4())
    second_visit = str(uuid.uuid4())
    atm = next(i for i in items if i["kind"] != "leaflet")
    other = next(i for i in items if i["kind"] != "leaflet" and i["id"] != atm["id"])
    events = [
        make_event(
            "visit.greeted",
            data.visit,
            {"purpose": "wealth", "ticket": ticket},
            branch=code,
            occurred_at=stamp(20),
        ),
        make_event(
            "visit.greeted",
            second_visit,
            {"purpose": "cash", "ticket": second_ticket},
            branch=code,
            occurred_at=stamp(19),
        ),
        make_event(
            "visit.referred",
            data.visit,
            {"referral_id": data.referral, "to": "wealth", "note": f"RefNote-{tag}"},
            branch=code,
            occurred_at=stamp(18),
        ),
        make_event(
            "referral.created",
            data.referral,
            {"visit_id": data.visit, "to": "wealth", "note": f"RefNote-{tag}"},
            branch=code,
            occurred_at=stamp(18),
        ),
        make_event(
            "referral.created",
            closed_referral,
            {"to": "wealth", "note": f"Spare-{tag}"},
            branch=code,
            occurred_at=stamp(17),
        ),
        make_event(
            "checklist.item_recorded",
            data.run,
            {"day": day.isoformat(), "item_id": other["id"], "status": "ok"},
            branch=code,
            occurred_at=stamp(16),
        ),
        make_event(
            "checklist.item_recorded",
            data.run,
            {
                "day": day.isoformat(),
                "item_id": atm["id"],
                "status": "fault",
                "note": f"FaultNote-{tag}",
                "fault_id": data.fault,
            },
            branch=code,
            occurred_at=stamp(15),
        ),
        make_event(
            "fault.reported",
            data.fault,
            {
                "run_id": data.run,
                "item_id": atm["id"],
                "note": f"FaultNote-{tag}",
                "photo": photo(f"PHOTO-{tag}"),
            },
            branch=code,
            occurred_at=stamp(15),
        ),
    ]
    data.complaint = str(uuid.uuid4())
    events.append(
        make_event(
            "complaint.opened",
            data.complaint,
            {"category": "waiting", "source": "comment_book", "note": f"ComplaintNote-{tag}"},
            branch=code,
            occurred_at=stamp(14),
        )
    )
    accepted(lobby.sync(events), events)
    outcome = [
        make_event(
            "referral.outcome",
            data.referral,
            {"result": "no_sale", "note": f"Outcome-{tag}"},
            branch=code,
            occurred_at=stamp(10),
        )
    ]
    # the main referral stays open; a second one gets an outcome
    outcome[0]["subject_id"] = closed_referral
    accepted(wealth.sync(outcome), outcome)
    data.spotcheck = str(uuid.uuid4())
    check = [
        make_event(
            "spotcheck.recorded",
            data.spotcheck,
            {
                "target_kind": "visit",
                "target_id": second_visit,
                "verdict": "agree",
                "supervisor_answer": "waiting",
                "note": f"SpotNote-{tag}",
            },
            branch=code,
            occurred_at=stamp(5),
        )
    ]
    accepted(supervisor.sync(check), check)
    spare = [
        make_event(
            "referral.created",
            data.spare_referral,
            {"to": "wealth"},
            branch=code,
            occurred_at=stamp(4),
        )
    ]
    accepted((teller or lobby).sync(spare), spare)
    with app.app_context():
        assert db.session.get(Visit, data.visit).branch_id == data.id
        assert db.session.get(Referral, data.referral).branch_id == data.id
        assert db.session.get(ChecklistRun, data.run).branch_id == data.id
        assert db.session.get(Fault, data.fault).branch_id == data.id
        assert db.session.get(SpotCheck, data.spotcheck).branch_id == data.id
        data.equipment = db.session.scalar(
            select(Equipment.id).where(
                Equipment.branch_id == data.id, Equipment.name == f"Equip-{tag}"
            )
        )
        data.leaflet = db.session.scalar(
            select(Leaflet.id).where(Leaflet.branch_id == data.id, Leaflet.name == f"Leaflet-{tag}")
        )
        data.custom_row = db.session.scalar(
            select(TemplateItem.id).where(
                TemplateItem.branch_id == data.id, TemplateItem.label == f"Custom-{tag}"
            )
        )
        data.victim_user = db.session.scalar(
            select(User.id).where(User.username == f"victim-{code}")
        )
        names = [branch.name, branch.name_en] if (branch := db.session.get(Branch, data.id)) else []
    assert data.equipment and data.leaflet and data.custom_row and data.victim_user
    data.markers = [
        ticket,
        second_ticket,
        closed_referral,
        f"RefNote-{tag}",
        f"FaultNote-{tag}",
        f"PHOTO-{tag}",
        f"ComplaintNote-{tag}",
        data.complaint,
        f"Outcome-{tag}",
        f"SpotNote-{tag}",
        f"Equip-{tag}",
        f"Leaflet-{tag}",
        f"Custom-{tag}",
        data.visit,
        second_visit,
        data.referral,
        data.spare_referral,
        data.run,
        data.fault,
        data.spotcheck,
        *[n for n in names if n],
    ]
    return data
