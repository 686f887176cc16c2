"""The supervisor's pages: who may see what, every fragment, exports and blind spot-checks."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.figures import SpotCheck

from .conftest import make_event
from .test_figures import accepted, lobby_data, north_london  # noqa: F401  (fixtures)

OTHERS = ["lobby1", "wealth1", "teller1", "admin"]


def supervisor_urls(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("supervisor."):
            continue
        url = rule.rule.replace("<kind>", "visits")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


@pytest.mark.parametrize("username", OTHERS)
def test_other_roles_get_403_everywhere(app, sign_in, username):
    user = sign_in(username)
    urls = supervisor_urls(app)
    assert len(urls) >= 9
    for method, url in urls:
        if method == "GET":
            response = user.get(url)
        else:
            response = user.post(url, data={})
        assert response.status_code == 403, (username, method, url)


def test_signed_out_is_sent_to_sign_in(client):
    assert client.get("/supervisor").status_code == 302
    response = client.get("/supervisor/figures", headers={"HX-Request": "true"})
    assert response.status_code == 401 and "HX-Redirect" in response.headers


def test_branch_supervisor_cannot_see_north(app, sign_in, lobby_data):
    super1 = sign_in("super1")
    for method, url in supervisor_urls(app):
        joined = f"{url}?branch=north"
        response = super1.get(joined) if method == "GET" else super1.post(joined, data={})
        assert response.status_code == 403, (method, url)
    page = super1.get("/supervisor/figures?period=day&date=2026-11-10").get_data(as_text=True)
    assert 'data-testid="fig-visits" data-value="5"' in page
    assert "城北支行" not in page
    # north's visit cannot be spot-checked through demo
    response = super1.get(f"/supervisor/spotchecks/check?kind=visit&id={lobby_data['north_visit']}")
    assert response.status_code == 404


def test_area_supervisor_sees_one_or_all(sign_in, lobby_data):
    area1 = sign_in("area1")
    base = "/supervisor/figures?period=day&date=2026-11-10"
    assert 'data-value="6"' in area1.get(base).get_data(as_text=True)
    assert 'data-value="6"' in area1.get(base + "&branch=all").get_data(as_text=True)
    assert 'data-testid="fig-visits" data-value="1"' in area1.get(base + "&branch=north").get_data(
        as_text=True
    )
    assert 'data-testid="fig-visits" data-value="5"' in area1.get(base + "&branch=demo").get_data(
        as_text=True
    )
    today = area1.get("/supervisor").get_data(as_text=True)
    assert 'data-branch="demo"' in today and 'data-branch="north"' in today


@pytest.mark.parametrize(
    "url",
    [
        "/supervisor",
        "/supervisor/today",
        "/supervisor/figures?period=week&date=2026-11-10",
        "/supervisor/figures?period=month&date=2026-11-10",
        "/supervisor/figures?period=range&start=2026-11-01&end=2026-11-30",
        "/supervisor/spotchecks",
        "/supervisor/exports?period=month&date=2026-11-10",
    ],
)
def test_pages_and_fragments(sign_in, lobby_data, url):
    area1 = sign_in("area1")
    page = area1.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<html" in text and "supervisor.css" in text
    assert ' style="' not in text and "<script>" not in text  # strict CSP
    fragment = area1.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_figures_page_has_charts_with_numbers(sign_in, lobby_data):
    text = (
        sign_in("super1")
        .get("/supervisor/figures?period=day&date=2026-11-10", headers={"HX-Request": "true"})
        .get_data(as_text=True)
    )
    assert text.count("<svg") >= 5
    assert text.count('<details class="sv-numbers">') >= 4
    assert 'data-testid="fig-wait-median" data-value="20"' in text
    assert 'data-testid="fig-walkaways" data-value="1"' in text


def test_today_shows_the_lobby_now(app, sign_in):
    from datetime import datetime

    lobby = sign_in("lobby1")
    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 local
    v1, v2 = str(uuid.uuid4()), str(uuid.uuid4())
    accepted(
        lobby,
        [
            make_event(
                "visit.greeted", v1, {"purpose": "cash"}, occurred_at="2026-11-10T09:20:00+08:00"
            ),
            make_event(
                "visit.greeted", v2, {"purpose": "loan"}, occurred_at="2026-11-10T09:50:00+08:00"
            ),
            make_event("visit.engaged", v2, {}, occurred_at="2026-11-10T09:55:00+08:00"),
        ],
    )
    text = (
        sign_in("super1")
        .get("/supervisor/today", headers={"HX-Request": "true"})
        .get_data(as_text=True)
    )
    assert 'data-waiting="2"' in text
    assert 'data-testid="lobby-not-spoken" data-count="1"' in text
    assert "40" in text  # the longest wait, in minutes
    assert 'data-status="overdue"' in text  # no checklist and the branch is open


def rows_of(response):
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_exports(sign_in, lobby_data):
    super1 = sign_in("super1")
    query = "?period=range&start=2026-11-01&end=2026-11-30"
    visits = super1.get("/supervisor/export/visits.csv" + query)
    assert visits.status_code == 200
    assert visits.mimetype == "text/csv" and "attachment" in visits.headers["Content-Disposition"]
    rows = rows_of(visits)
    assert rows[0][0] == "网点"  # Chinese header by default
    assert len(rows) == 1 + 5 and {r[0] for r in rows[1:]} == {"demo"}
    assert any("大堂经理一" in r for r in rows[1:])
    referrals = rows_of(super1.get("/supervisor/export/referrals.csv" + query))
    assert len(referrals) == 1 + 2
    assert sorted(r[6] for r in referrals[1:]) == ["", "sold"]
    english = rows_of(super1.get("/supervisor/export/visits.csv" + query + "&lang=en"))
    assert english[0][0] == "Branch"
    assert len(rows_of(super1.get("/supervisor/export/checklist.csv" + query))) == 1
    assert len(rows_of(super1.get("/supervisor/export/spotchecks.csv" + query))) == 1
    assert super1.get("/supervisor/export/nothing.csv").status_code == 404
    area = rows_of(sign_in("area1").get("/supervisor/export/visits.csv" + query))
    assert {r[0] for r in area[1:]} == {"demo", "north"}


def test_csv_cells_never_run_as_formulas():
    from app.supervisor.exports import _safe

    assert _safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _safe("-3") == "-3" and _safe("备注") == "备注"


def test_blind_spot_check_of_a_visit(app, sign_in, lobby_data):
    from datetime import datetime

    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)  # 16:00 local
    super1 = sign_in("super1")
    v3 = lobby_data["visits"][2]  # the lobby manager recorded a walk-away
    listing = super1.get("/supervisor/spotchecks").get_data(as_text=True)
    assert f'data-target-id="{v3}"' in listing
    form = super1.get(
        f"/supervisor/spotchecks/check?kind=visit&id={v3}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert 'data-testid="spotcheck-form"' in form
    assert 'data-testid="lobby-answer"' not in form  # blind
    # No answer: refused, nothing recorded.
    refused = super1.post("/supervisor/spotchecks", data={"kind": "visit", "id": v3}, htmx=True)
    assert refused.status_code == 422
    result = super1.post(
        "/supervisor/spotchecks",
        data={"kind": "visit", "id": v3, "answer": "served", "note": "客户其实办完了"},
        htmx=True,
    )
    assert result.status_code == 200
    text = result.get_data(as_text=True)
    assert 'data-testid="lobby-answer"' in text and 'data-verdict="disagree"' in text
    agree = super1.post(
        "/supervisor/spotchecks",
        data={"kind": "visit", "id": lobby_data["visits"][0], "answer": "served"},
        htmx=True,
    )
    assert 'data-verdict="agree"' in agree.get_data(as_text=True)
    with app.app_context():
        checks = db.session.scalars(select(SpotCheck)).all()
        assert sorted(c.verdict for c in checks) == ["agree", "disagree"]
        assert {c.lobby_answer for c in checks} == {"walked_away", "served"}
    listing = super1.get("/supervisor/spotchecks").get_data(as_text=True)
    assert f'data-target-id="{v3}"' not in listing.split("spotchecks-done")[0]
    assert re.search(r"50%", listing)  # agreement this month
    figures = super1.get("/supervisor/figures?period=month&date=2026-11-10").get_data(as_text=True)
    assert "50%" in figures
    rows = rows_of(super1.get("/supervisor/export/spotchecks.csv?period=month&date=2026-11-10"))
    assert len(rows) == 3 and any("客户其实办完了" in r for r in rows)


def test_spot_check_refusals(app, sign_in, lobby_data):
    from datetime import datetime

    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    super1 = sign_in("super1")
    v1 = lobby_data["visits"][0]
    # Personal data in the note is refused with the privacy message.
    response = super1.post(
        "/supervisor/spotchecks",
        data={"kind": "visit", "id": v1, "answer": "served", "note": "客户电话13812345678"},
        htmx=True,
    )
    assert response.status_code == 422
    assert 'data-testid="spotcheck-error"' in response.get_data(as_text=True)
    # A visit of another branch, through the branch the supervisor has.
    response = super1.post(
        "/supervisor/spotchecks",
        data={"kind": "visit", "id": lobby_data["north_visit"], "answer": "served"},
        htmx=True,
    )
    assert response.status_code == 404
    # Through the sync API: a lobby manager may not record one; a supervisor may not for north.
    event = make_event(
        "spotcheck.recorded", None, {"target_kind": "visit", "target_id": v1, "verdict": "agree"}
    )
    result = sign_in("lobby1").sync([event]).get_json()["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "forbidden"
    north = make_event(
        "spotcheck.recorded",
        None,
        {"target_kind": "visit", "target_id": lobby_data["north_visit"], "verdict": "agree"},
        branch="north",
    )
    result = super1.sync([north]).get_json()["results"][0]
    assert result["error"]["code"] == "branch_forbidden"
    unknown = make_event(
        "spotcheck.recorded",
        None,
        {
            "target_kind": "visit",
            "target_id": lobby_data["north_visit"],
            "supervisor_answer": "served",
        },
        occurred_at="2026-11-10T15:00:00+08:00",
    )
    result = super1.sync([unknown]).get_json()["results"][0]
    assert result["error"]["code"] == "unknown_target"
    with app.app_context():
        assert db.session.scalars(select(SpotCheck)).all() == []


def test_draw_at_random(app, sign_in, lobby_data):
    from datetime import datetime

    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    super1 = sign_in("super1")
    response = super1.post("/supervisor/spotchecks/draw", data={}, htmx=True)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.count('data-testid="spotcheck-form"') == 2  # no checklist today: two visits
    assert 'data-testid="lobby-answer"' not in text


def test_the_verdict_is_the_servers_never_the_clients(app, sign_in, lobby_data):
    """A supervisor's tablet that claims "agree" for differing answers gets "disagree"."""
    from datetime import datetime

    from app.models import Visit

    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    super1 = sign_in("super1")
    visit_id = lobby_data["visits"][0]
    with app.app_context():
        lobby_answer = db.session.get(Visit, visit_id).outcome or "waiting"
    other = next(a for a in ("served", "walked_away", "referred", "waiting") if a != lobby_answer)
    at = "2026-11-10T15:00:00+08:00"
    claims = [
        make_event(
            "spotcheck.recorded",
            None,
            {
                "target_kind": "visit",
                "target_id": visit_id,
                "verdict": "agree",
                "supervisor_answer": other,
            },
            occurred_at=at,
        ),
        make_event(
            "spotcheck.recorded",
            None,
            {
                "target_kind": "visit",
                "target_id": visit_id,
                "verdict": "disagree",
                "supervisor_answer": lobby_answer,
            },
            occurred_at=at,
        ),
        make_event(
            "spotcheck.recorded",
            None,
            {
                "target_kind": "visit",
                "target_id": visit_id,
                "verdict": "agree",
                "supervisor_answer": "looked fine",
            },
            occurred_at=at,
        ),
    ]
    results = super1.sync(claims).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    assert results[2]["error"]["code"] == "invalid_payload"
    with app.app_context():
        verdicts = {c.id: c.verdict for c in db.session.scalars(select(SpotCheck))}
    assert verdicts == {claims[0]["subject_id"]: "disagree", claims[1]["subject_id"]: "agree"}
