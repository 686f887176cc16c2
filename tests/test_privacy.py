"""The privacy guard against disguised personal data (issue 13): the table of disguises.

Every note is normalised before matching (app/privacy.py): NFKC, Chinese
digits read as digits, separators between digits dropped. Each disguise below
must still be refused; each ordinary note must still pass.
"""

from __future__ import annotations

import pytest

from app.privacy import check_free_text, is_old_resident_id, personal_data_in

from .test_events_unit import VALID_CARD, VALID_ID

OLD_ID = "110105491231002"  # 15 digits: Beijing Chaoyang, born 1949-12-31
ZW, NBSP = "\u200b", "\u00a0"

DISGUISES = [
    # (how it is disguised, the note, the kind found)
    ("full-width digits", "电话１３８１２３４５６７８", "mobile"),
    ("full-width, dashes", "１３８－１２３４－５６７８", "mobile"),
    ("Chinese digits", "电话一三八一二三四五六七八", "mobile"),
    ("Chinese digits with 零", "一三八零零零零一二三四", "mobile"),
    ("Chinese digits with 〇", "一三八〇〇〇〇一二三四", "mobile"),
    ("Chinese and ASCII digits mixed", "138一二三四5678", "mobile"),
    ("dots", "138.1234.5678", "mobile"),
    ("slashes", "138/1234/5678", "mobile"),
    ("zero-width spaces", f"138{ZW}1234{ZW}5678", "mobile"),
    ("no-break spaces", f"138{NBSP}1234{NBSP}5678", "mobile"),
    ("ideographic spaces", "138\u30001234\u30005678", "mobile"),
    ("one space between every digit", " ".join("13812345678"), "mobile"),
    ("en dashes", "138\u20131234\u20135678", "mobile"),
    ("0086 without a separator", "008613812345678", "mobile"),
    ("0086 with a space", "0086 13812345678", "mobile"),
    ("+86 full-width", "＋８６１３８１２３４５６７８", "mobile"),
    ("ID with zero-width spaces", ZW.join([VALID_ID[:6], VALID_ID[6:14], VALID_ID[14:]]), "id"),
    (
        "ID in full-width",
        VALID_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "id",
    ),
    ("ID with dots", ".".join([VALID_ID[:6], VALID_ID[6:14], VALID_ID[14:]]), "id"),
    ("old 15-digit ID", f"身份证{OLD_ID}", "id"),
    ("old ID with spaces", f"{OLD_ID[:6]} {OLD_ID[6:12]} {OLD_ID[12:]}", "id"),
    ("card with dots", ".".join(VALID_CARD[i : i + 4] for i in range(0, 19, 4)), "card"),
    ("card with slashes", "/".join(VALID_CARD[i : i + 4] for i in range(0, 19, 4)), "card"),
    (
        "card in full-width",
        VALID_CARD.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "card",
    ),
]

ORDINARY = [
    "存50000元",
    "取 50.000 元",
    "金额 1 000 000 元",
    "金额 1,000,000",
    "A031号",
    "ticket A031 at 10:30",
    "10:30 来的，11:05 走的",
    "2026-11-29 10:30",
    "2026/11/29 13:45",
    "2026.11.29",
    "一共三个客户，等了二十分钟",
    "第一百二十三号",
    "客户想了解理财产品，约下周再来",
    "３号窗口",
    "110105491331002",  # 15 digits, but no 13th month
    "990105491231002",  # 15 digits, but no province 99
    "12812345678",  # no mobile number starts 12
]


@pytest.mark.parametrize("how, note, kind", DISGUISES, ids=[d[0] for d in DISGUISES])
def test_a_disguise_does_not_slip_past(how, note, kind):
    assert personal_data_in(note) == kind
    with pytest.raises(ValueError):
        check_free_text(note)


@pytest.mark.parametrize("note", ORDINARY)
def test_ordinary_notes_still_pass(note):
    assert personal_data_in(note) is None
    assert check_free_text(note) == note  # stored as written, not as normalised


def test_old_ids_need_a_province_and_a_birth_date():
    assert is_old_resident_id(OLD_ID)
    assert not is_old_resident_id("110105490230002")  # 30 February
    assert not is_old_resident_id("000105491231002")


def test_a_disguised_note_is_refused_through_the_sync_api(lobby1):
    from .conftest import greeted, make_event

    visit = greeted()
    note = make_event(
        "visit.complaint", visit["subject_id"], {"note": "回电一三八一二三四五六七八"}
    )
    results = lobby1.sync([visit, note]).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["error"]["code"] == "invalid_payload"
