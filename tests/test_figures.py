"""The supervisor's figures on a small hand-made event set with known answers.

Demo is in Asia/Shanghai; north is moved to Europe/London here, so a visit at
23:30 UTC falls on 10 November in north and would be the 11th in demo.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from app.events import EVENT_TYPES
from app.extensions import db
from app.models import Branch, Event
from app.models.figures import FigureDay, FigureSubject
from app.supervisor.figures import compute, percentile, period_for
from app.supervisor.projection import FOLDS, kind_of, projected_types, rebuild_figures

from .conftest import make_event

DAY = date(2026, 11, 10)


def at(local: str, offset: str = "+08:00") -> str:
    return f"{local}{offset}"


def accepted(client, events):
    results = client.sync(events).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(events), results
    return results


@pytest.fixture
def north_london(app):
    with app.app_context():
        north = db.session.scalar(select(Branch).where(Branch.code == "north"))
        north.timezone = "Europe/London"
        db.session.commit()


def visit(vid=None):
    return vid or str(uuid.uuid4())


@pytest.fixture
def lobby_data(app, sign_in, north_london):
    """Five demo visits and one north visit on 10 November; two referrals."""
    lobby, teller, wealth = sign_in("lobby1"), sign_in("teller1"), sign_in("wealth1")
    north = sign_in("lobby-north")
    v1, v2, v3, v4, v5 = (visit() for _ in range(5))
    r1, r2 = str(uuid.uuid4()), str(uuid.uuid4())
    accepted(
        lobby,
        [
            make_event(
                "visit.greeted", v1, {"purpose": "cash"}, occurred_at=at("2026-11-10T09:05:00")
            ),
            make_event(
                "visit.triaged",
                v1,
                {"route": "self_service"},
                occurred_at=at("2026-11-10T09:06:00"),
            ),
            make_event(
                "visit.closed",
                v1,
                {"outcome": "served", "satisfaction": 5},
                occurred_at=at("2026-11-10T09:15:00"),
            ),
            make_event(
                "visit.greeted",
                v2,
                {"purpose": "transfer", "ticket": "A031"},
                occurred_at=at("2026-11-10T09:30:00"),
            ),
            make_event(
                "visit.triaged",
                v2,
                {"route": "counter", "form_checked": True, "form_redone": True},
                occurred_at=at("2026-11-10T09:32:00"),
            ),
            make_event("visit.engaged", v2, {}, occurred_at=at("2026-11-10T09:40:00")),
            make_event(
                "visit.recommended",
                v2,
                {"products": ["wm-stable"], "response": "interested"},
                occurred_at=at("2026-11-10T09:45:00"),
            ),
            make_event(
                "visit.referred",
                v2,
                {"referral_id": r1, "to": "wealth"},
                occurred_at=at("2026-11-10T09:46:00"),
            ),
            make_event(
                "referral.created",
                r1,
                {"visit_id": v2, "to": "wealth"},
                occurred_at=at("2026-11-10T09:46:00"),
            ),
            make_event(
                "visit.closed",
                v2,
                {"outcome": "referred", "satisfaction": 3},
                occurred_at=at("2026-11-10T09:50:00"),
            ),
            make_event(
                "visit.greeted", v3, {"purpose": "cash"}, occurred_at=at("2026-11-10T10:00:00")
            ),
            make_event(
                "visit.closed",
                v3,
                {"outcome": "walked_away"},
                occurred_at=at("2026-11-10T10:30:00"),
            ),
            # Across midnight: counted on the day of the greeting.
            make_event(
                "visit.greeted", v4, {"purpose": "wealth"}, occurred_at=at("2026-11-10T23:50:00")
            ),
            make_event(
                "visit.closed", v4, {"outcome": "served"}, occurred_at=at("2026-11-11T00:20:00")
            ),
            make_event(
                "visit.greeted", v5, {"purpose": "inquiry"}, occurred_at=at("2026-11-10T11:00:00")
            ),
            make_event(
                "visit.recommended",
                v5,
                {"products": ["card-gold"], "response": "declined"},
                occurred_at=at("2026-11-10T11:05:00"),
            ),
            make_event(
                "visit.complaint", v5, {"note": "排队太久"}, occurred_at=at("2026-11-10T11:06:00")
            ),
        ],
    )
    accepted(
        teller,
        [
            make_event(
                "referral.created", r2, {"to": "wealth"}, occurred_at=at("2026-11-10T14:00:00")
            )
        ],
    )
    accepted(
        wealth,
        [
            make_event(
                "referral.outcome",
                r1,
                {"result": "sold", "amount_band": "50k_200k"},
                occurred_at=at("2026-11-11T10:00:00"),
            )
        ],
    )
    nv = visit()
    accepted(
        north,
        [
            make_event(
                "visit.greeted",
                nv,
                {"purpose": "cash"},
                branch="north",
                occurred_at="2026-11-10T23:30:00Z",
            ),
            make_event(
                "visit.closed",
                nv,
                {"outcome": "served"},
                branch="north",
                occurred_at="2026-11-11T00:10:00Z",
            ),
        ],
    )
    return {"visits": [v1, v2, v3, v4, v5], "north_visit": nv, "referrals": [r1, r2]}


def branches(*codes):
    return list(
        db.session.scalars(select(Branch).where(Branch.code.in_(codes)).order_by(Branch.code))
    )


def test_percentile_nearest_rank():
    assert percentile({}, 0.5) is None
    assert percentile({10: 1, 20: 1, 30: 1}, 0.5) == 20
    assert percentile({10: 1, 20: 1, 30: 1}, 0.9) == 30
    assert percentile({10: 1, 20: 1, 30: 1, 40: 1}, 0.5) == 20
    assert percentile({10: 1, 20: 1, 30: 1, 40: 1}, 0.9) == 40


def test_one_branch_one_day(app, lobby_data):
    with app.app_context():
        fig = compute(branches("demo"), period_for("day", DAY), today=DAY)
        assert fig["visits"] == 5
        assert fig["hours"] == {9: 2, 10: 1, 11: 1, 23: 1}
        assert fig["purposes"] == {"cash": 2, "transfer": 1, "wealth": 1, "inquiry": 1}
        assert fig["wait"]["n"] == 3
        assert (fig["wait"]["median"], fig["wait"]["p90"]) == (20, 30)
        # demo thresholds: 10 and 30 minutes (or more)
        assert (fig["wait"]["over_warn"], fig["wait"]["over_alert"]) == (3, 1)
        assert fig["walkaways"] == 1 and fig["walkaway_share"] == pytest.approx(0.25)
        assert fig["diversion"] == pytest.approx(0.2)
        assert (fig["forms_checked"], fig["forms_redone"]) == (1, 1)
        assert (fig["recs"], fig["recs_interested"]) == (2, 1)
        assert fig["interest_share"] == pytest.approx(0.5)
        # Both were recommended before any need was learnt (v2's talk learnt none).
        assert fig["recs_without_need"] == 2
        assert [n for _name, n in fig["without_need_people"]] == [2]
        assert fig["referrals"] == 2 and fig["ref_sold"] == 1 and fig["ref_open"] == 1
        assert fig["conversion"] == pytest.approx(0.5)
        assert fig["ref_bands"] == {"50k_200k": 1}
        assert fig["satisfaction"]["mean"] == pytest.approx(4.0)
        assert fig["complaints"] == 1
        assert fig["time"]["guide"] == 60 + 120
        assert fig["time"]["sell"] == 6 * 60
        # The next day has nothing: the visit across midnight stays on the 10th.
        nxt = compute(branches("demo"), period_for("day", date(2026, 11, 11)), today=DAY)
        assert nxt["visits"] == 0


def test_time_zones_and_all_branches(app, lobby_data):
    with app.app_context():
        north = compute(branches("north"), period_for("day", DAY), today=DAY)
        assert north["visits"] == 1 and north["hours"] == {23: 1}
        both = compute(branches("demo", "north"), period_for("day", DAY), today=DAY)
        assert both["visits"] == 6
        assert (both["wait"]["median"], both["wait"]["p90"]) == (20, 40)
        week = compute(branches("demo", "north"), period_for("week", DAY), today=DAY)
        assert week["visits"] == 6 and dict(week["daily"])[DAY] == 6


def test_checklist_and_faults(app, sign_in):
    from app.checklist.inventory import generate_items, run_id

    lobby = sign_in("lobby1")
    with app.app_context():
        items = generate_items(branches("demo")[0])
    for day, signed, fault in (("2026-11-10", "08:50", True), ("2026-11-11", "09:20", False)):
        rid = run_id("demo", date.fromisoformat(day))
        events = [
            make_event(
                "checklist.item_recorded",
                rid,
                {
                    "day": day,
                    "item_id": i["id"],
                    "status": "ok",
                    **({"count": 100} if i["kind"] == "leaflet" else {}),
                },
                occurred_at=at(f"{day}T08:30:{n:02d}"),
            )
            for n, i in enumerate(items)
        ]
        events.append(
            make_event(
                "checklist.signed_off", rid, {"day": day}, occurred_at=at(f"{day}T{signed}:00")
            )
        )
        results = lobby.sync(events).get_json()["results"]
        assert {r["status"] for r in results} == {"accepted"}, [
            r for r in results if r["status"] != "accepted"
        ][:2]
        if fault:
            fid = str(uuid.uuid4())
            accepted(
                lobby,
                [
                    make_event(
                        "fault.reported",
                        fid,
                        {"run_id": rid, "item_id": items[0]["id"], "note": "吞卡"},
                        occurred_at=at(f"{day}T08:40:00"),
                    )
                ],
            )
            accepted(
                lobby,
                [
                    make_event(
                        "fault.resolved", fid, {"note": "已修复"}, occurred_at=at(f"{day}T14:40:00")
                    )
                ],
            )
    with app.app_context():
        fig = compute(
            branches("demo"),
            period_for("range", DAY, DAY, date(2026, 11, 12)),
            today=date(2026, 11, 12),
        )
        ck = fig["checklist"]
        assert (ck["runs"], ck["on_time"], ck["late"], ck["not_started"]) == (2, 1, 1, 1)
        assert ck["on_time_rate"] == pytest.approx(1 / 3)
        assert fig["faults"]["reported"] == 1 and fig["faults"]["median_hours"] == 6
        assert fig["time"]["prep"] == 20 * 60 + 50 * 60  # 08:30–08:50 and 08:30–09:20


def snapshot():
    days = sorted(
        (r.branch_id, r.day, r.metric, r.key, r.value)
        for r in db.session.scalars(select(FigureDay))
    )
    subjects = sorted(
        (r.subject_id, r.kind, r.day, r.status, r.contributions)
        for r in db.session.scalars(select(FigureSubject))
    )
    return days, subjects


def test_incremental_equals_rebuilt(app, lobby_data, sign_in):
    lobby = sign_in("lobby1")
    v1, v2, v3 = lobby_data["visits"][:3]
    # A late event (sorts before the close) and an undone step, then a voided visit.
    triage = make_event(
        "visit.triaged", v3, {"route": "counter"}, occurred_at=at("2026-11-10T10:05:00")
    )
    accepted(lobby, [triage])
    accepted(
        lobby,
        [
            make_event(
                "visit.undone",
                v3,
                {"event_id": triage["id"]},
                occurred_at=at("2026-11-10T10:06:00"),
            )
        ],
    )
    greet = make_event(
        "visit.greeted", None, {"purpose": "card"}, occurred_at=at("2026-11-10T12:00:00")
    )
    accepted(lobby, [greet])
    accepted(
        lobby,
        [
            make_event(
                "visit.undone",
                greet["subject_id"],
                {"event_id": greet["id"]},
                occurred_at=at("2026-11-10T12:00:05"),
            )
        ],
    )
    accepted(
        lobby,
        [
            make_event(
                "visit.closed",
                v1,
                {"outcome": "walked_away"},
                occurred_at=at("2026-11-10T09:20:00"),
            )
        ],
    )
    with app.app_context():
        before = snapshot()
        fig = compute(branches("demo"), period_for("day", DAY), today=DAY)
        assert fig["visits"] == 5  # the voided visit does not count
        assert fig["walkaways"] == 2  # v1 corrected to a walk-away
        assert fig["routes"] == {"counter": 1, "self_service": 1}  # v3's triage undone
        rebuild_figures()
        assert snapshot() == before
        assert before[0]  # not trivially equal


def test_rebuild_command(app, lobby_data):
    runner = app.test_cli_runner()
    with app.app_context():
        db.session.execute(FigureDay.__table__.delete())
        db.session.commit()
    result = runner.invoke(args=["rebuild-figures"])
    assert result.exit_code == 0, result.output
    assert "figures rebuilt" in result.output
    with app.app_context():
        assert compute(branches("demo"), period_for("day", DAY), today=DAY)["visits"] == 5


def test_observer_never_refuses_a_lobby_event(app, sign_in, monkeypatch, caplog):
    import app.supervisor.projection as projection

    lanes = []

    def broken(*args, **kwargs):
        lanes.append("fast" if projection.in_fast_lane() else "safe")
        raise RuntimeError("boom")

    monkeypatch.setattr(projection, "project_subjects", broken)
    greet = make_event("visit.greeted", None, {"purpose": "cash"})
    accepted(sign_in("lobby1"), [greet])
    # The fault failed the fast lane; the safe lane stored the event once and
    # logged the fault (its savepoint rolled the figures back, not the event).
    assert lanes == ["fast", "safe"]
    assert [r.message for r in caplog.records if "could not project" in r.message] == [
        "figures: could not project 1 subjects; run rebuild-figures"
    ]
    with app.app_context():
        assert db.session.scalars(select(Event.id).where(Event.id == greet["id"])).all() == [
            greet["id"]
        ]
        assert db.session.get(FigureSubject, greet["subject_id"]) is None


def test_iron_triangle_figures_and_rebuild_agree(app, sign_in):
    """Time to take and to meet, conversion by wealth manager and by referrer, referrals
    nobody took, waits ending at the call and service time; incremental == rebuilt."""
    lobby, teller = sign_in("lobby1"), sign_in("teller1")
    wealth1, wealth2 = sign_in("wealth1"), sign_in("wealth2")
    v1, v2 = visit(), visit()
    r1, r2, r3, r4 = (str(uuid.uuid4()) for _ in range(4))
    accepted(
        lobby,
        [
            make_event(
                "visit.greeted", v1, {"purpose": "wealth"}, occurred_at=at("2026-11-10T09:00:00")
            ),
            make_event(
                "referral.created",
                r1,
                {"visit_id": v1, "to": "wealth", "consent": True},
                occurred_at=at("2026-11-10T09:02:00"),
            ),
            make_event(
                "referral.created", r2, {"to": "wealth"}, occurred_at=at("2026-11-10T09:10:00")
            ),
            make_event(
                "visit.greeted", v2, {"purpose": "cash"}, occurred_at=at("2026-11-10T10:00:00")
            ),
        ],
    )
    accepted(
        teller,
        [
            make_event(
                "referral.created",
                r3,
                {"to": "wealth", "assignee": "wealth2"},
                occurred_at=at("2026-11-10T11:00:00"),
            ),
            make_event(
                "referral.created", r4, {"to": "wealth"}, occurred_at=at("2026-11-10T12:00:00")
            ),
            make_event("visit.called", v2, {"counter": "2"}, occurred_at=at("2026-11-10T10:12:00")),
        ],
    )
    accepted(
        wealth1,
        [
            make_event("referral.accepted", r1, {}, occurred_at=at("2026-11-10T09:04:30")),
            make_event(
                "referral.outcome",
                r1,
                {"result": "sold", "amount_band": "50k_200k", "product": "wm-stable"},
                occurred_at=at("2026-11-10T09:20:00"),
            ),
            make_event("referral.accepted", r2, {}, occurred_at=at("2026-11-10T09:11:00")),
            make_event(
                "referral.outcome", r2, {"result": "no_sale"}, occurred_at=at("2026-11-10T09:30:00")
            ),
        ],
    )
    accepted(
        wealth2,
        [
            make_event("referral.accepted", r3, {}, occurred_at=at("2026-11-10T11:08:00")),
            make_event(
                "referral.outcome",
                r3,
                {"result": "sold", "amount_band": "gt_1m"},
                occurred_at=at("2026-11-10T11:15:00"),
            ),
        ],
    )
    accepted(
        lobby,
        [
            make_event(
                "visit.closed", v2, {"outcome": "served"}, occurred_at=at("2026-11-10T10:20:00")
            )
        ],
    )
    with app.app_context():
        fig = compute(branches("demo"), period_for("day", DAY), today=DAY)
        t = fig["triangle"]
        assert (t["take_n"], t["take_median"], t["take_p90"]) == (3, 2, 8)  # 2.5, 1, 8 min
        assert (t["meet_n"], t["meet_median"], t["meet_p90"]) == (3, 18, 20)  # 18, 20, 15 min
        assert t["untaken"] == 1  # r4
        assert [(r["name"], r["n"], r["sold"]) for r in t["by_wealth_manager"]] == [
            ("理财经理", 2, 1),
            ("理财经理二", 1, 1),
        ]
        assert [(r["name"], r["n"], r["sold"]) for r in t["by_referrer"]] == [
            ("大堂经理一", 2, 1),
            ("柜员", 2, 1),
        ]
        assert fig["wait"]["hist"] == {12: 1}  # greeted 10:00, called 10:12: not closed at 10:20
        assert (fig["service"]["n"], fig["service"]["median"]) == (1, 8)
        before = snapshot()
        rebuild_figures()
        assert snapshot() == before
    page = sign_in("super1").get(f"/supervisor/figures?period=day&date={DAY.isoformat()}&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="fig-take"' in text and 'data-testid="fig-conv-wm"' in text


def test_the_figures_fold_kinds_the_event_types_register(app):
    """A kind renamed in the registry must not silently drop out of the figures."""
    registered = {etype.kind for etype in EVENT_TYPES.values()}
    assert set(FOLDS) <= registered
    assert {kind_of(name) for name in projected_types()} == set(FOLDS)
    assert kind_of("visit.greeted") == "visit" and kind_of("spotcheck.recorded") is None
