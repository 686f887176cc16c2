"""The pre-opening checklist: runs from the inventory, marks through the one write path,
faults carried across days, late sign-off across time zones, and who may see what."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.checklist.events import PHOTO_MAX_BYTES
from app.checklist.inventory import generate_items, is_late, item_label, leaflet_state, run_id
from app.checklist.queries import critical_open_at_opening, entries_of, latest_entries, open_faults
from app.demo import seed_demo
from app.extensions import db
from app.models import (
    Branch,
    ChecklistRun,
    Equipment,
    Fault,
    FaultPhoto,
    Leaflet,
    Product,
    TemplateItem,
)

from .conftest import DEMO_PASSWORD, make_event

DAY = date(2026, 11, 29)
NEXT = date(2026, 11, 30)
# 08:30 in Shanghai on DAY
MORNING = "2026-11-29T08:30:00.000+08:00"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 200 + b"\xff\xd9"


def at(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00.000+08:00"


def photo_url(data: bytes = JPEG, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def branch(code: str = "demo") -> Branch:
    return db.session.scalar(select(Branch).where(Branch.code == code))


def items_of(app, code: str = "demo") -> list[dict]:
    with app.app_context():
        return generate_items(branch(code))


def item(app, kind: str, code: str = "demo", n: int = 0) -> dict:
    return [i for i in items_of(app, code) if i["kind"] == kind][n]


def mark(
    item_id: str,
    status: str = "ok",
    *,
    day: date = DAY,
    branch_code: str = "demo",
    occurred_at: str | None = None,
    **payload,
) -> dict:
    body = {"day": day.isoformat(), "item_id": item_id, "status": status, **payload}
    return make_event(
        "checklist.item_recorded",
        run_id(branch_code, day),
        body,
        branch=branch_code,
        occurred_at=occurred_at or at(day, "08:30"),
    )


def all_ok(items: list[dict], day: date = DAY, hhmm: str = "08:30") -> list[dict]:
    return [
        mark(
            i["id"],
            "ok",
            day=day,
            occurred_at=at(day, hhmm),
            **({"count": 50} if i["kind"] == "leaflet" else {}),
        )
        for i in items
    ]


def signed(day: date = DAY, hhmm: str = "08:50", **kwargs) -> dict:
    return make_event(
        "checklist.signed_off",
        run_id(kwargs.pop("branch_code", "demo"), day),
        {"day": day.isoformat()},
        occurred_at=at(day, hhmm),
        **kwargs,
    )


def fault_events(
    item_id: str,
    note: str = "Screen is black",
    *,
    day: date = DAY,
    hhmm: str = "08:35",
    photo: str | None = None,
):
    fault_id = str(uuid.uuid4())
    rec = mark(item_id, "fault", day=day, occurred_at=at(day, hhmm), note=note, fault_id=fault_id)
    payload = {"run_id": run_id("demo", day), "item_id": item_id, "note": note}
    if photo:
        payload["photo"] = photo
    rep = make_event("fault.reported", fault_id, payload, occurred_at=at(day, hhmm))
    return fault_id, [rec, rep]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def statuses(response) -> list[str]:
    return [r["status"] for r in results(response)]


def set_now(app, day: date, hhmm: str = "08:00"):
    app.config["CHECKLIST_NOW"] = datetime.fromisoformat(at(day, hhmm))


@pytest.fixture
def english(lobby1):
    """lobby1 reading English: the server's messages come in the user's language."""
    lobby1.get("/checklist?lang=en")
    return lobby1


@pytest.fixture
def on_day(app):
    # Before the 09:00 opening, and after the morning's taps (08:30-08:50): the
    # server refuses events dated ahead of its clock (clock_ahead).
    set_now(app, DAY, "08:55")
    return app


# --- generating a run ---------------------------------------------------------


def test_run_generated_from_inventory(app):
    items = items_of(app)
    kinds = [i["kind"] for i in items]
    # 2 ATMs + 2 kiosks running, 2 ATM surrounds, 4 guides, 1 PC, 1 line, 2 counters,
    # the comment book, the work folder, 2 signage pieces and 6 leaflet kinds.
    assert {k: kinds.count(k) for k in dict.fromkeys(kinds)} == {
        "devices_running": 4,
        "atm_advert": 2,
        "operating_guide": 4,
        "ebank_pc": 1,
        "phone_line": 1,
        "recount": 2,
        "comment_book": 1,
        "work_folder": 1,
        "signage": 2,
        "leaflet": 6,
    }
    assert len({i["id"] for i in items}) == len(items) == 24
    assert all(i["critical"] for i in items if i["kind"] == "devices_running")
    leaflets = [i for i in items if i["kind"] == "leaflet"]
    assert [i["ends_on"] for i in leaflets].count("2025-12-31") == 1
    # the same ids on the other branch's inventory are its own
    assert not {i["id"] for i in items} & {i["id"] for i in items_of(app, "north")} - {
        "work_folder"
    }


def test_template_and_inventory_changes_shape_the_next_run(app):
    with app.app_context():
        demo = branch()
        db.session.add(Equipment(branch_id=demo.id, kind="atm", name="3号ATM", name_en="ATM 3"))
        row = db.session.scalar(
            select(TemplateItem).where(
                TemplateItem.branch_id == demo.id, TemplateItem.kind == "atm_advert"
            )
        )
        row.enabled = False
        db.session.add(
            TemplateItem(
                branch_id=demo.id,
                kind="custom",
                label="门口防滑垫已铺好",
                label_en="Anti-slip mat at the door",
                critical=True,
            )
        )
        db.session.commit()
        items = generate_items(demo)
    kinds = [i["kind"] for i in items]
    assert kinds.count("devices_running") == 5 and "atm_advert" not in kinds
    custom = [i for i in items if i["kind"] == "custom"]
    assert custom and custom[0]["critical"] and custom[0]["name_en"] == "Anti-slip mat at the door"


def test_started_run_keeps_its_items(app, lobby1):
    first = items_of(app)[0]
    assert statuses(lobby1.sync([mark(first["id"])])) == ["accepted"]
    with app.app_context():
        demo = branch()
        db.session.add(Equipment(branch_id=demo.id, kind="kiosk", name="3号自助终端"))
        db.session.commit()
        run = db.session.get(ChecklistRun, run_id("demo", DAY))
        assert len(run.items) == 24 and len(generate_items(demo)) == 26


def test_seed_is_safe_twice(app):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Equipment))
        seed_demo(DEMO_PASSWORD)
        assert db.session.scalar(select(func.count()).select_from(Equipment)) == before == 22


# --- leaflet rules --------------------------------------------------------------


def test_leaflet_low_and_expired_rules():
    item = {"kind": "leaflet", "min_stock": 20, "ends_on": None}
    assert leaflet_state(item, 19, DAY).low and not leaflet_state(item, 20, DAY).low
    assert not leaflet_state(item, None, DAY).low
    ended = {"kind": "leaflet", "min_stock": 20, "ends_on": "2026-11-28"}
    assert leaflet_state(ended, 0, DAY).expired and not leaflet_state(ended, 0, DAY).low
    on_last_day = {"kind": "leaflet", "min_stock": 20, "ends_on": "2026-11-29"}
    assert not leaflet_state(on_last_day, 30, DAY).expired


def test_page_flags_low_and_expired_leaflets(on_day, lobby1):
    leaflets = [i for i in items_of(on_day) if i["kind"] == "leaflet"]
    low = leaflets[0]
    assert statuses(lobby1.sync([mark(low["id"], count=3)])) == ["accepted"]
    page = lobby1.get("/checklist").get_data(as_text=True)
    block = re.search(rf'data-item-id="{low["id"]}".*?</li>', page, re.S).group(0)
    assert 'data-flag="low"' in block and 'data-flag="low" hidden' not in block
    expired = next(i for i in leaflets if i["ends_on"])
    block = re.search(rf'data-item-id="{expired["id"]}".*?</li>', page, re.S).group(0)
    assert 'data-flag="expired"' in block
    assert 'inputmode="numeric"' in block


@pytest.mark.parametrize("count", [-1, 100001, 10**9, "12", 1.5, True])
def test_absurd_leaflet_counts_are_refused(app, english, count):
    lobby1 = english
    leaflet = item(app, "leaflet")
    [result] = results(lobby1.sync([mark(leaflet["id"], count=count)]))
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_payload"
    assert "count" in result["error"]["message"]
    with app.app_context():
        assert db.session.get(ChecklistRun, run_id("demo", DAY)) is None


def test_counts_only_where_they_belong(app, lobby1):
    [no_count, not_leaflet] = results(
        lobby1.sync(
            [mark(item(app, "leaflet")["id"]), mark(item(app, "phone_line")["id"], count=3)]
        )
    )
    assert no_count["error"]["code"] == "count_required"
    assert not_leaflet["error"]["code"] == "count_not_allowed"


# --- the whole morning --------------------------------------------------------------


def test_whole_checklist_and_sign_off(on_day, lobby1):
    items = items_of(on_day)
    assert set(statuses(lobby1.sync(all_ok(items)))) == {"accepted"}
    assert statuses(lobby1.sync([signed(DAY, "08:50")])) == ["accepted"]
    page = lobby1.get("/checklist").get_data(as_text=True)
    assert f"<strong data-progress-done>{len(items)}</strong>" in page
    assert "data-signed" in page and 'data-testid="sign-off"' not in page
    with on_day.app_context():
        run = db.session.get(ChecklistRun, run_id("demo", DAY))
        assert run.signed_at and not run.late


def test_sign_off_refused_until_every_item_is_marked(app, lobby1):
    first = items_of(app)[0]
    # The refusal has the batch judged in the safe lane, whose flush must write
    # the day's run (started by the mark) before the mark's entry.
    [marked, refused] = results(lobby1.sync([mark(first["id"]), signed()]))
    assert marked["status"] == "accepted", marked
    assert refused["status"] == "rejected" and refused["error"]["code"] == "incomplete"
    assert "23" in refused["error"]["message"]


def test_page_and_fragment(on_day, lobby1):
    page = lobby1.get("/checklist")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Vary" in page.headers and "<html" in html
    assert html.count('data-testid="checklist-item"') == 24
    for testid in ("mark-ok", "mark-fault", "mark-na"):
        assert html.count(f'data-testid="{testid}"') == 24
    assert html.count('data-testid="fault-note"') == 1 and 'data-testid="save-fault"' in html
    assert 'data-testid="sign-off"' in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html
    data = json.loads(
        re.search(
            r'<script type="application/json" id="checklist-data">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert (
        data["run_id"]
        == run_id("demo", DAY)
        == str(uuid.uuid5(uuid.UUID(data["namespace"]), "demo/2026-11-29"))
    )
    assert data["day"] == "2026-11-29" and len(data["items"]) == 24
    assert "<script>" not in html and ' style="' not in html and "hx-on" not in html
    fragment = lobby1.get("/checklist", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text
    assert text.lstrip().startswith('<div id="checklist-run"')


def test_both_languages(on_day, lobby1):
    zh = lobby1.get("/checklist?lang=zh").get_data(as_text=True)
    assert "营业前检查" in zh and "正常" in zh and "签字确认" in zh
    en = lobby1.get("/checklist?lang=en").get_data(as_text=True)
    assert "Pre-opening checklist" in en and "ATM 1 (cash in/out) is running" in en


@pytest.mark.parametrize(
    ("lang", "item", "label"),
    [
        ("zh", {"kind": "devices_running", "name": "ATM 1"}, "ATM 1 正常运行"),
        ("en", {"kind": "devices_running", "name": "ATM 1"}, "ATM 1 is running"),
        ("en", {"kind": "phone_line", "name": "电话", "name_en": "Hotline"}, "Hotline works"),
        ("zh", {"kind": "phone_line", "name": "电话", "name_en": "Hotline"}, "电话 正常"),
        ("en", {"kind": "comment_book", "name": ""}, "The customer comment book is in its place"),
        ("en", {"kind": "work_folder", "name": ""}, "Work folder restocked: best-selling"),
        ("en", {"kind": "recount", "name": ""}, "Cash re-count and counterfeit detection"),
        ("en", {"kind": "leaflet", "name": "Fund A"}, "Leaflets: Fund A"),
        ("zh", {"kind": "leaflet", "name": "Fund A"}, "折页:Fund A"),
        ("en", {"kind": "custom", "name": "Water the plants"}, "Water the plants"),
        ("en", {"kind": "no_such_kind", "name": "Lamp"}, "Lamp"),
    ],
)
def test_an_items_question_in_the_readers_language(app, lang, item, label):
    """Each kind's question, of the thing it names or of none, in the language asked for."""
    with app.test_request_context(f"/?lang={lang}"):
        assert item_label(item, lang).startswith(label)


# --- two tablets ------------------------------------------------------------------


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_devices_latest_entry_counts_in_any_arrival_order(app, sign_in, order):
    target = item(app, "phone_line")
    first = mark(target["id"], "fault", occurred_at=at(DAY, "08:31"), note="No dial tone")
    first["device_id"] = "tablet-b"
    second = mark(target["id"], "ok", occurred_at=at(DAY, "08:32"))
    second["device_id"] = "tablet-a"
    # a tie in time is broken by device id: "tablet-c" sorts after "tablet-a"
    tie = mark(target["id"], "na", occurred_at=at(DAY, "08:32"))
    tie["device_id"] = "tablet-c"
    lobby1, lobby2 = sign_in("lobby1"), sign_in("lobby2")
    events = [first, second]
    for index in order:
        assert statuses((lobby1, lobby2)[index].sync([events[index]])) == ["accepted"]
    with app.app_context():
        entries = entries_of(run_id("demo", DAY))
        assert len(entries) == 2
        assert latest_entries(entries)[target["id"]].status == "ok"
    assert statuses(lobby2.sync([tie])) == ["accepted"]
    with app.app_context():
        entries = entries_of(run_id("demo", DAY))
        assert [e.status for e in entries] == ["fault", "ok", "na"]
        assert latest_entries(list(reversed(entries)))[target["id"]].status == "na"


# --- faults across days -----------------------------------------------------------


def test_fault_carried_to_next_day_until_resolved(app, lobby1, sign_in):
    atm = item(app, "devices_running")
    fault_id, events = fault_events(atm["id"], "吞卡,屏幕黑屏", photo=photo_url())
    assert statuses(lobby1.sync(events)) == ["accepted", "accepted"]
    set_now(app, NEXT, "08:45")
    page = lobby1.get("/checklist").get_data(as_text=True)
    faults_at = page.index('id="open-faults"')
    assert faults_at < page.index('data-testid="checklist-item"')
    assert f'data-fault-id="{fault_id}"' in page and "吞卡,屏幕黑屏" in page
    assert re.search(r'id="open-faults"[^>]*hidden', page) is None
    data = json.loads(re.search(r'id="checklist-data">(.*?)</script>', page, re.S).group(1))
    assert data["open_faults"] == {atm["id"]: fault_id}
    photo = lobby1.get(f"/checklist/faults/{fault_id}/photo")
    assert photo.status_code == 200 and photo.data == JPEG and photo.mimetype == "image/jpeg"
    with app.app_context():
        assert [f.id for f in open_faults(branch())] == [fault_id]
    resolve = make_event(
        "fault.resolved", fault_id, {"note": "已联系厂家更换读卡器"}, occurred_at=at(NEXT, "08:40")
    )
    assert statuses(lobby1.sync([resolve])) == ["accepted"]
    page = lobby1.get("/checklist").get_data(as_text=True)
    assert f'data-fault-id="{fault_id}"' not in page
    with app.app_context():
        assert open_faults(branch()) == []
        fault = db.session.get(Fault, fault_id)
        assert (
            fault.resolve_note == "已联系厂家更换读卡器" and fault.resolved_by.username == "lobby1"
        )
    history = sign_in("super1").get(f"/checklist/history/{run_id('demo', DAY)}")
    assert history.status_code == 200 and "已联系厂家更换读卡器" in history.get_data(as_text=True)


def test_critical_open_at_opening(app, lobby1):
    atm = item(app, "devices_running")  # critical (ATM 1)
    line = item(app, "phone_line")  # not critical
    critical_id, critical = fault_events(atm["id"], "Out of cash", hhmm="08:20")
    _other_id, other = fault_events(line["id"], "Noisy line", hhmm="08:21")
    assert set(statuses(lobby1.sync(critical + other))) == {"accepted"}
    with app.app_context():
        demo = branch()
        assert [f.id for f in critical_open_at_opening(demo, DAY)] == [critical_id]
        assert [f.id for f in critical_open_at_opening(demo, date(2026, 11, 28))] == []
    fixed = make_event(
        "fault.resolved", critical_id, {"note": "Refilled"}, occurred_at=at(NEXT, "08:55")
    )
    assert statuses(lobby1.sync([fixed])) == ["accepted"]
    with app.app_context():
        demo = branch()
        assert [f.id for f in critical_open_at_opening(demo, DAY)] == [critical_id]
        assert critical_open_at_opening(demo, NEXT) == []
        assert [f.critical for f in open_faults(demo)] == [False]


def test_repeated_fault_on_an_open_item_reuses_the_fault(app, lobby1):
    atm = item(app, "devices_running")
    fault_id, events = fault_events(atm["id"])
    lobby1.sync(events)
    again = mark(
        atm["id"],
        "fault",
        day=NEXT,
        occurred_at=at(NEXT, "08:30"),
        note="Still broken",
        fault_id=fault_id,
    )
    assert statuses(lobby1.sync([again])) == ["accepted"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Fault)) == 1


def test_fault_without_note_is_refused(app, english):
    lobby1 = english
    atm = item(app, "devices_running")
    [no_note, blank] = results(
        lobby1.sync([mark(atm["id"], "fault"), mark(atm["id"], "fault", note="   ")])
    )
    assert no_note["error"]["code"] == blank["error"]["code"] == "note_required"
    assert "note" in no_note["error"]["message"]
    lobby1.sync([mark(atm["id"])])  # the run exists now
    fault_id = str(uuid.uuid4())
    [missing, empty] = results(
        lobby1.sync(
            [
                make_event(
                    "fault.reported",
                    fault_id,
                    {"run_id": run_id("demo", DAY), "item_id": atm["id"]},
                    occurred_at=MORNING,
                ),
                make_event(
                    "fault.reported",
                    fault_id,
                    {"run_id": run_id("demo", DAY), "item_id": atm["id"], "note": ""},
                    occurred_at=MORNING,
                ),
            ]
        )
    )
    assert missing["error"]["code"] == "invalid_payload" and "note" in missing["error"]["message"]
    assert empty["error"]["code"] == "note_required"
    resolve = make_event("fault.resolved", str(uuid.uuid4()), {"note": ""}, occurred_at=MORNING)
    assert results(lobby1.sync([resolve]))[0]["status"] == "rejected"


def test_fault_note_with_a_phone_number_is_refused(app, lobby1):
    atm = item(app, "devices_running")
    [result] = results(lobby1.sync([mark(atm["id"], "fault", note="客户13812345678说吞卡")]))
    assert result["status"] == "rejected" and "手机号码" in result["error"]["message"]


@pytest.mark.parametrize(
    "photo, words",
    [
        (photo_url(b"\xff\xd8\xff" + b"\x00" * (PHOTO_MAX_BYTES + 10)), "too large"),
        ("data:image/jpeg;base64," + "A" * 600_000, "too large"),
        (photo_url(b"GIF89a not a jpeg"), "JPEG or PNG"),
        (photo_url(b"<svg/>", "image/svg+xml"), "JPEG or PNG"),
        ("data:image/jpeg;base64,@@@@", "JPEG or PNG"),
    ],
)
def test_bad_photos_are_refused_with_a_message(app, english, photo, words):
    lobby1 = english
    atm = item(app, "devices_running")
    _fault_id, events = fault_events(atm["id"], photo=photo)
    [recorded, reported] = results(lobby1.sync(events))
    assert recorded["status"] == "accepted"
    assert reported["status"] == "rejected" and words in reported["error"]["message"]
    assert reported["error"]["message"].startswith("Invalid value for photo: The photo")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Fault)) == 0
        assert db.session.scalar(select(func.count()).select_from(FaultPhoto)) == 0


def test_fault_before_its_run_is_refused(app, lobby1):
    atm = item(app, "devices_running")
    event = make_event(
        "fault.reported",
        str(uuid.uuid4()),
        {"run_id": run_id("demo", DAY), "item_id": atm["id"], "note": "x"},
        occurred_at=MORNING,
    )
    assert results(lobby1.sync([event]))[0]["error"]["code"] == "unknown_run"


# --- time zones ---------------------------------------------------------------------


def test_late_sign_off_in_the_branch_time_zone(app):
    with app.app_context():
        demo = branch()  # Asia/Shanghai, opens 09:00 = 01:00 UTC
        assert not is_late(demo, DAY, datetime(2026, 11, 29, 0, 59, 59, tzinfo=UTC))
        assert is_late(demo, DAY, datetime(2026, 11, 29, 1, 0, 1, tzinfo=UTC))
        demo.timezone = "Europe/London"
        assert not is_late(demo, DAY, datetime(2026, 11, 29, 8, 59, tzinfo=UTC))
        assert is_late(demo, DAY, datetime(2026, 11, 29, 9, 1, tzinfo=UTC))
        db.session.rollback()


def test_around_midnight_the_branch_day_counts_not_the_servers(app, lobby1):
    # 00:30 in Shanghai on DAY is still the day before in UTC, where the server runs.
    app.config["CHECKLIST_NOW"] = datetime(2026, 11, 28, 16, 30, tzinfo=UTC)
    page = lobby1.get("/checklist").get_data(as_text=True)
    assert f'data-run-id="{run_id("demo", DAY)}"' in page
    items = items_of(app)
    ok = [
        mark(
            i["id"],
            occurred_at="2026-11-28T16:31:00Z",
            **({"count": 40} if i["kind"] == "leaflet" else {}),
        )
        for i in items
    ]
    assert set(statuses(lobby1.sync(ok))) == {"accepted"}
    on_time = signed(DAY, "00:45")
    late_elsewhere = signed(DAY, "09:30", device_id="tablet-z")
    set_now(app, DAY, "09:35")  # no event is dated ahead of the server's clock
    assert statuses(lobby1.sync([late_elsewhere])) == ["accepted"]
    with app.app_context():
        assert db.session.get(ChecklistRun, run_id("demo", DAY)).late
    # an earlier sign-off from another tablet arrives late: the first one counts, not late
    assert statuses(lobby1.sync([on_time])) == ["accepted"]
    with app.app_context():
        run = db.session.get(ChecklistRun, run_id("demo", DAY))
        assert run.signed_at == datetime(2026, 11, 28, 16, 45, tzinfo=UTC)
        assert not run.late


def test_a_run_is_filled_on_its_own_day(app, lobby1):
    event = mark(items_of(app)[0]["id"], occurred_at=at(date(2026, 11, 20), "08:00"))
    assert results(lobby1.sync([event]))[0]["error"]["code"] == "wrong_day"
    wrong = mark(items_of(app)[0]["id"])
    wrong["subject_id"] = run_id("demo", NEXT)
    assert results(lobby1.sync([wrong]))[0]["error"]["code"] == "wrong_run"


# --- who may see and do what ------------------------------------------------------


def test_other_branch_is_off_limits(app, lobby1, sign_in):
    north_item = items_of(app, "north")[0]
    into_north = mark(north_item["id"], branch_code="north")
    assert results(lobby1.sync([into_north]))[0]["error"]["code"] == "branch_forbidden"
    foreign_item = mark(item(app, "devices_running", "north")["id"])
    assert results(lobby1.sync([foreign_item]))[0]["error"]["code"] == "unknown_item"
    atm = item(app, "devices_running")
    fault_id, events = fault_events(atm["id"], photo=photo_url())
    lobby1.sync(events)
    north = sign_in("lobby-north")
    assert north.get(f"/checklist/history/{run_id('demo', DAY)}").status_code == 403
    assert north.get(f"/checklist/faults/{fault_id}/photo").status_code == 403
    assert north.get("/checklist/history?branch=demo").status_code == 403
    assert lobby1.get("/checklist/history?branch=north").status_code == 403
    resolve = make_event("fault.resolved", fault_id, {"note": "fixed"}, branch="north")
    assert results(north.sync([resolve]))[0]["status"] == "rejected"


@pytest.mark.parametrize(
    "username, url",
    [
        ("teller1", "/checklist"),
        ("wealth1", "/checklist"),
        ("super1", "/checklist"),
        ("admin", "/checklist"),
        ("teller1", "/checklist/history"),
        ("wealth1", "/checklist/history"),
        ("lobby1", "/admin/equipment"),
        ("super1", "/admin/checklist-template"),
        ("teller1", "/admin/equipment"),
    ],
)
def test_wrong_role_is_forbidden(sign_in, username, url):
    assert sign_in(username).get(url).status_code == 403


def test_wrong_role_may_not_record(app, sign_in):
    event = mark(items_of(app)[0]["id"])
    assert results(sign_in("super1").sync([event]))[0]["error"]["code"] == "forbidden"


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get("/checklist").status_code == 302
    response = client.get("/checklist", headers={"HX-Request": "true"})
    assert response.status_code == 401 and "HX-Redirect" in response.headers


def test_history_for_lobby_supervisor_and_area(on_day, lobby1, sign_in):
    items = items_of(on_day)
    set_now(on_day, DAY, "09:25")
    lobby1.sync(all_ok(items) + [signed(DAY, "09:20")])
    for username, url in (
        ("lobby1", "/checklist/history"),
        ("super1", "/checklist/history"),
        ("area1", "/checklist/history?branch=demo"),
        ("admin", "/checklist/history"),
    ):
        response = sign_in(username).get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and f'data-run-id="{run_id("demo", DAY)}"' in html, (
            username
        )
    fragment = sign_in("area1").get(
        "/checklist/history?branch=north", headers={"HX-Request": "true"}
    )
    text = fragment.get_data(as_text=True)
    assert (
        fragment.status_code == 200
        and "<html" not in text
        and text.lstrip().startswith('<div id="runs"')
    )
    detail = sign_in("super1").get(f"/checklist/history/{run_id('demo', DAY)}?lang=en")
    html = detail.get_data(as_text=True)
    assert (
        detail.status_code == 200 and "Late" in html and html.count('data-testid="run-item"') == 24
    )
    assert "大堂经理一" in html  # who did it
    assert sign_in("super1").get(f"/checklist/history/{uuid.uuid4()}").status_code == 404


# --- admin ---------------------------------------------------------------------------


def test_admin_equipment_and_leaflets(app, sign_in):
    admin = sign_in("admin")
    for url in (
        "/admin/equipment",
        "/admin/equipment?branch=north",
        "/admin/checklist-template",
        "/admin/checklist-template?branch=north",
    ):
        assert admin.get(url).status_code == 200, url
    assert admin.get("/admin/equipment?branch=nowhere").status_code == 404
    response = admin.post(
        "/admin/equipment/demo",
        data={"kind": "atm", "name": "3号ATM", "name_en": "ATM 3", "critical": "1"},
    )
    assert response.status_code == 302
    refused = admin.post("/admin/equipment/demo", data={"kind": "toaster", "name": ""})
    assert refused.status_code == 422 and "field-error" in refused.get_data(as_text=True)
    with app.app_context():
        atm3 = db.session.scalar(select(Equipment).where(Equipment.name == "3号ATM"))
        assert atm3.critical
        atm3_id = atm3.id
    assert (
        admin.post(
            f"/admin/equipment/demo/{atm3_id}", data={"name": "3号ATM", "name_en": "ATM 3"}
        ).status_code
        == 302
    )
    assert admin.post(f"/admin/equipment/north/{atm3_id}", data={"name": "x"}).status_code == 404
    with app.app_context():
        assert not db.session.get(Equipment, atm3_id).active
    bad = admin.post(
        "/admin/leaflets/demo", data={"name": "新折页", "min_stock": "-3", "ends_on": "soon"}
    )
    assert bad.status_code == 422
    good = admin.post(
        "/admin/leaflets/demo", data={"name": "新折页", "min_stock": "15", "ends_on": "2026-01-31"}
    )
    assert good.status_code == 302
    names = [i["name"] for i in items_of(app) if i["kind"] == "leaflet"]
    assert "新折页" in names


def test_admin_forms_say_what_is_wrong_with_each_field(app, sign_in):
    """The admin's checklist forms (app/checklist/forms.py): 422 and each field's own message."""
    admin = sign_in("admin")
    admin.get("/admin/equipment?lang=en")
    refused = admin.post("/admin/equipment/demo", data={"kind": "toaster", "name": " "})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Choose a kind of equipment." in html and "This field is required." in html
    too_long = admin.post("/admin/equipment/demo", data={"kind": "atm", "name": "x" * 101})
    assert too_long.status_code == 422 and "At most 100 characters." in too_long.get_data(
        as_text=True
    )
    with app.app_context():
        other = db.session.scalar(select(Product).where(Product.branch_id != 1))
        other_id = other.id
        db.session.remove()
    bad = admin.post(
        "/admin/leaflets/demo",
        data={"name": "新折页", "min_stock": "²", "ends_on": "soon", "product_id": str(other_id)},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter a whole number from 0 to 100000." in html
    assert "Enter a date as YYYY-MM-DD." in html
    assert "Choose one of this branch&#39;s products." in html
    label = admin.post("/admin/checklist-template/demo/custom", data={"label": "x" * 201})
    assert label.status_code == 422 and "At most 200 characters." in label.get_data(as_text=True)
    with app.app_context():
        assert not db.session.scalar(select(Leaflet).where(Leaflet.name == "新折页"))


def test_admin_template(app, sign_in):
    admin = sign_in("admin")
    assert admin.post("/admin/checklist-template/demo/kind/atm_advert", data={}).status_code == 302
    assert (
        admin.post(
            "/admin/checklist-template/demo/kind/work_folder",
            data={"enabled": "1", "critical": "1"},
        ).status_code
        == 302
    )
    assert admin.post("/admin/checklist-template/demo/kind/nonsense", data={}).status_code == 404
    assert (
        admin.post("/admin/checklist-template/demo/custom", data={"label": ""}).status_code == 422
    )
    assert (
        admin.post(
            "/admin/checklist-template/demo/custom",
            data={"label": "饮水机有水", "label_en": "Water dispenser filled"},
        ).status_code
        == 302
    )
    items = items_of(app)
    assert not [i for i in items if i["kind"] == "atm_advert"]
    assert [i for i in items if i["kind"] == "work_folder"][0]["critical"]
    custom = [i for i in items if i["kind"] == "custom"]
    assert custom[0]["name"] == "饮水机有水"
    row_id = int(custom[0]["id"].split(":")[1])
    assert (
        admin.post(
            f"/admin/checklist-template/demo/custom/{row_id}",
            data={"label": "饮水机有水", "critical": "1"},
        ).status_code
        == 302
    )
    assert not [i for i in items_of(app) if i["kind"] == "custom"]  # not enabled any more
    page = admin.get("/admin/checklist-template").get_data(as_text=True)
    assert page.count('data-testid="template-kind"') == 9
