"""Complaints followed through: open → responded → resolved, carried over, timed."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Complaint, Event

from .authz_fixtures import stamp
from .conftest import make_event


def opened(complaint_id: str, minutes_ago: float = 60, **payload) -> dict:
    body = {"category": "waiting", "source": "comment_book", **payload}
    return make_event("complaint.opened", complaint_id, body, occurred_at=stamp(minutes_ago))


def statuses(response) -> list[str]:
    return [r["status"] for r in response.get_json()["results"]]


def complaint(app, complaint_id: str) -> Complaint:
    with app.app_context():
        row = db.session.get(Complaint, complaint_id)
        db.session.expunge(row)
        return row


def event_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


def test_open_respond_resolve_with_who_and_when(app, lobby1, sign_in):
    cid = str(uuid.uuid4())
    assert statuses(lobby1.sync([opened(cid, 90, note="排队太久")])) == ["accepted"]
    row = complaint(app, cid)
    assert (row.status, row.category, row.source, row.note) == (
        "open",
        "waiting",
        "comment_book",
        "排队太久",
    )
    teller = sign_in("teller1")
    assert statuses(
        teller.sync([make_event("complaint.responded", cid, {}, occurred_at=stamp(60))])
    ) == ["accepted"]
    super1 = sign_in("super1")
    assert statuses(
        super1.sync(
            [make_event("complaint.resolved", cid, {"note": "已致歉"}, occurred_at=stamp(30))]
        )
    ) == ["accepted"]
    row = complaint(app, cid)
    assert row.status == "resolved" and row.resolve_note == "已致歉"
    assert round((row.responded_at - row.opened_at).total_seconds() / 60) == 30
    with app.app_context():
        assert row.responded_by_id != row.opened_by_id != row.resolved_by_id


@pytest.mark.parametrize(
    "payload",
    [
        {"category": "noise", "source": "lobby"},
        {"category": "waiting", "source": "email"},
        {"category": "waiting"},
        {"category": "waiting", "source": "lobby", "name": "x"},
        {"category": "waiting", "source": "lobby", "visit_id": "not-a-uuid"},
        {"category": "waiting", "source": "lobby", "note": "电话 13812345678"},
    ],
)
def test_bad_complaints_are_refused_and_nothing_is_written(app, lobby1, payload):
    before = event_count(app)
    result = lobby1.sync([make_event("complaint.opened", str(uuid.uuid4()), payload)])
    assert result.get_json()["results"][0]["status"] == "rejected"
    assert event_count(app) == before


def test_who_may_do_what(app, lobby1, sign_in):
    cid = str(uuid.uuid4())
    lobby1.sync([opened(cid)])
    wealth1 = sign_in("wealth1")
    for type_ in ("complaint.responded", "complaint.resolved"):
        result = wealth1.sync([make_event(type_, cid, {})]).get_json()["results"][0]
        assert result["error"]["code"] == "forbidden"
    teller = sign_in("teller1")
    result = teller.sync([make_event("complaint.resolved", cid, {})]).get_json()["results"][0]
    assert result["error"]["code"] == "forbidden"
    north = sign_in("lobby-north")
    result = north.sync([make_event("complaint.responded", cid, {}, branch="north")])
    assert result.get_json()["results"][0]["status"] == "rejected"


def test_an_unresolved_complaint_carries_over_to_the_next_days_board_and_checklist(
    app, lobby1, sign_in
):
    yesterday, resolved = str(uuid.uuid4()), str(uuid.uuid4())
    lobby1.sync(
        [
            opened(yesterday, 26 * 60, category="fees"),
            opened(resolved, 25 * 60),
            make_event("complaint.resolved", resolved, {}, occurred_at=stamp(24 * 60)),
        ]
    )
    for page in ("/lobby", "/checklist"):
        html = lobby1.get(page).get_data(as_text=True)
        assert f'data-complaint-id="{yesterday}"' in html, page
        assert f'data-complaint-id="{resolved}"' not in html, page
    html = sign_in("super1").get("/supervisor?branch=demo").get_data(as_text=True)
    assert 'data-testid="sv-complaints" data-count="1"' in html
    assert f'data-complaint-id="{yesterday}"' in html


def test_the_forms_open_respond_and_resolve(app, lobby1, sign_in):
    response = lobby1.post(
        "/complaints",
        data={"category": "attitude", "source": "lobby", "note": "柜员态度差", "back": "lobby"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/lobby")
    with app.app_context():
        cid = db.session.scalar(select(Complaint.id))
    teller = sign_in("teller1")
    page = teller.get("/referrals").get_data(as_text=True)
    assert f'data-complaint-id="{cid}"' in page and "柜员态度差" not in page  # no notes to tellers
    assert teller.post(f"/complaints/{cid}/respond", data={"back": "referrals"}).status_code == 302
    assert complaint(app, cid).status == "responded"
    assert teller.post(f"/complaints/{cid}/resolve").status_code == 403
    assert lobby1.post(f"/complaints/{cid}/resolve", data={"back": "checklist"}).status_code == 302
    assert complaint(app, cid).status == "resolved"
    assert lobby1.post("/complaints", data={"category": "nonsense"}).status_code == 422
    assert lobby1.post("/complaints/no-such/respond").status_code == 404
    assert sign_in("lobby-north").post(f"/complaints/{cid}/respond").status_code == 403


def test_the_supervisor_sees_response_times(app, lobby1, sign_in):
    answered, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    at = "2026-11-10T{}:00.000+08:00"
    lobby1.sync(
        [
            make_event(
                "complaint.opened",
                answered,
                {"category": "fees", "source": "lobby"},
                occurred_at=at.format("10:00"),
            ),
            make_event(
                "complaint.opened",
                waiting,
                {"category": "waiting", "source": "lobby"},
                occurred_at=at.format("10:10"),
            ),
            make_event("complaint.responded", answered, {}, occurred_at=at.format("10:12")),
        ]
    )
    html = (
        sign_in("super1")
        .get("/supervisor/figures?branch=demo&period=day&date=2026-11-10")
        .get_data(as_text=True)
    )
    assert (
        'data-testid="fig-complaints-followed" data-opened="2" data-responded="1" data-resolved="0"'
    ) in html
    assert 'data-testid="fig-complaint-response" data-minutes="12"' in html


def test_the_lobby_tablet_records_complaints_through_the_outbox(app, lobby1):
    cid = str(uuid.uuid4())
    lobby1.sync([opened(cid, 30, category="fees")])
    page = lobby1.get("/lobby").get_data(as_text=True)
    # Buttons for lobby.js (Datang.record), no form posted online; the list refreshes itself.
    assert 'data-complaint-step="complaint.responded"' in page
    assert 'id="tpl-complaint"' in page and "data-complaint-form" in page
    assert 'action="/complaints' not in page
    assert 'hx-get="/lobby/complaints"' in page
    assert '"complaint_categories"' in page  # the labels lobby.js draws pending items with
    assert 'data-complaint-category="waiting"' in page  # the close dialog's category chips
    # The desk pages keep their forms.
    assert 'action="/complaints' in lobby1.get("/checklist").get_data(as_text=True)


def test_the_lobby_complaint_list_fragment(app, lobby1, sign_in):
    cid = str(uuid.uuid4())
    lobby1.sync([opened(cid, 30), make_event("complaint.responded", cid, {})])
    fragment = lobby1.get("/lobby/complaints", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert f'data-complaint-id="{cid}" data-status="responded"' in html
    assert 'data-complaint-step="complaint.resolved"' in html
    assert 'data-complaint-step="complaint.responded"' not in html  # already answered
    # Another branch's lobby manager sees only their own.
    other = sign_in("lobby-north").get("/lobby/complaints", headers={"HX-Request": "true"})
    assert cid not in other.get_data(as_text=True)
    assert lobby1.get("/lobby/complaints").status_code == 302


def test_a_complaint_from_the_close_dialog_is_tracked_with_its_visit(app, lobby1):
    visit, cid = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        make_event("visit.greeted", visit, {"purpose": "cash"}, occurred_at=stamp(20)),
        make_event("visit.complaint", visit, {"note": "等太久"}, occurred_at=stamp(10)),
        make_event(
            "complaint.opened",
            cid,
            {"category": "other", "source": "lobby", "visit_id": visit, "note": "等太久"},
            occurred_at=stamp(10),
        ),
        make_event("visit.closed", visit, {"outcome": "served"}, occurred_at=stamp(10)),
    ]
    assert statuses(lobby1.sync(events)) == ["accepted"] * 4
    assert statuses(lobby1.sync(events)) == ["duplicate"] * 4
    row = complaint(app, cid)
    assert (row.visit_id, row.source, row.status, row.note) == (visit, "lobby", "open", "等太久")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Complaint)) == 1


def test_the_open_complaints_a_page_keeps_follow_every_event_of_its_branch(app, lobby1, sign_in):
    """Pages keep a branch's open complaints until its next event (app/lobby/complaints.py)."""
    cid = str(uuid.uuid4())
    status = re.compile(rf'data-complaint-id="{cid}" data-status="(\w+)"')

    def shown() -> list[str]:
        return status.findall(lobby1.get("/lobby").get_data(as_text=True))

    assert shown() == []
    assert statuses(lobby1.sync([opened(cid)])) == ["accepted"]
    assert shown() == ["open"]
    # Another branch's event moves nothing of this branch's.
    fees = {"category": "fees", "source": "lobby"}
    north = make_event("complaint.opened", str(uuid.uuid4()), fees, branch="north")
    assert statuses(sign_in("lobby-north").sync([north])) == ["accepted"]
    assert shown() == ["open"]
    teller = sign_in("teller1")
    assert statuses(teller.sync([make_event("complaint.responded", cid, {})])) == ["accepted"]
    assert shown() == ["responded"]
    assert statuses(lobby1.sync([make_event("complaint.resolved", cid, {})])) == ["accepted"]
    assert shown() == []
