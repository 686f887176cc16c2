"""Unit tests without a database: the privacy filter and the event envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask_babel import Babel
from pydantic import ValidationError

import app.lobby.events  # noqa: F401  (registers the visit.* event types)
from app.events import EVENT_TYPES, Envelope, describe_validation_error, format_time, parse_time
from app.privacy import check_free_text, is_resident_id, passes_luhn, personal_data_in

# --- privacy ----------------------------------------------------------------

VALID_ID = "11010519491231002X"  # the check digit of the standard's own example
VALID_CARD = "6222021234567890128"  # 19 digits, passes Luhn


def test_the_examples_are_what_they_claim():
    assert is_resident_id(VALID_ID)
    assert not is_resident_id("110105194912310021")
    assert passes_luhn(VALID_CARD)
    assert not passes_luhn("6222021234567890123")


@pytest.mark.parametrize(
    "text, kind",
    [
        (VALID_ID, "id"),
        (VALID_ID.lower(), "id"),
        (f"客户身份证 {VALID_ID} 来办业务", "id"),
        (VALID_CARD, "card"),
        ("6222 0212 3456 7890 128", "card"),
        ("6222-0212-3456-7890-128", "card"),
        ("卡号4111111111111111", "card"),
        ("13812345678", "mobile"),
        ("138-1234-5678", "mobile"),
        ("138 1234 5678", "mobile"),
        ("+86 138 1234 5678", "mobile"),
        ("+8613812345678", "mobile"),
        ("电话：19912345678，回电", "mobile"),
    ],
)
def test_personal_data_is_refused(text, kind):
    assert personal_data_in(text) == kind
    with pytest.raises(ValueError):
        check_free_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "存50000元",
        "A031号",
        "10:30 来的",
        "金额 1,000,000",
        "金额 1000000 元",
        "取款 20000，A031，10:30",
        "110105194912310021",  # 18 digits but a wrong check digit
        "6222021234567890123",  # fails Luhn
        "12812345678",  # no mobile number starts 12
        "2026-11-29 10:30",
        "",
        "客户想了解理财产品，约下周再来",
    ],
)
def test_ordinary_text_passes(text):
    assert personal_data_in(text) is None
    assert check_free_text(text) == text


# --- the envelope -----------------------------------------------------------


def envelope(**overrides) -> dict:
    data = {
        "id": str(uuid.uuid4()),
        "type": "visit.greeted",
        "occurred_at": "2026-11-29T09:03:12.481+08:00",
        "subject_id": str(uuid.uuid4()),
        "branch": "demo",
        "device_id": "device-a",
        "seq": 42,
        "payload": {"purpose": "cash"},
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-11-29T09:03:12+08:00",
        "2026-11-29T09:03:12.481+08:00",
        "2026-11-29T01:03:12.481Z",
        "2026-11-29T01:03:12.481z",
        "2026-11-29t01:03:12Z",
        "2026-11-29T09:03:12.123456789+08:00",  # nanoseconds
        "2026-11-29T01:03:12-05:30",
    ],
)
def test_rfc3339_times_with_an_offset_are_accepted(occurred_at):
    assert Envelope.model_validate(envelope(occurred_at=occurred_at)).occurred_at == occurred_at


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-11-29T09:03:12",  # naive: no offset
        "2026-11-29T09:03:12.481",
        "2026-11-29 09:03:12+08:00",  # a space is not RFC 3339's T
        "2026-11-29",
        "09:03:12+08:00",
        "2026-11-29T09:03+08:00",  # no seconds
        "2026-11-29T09:03:12+0800",  # offset without colon
        "2026-02-30T09:03:12Z",  # no such day
        "2026-11-29T25:03:12Z",
        "1764378192",
        "",
    ],
)
def test_other_times_are_refused(occurred_at):
    with pytest.raises(ValidationError):
        Envelope.model_validate(envelope(occurred_at=occurred_at))


def test_nanoseconds_are_cut_to_microseconds():
    parsed = parse_time("2026-11-29T09:03:12.123456789+08:00")
    assert parsed == datetime(2026, 11, 29, 1, 3, 12, 123456, tzinfo=UTC)


def test_parse_time_converts_to_utc():
    assert parse_time("2026-11-29T09:03:12.481+08:00") == parse_time("2026-11-29T01:03:12.481Z")
    assert format_time(parse_time("2026-11-29T09:03:12.481+08:00")) == "2026-11-29T01:03:12.481Z"


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", "not-a-uuid"),
        ("id", ""),
        ("id", 12),
        ("id", None),
        ("subject_id", "6b3e"),
        ("subject_id", "x" * 36),
    ],
)
def test_uuids_are_required(field, value):
    with pytest.raises(ValidationError):
        Envelope.model_validate(envelope(**{field: value}))


def test_uuids_are_normalised():
    upper = str(uuid.uuid4()).upper()
    assert Envelope.model_validate(envelope(id=upper)).id == upper.lower()


@pytest.mark.parametrize("seq", [-1, -100, "42", 4.2, True, None, 2**63])
def test_seq_must_be_a_non_negative_integer(seq):
    with pytest.raises(ValidationError):
        Envelope.model_validate(envelope(seq=seq))


@pytest.mark.parametrize("seq", [0, 1, 2**62])
def test_seq_zero_and_large_pass(seq):
    assert Envelope.model_validate(envelope(seq=seq)).seq == seq


def test_unknown_envelope_fields_are_refused():
    with pytest.raises(ValidationError) as info:
        Envelope.model_validate(envelope(extra="x"))
    assert info.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    "missing", ["id", "type", "occurred_at", "subject_id", "branch", "device_id", "seq", "payload"]
)
def test_every_envelope_field_is_required(missing):
    data = envelope()
    del data[missing]
    with pytest.raises(ValidationError):
        Envelope.model_validate(data)


def test_device_id_may_not_be_empty_or_huge():
    for device_id in ("", "d" * 65):
        with pytest.raises(ValidationError):
            Envelope.model_validate(envelope(device_id=device_id))


# --- messages for people ----------------------------------------------------


@pytest.fixture
def babel_app():
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(app)
    with app.test_request_context():
        yield app


def greeted_error(payload: dict) -> str:
    with pytest.raises(ValidationError) as info:
        EVENT_TYPES["visit.greeted"].payload.model_validate(payload)
    return describe_validation_error(info.value)


def closed_error(payload: dict) -> str:
    with pytest.raises(ValidationError) as info:
        EVENT_TYPES["visit.closed"].payload.model_validate(payload)
    return describe_validation_error(info.value)


def test_validation_messages_are_clear(babel_app):
    assert greeted_error({"purpose": "cash", "colour": "red"}) == "Unknown field: colour"
    assert greeted_error({}) == "Missing field: purpose"
    assert greeted_error({"purpose": "party"}) == (
        "purpose must be one of: cash, transfer, account, card, wealth, loan, bills, inquiry, "
        "complaint, corporate, other"
    )
    assert greeted_error({"purpose": "cash", "ticket": "A" * 11}) == (
        "ticket may have at most 10 characters."
    )
    assert greeted_error({"purpose": "cash", "ticket": 31}) == "ticket must be text."
    assert greeted_error({"purpose": "cash", "flags": ["elderly"] * 4}) == (
        "flags may hold at most 3 items."
    )
    assert greeted_error({"purpose": "cash", "flags": ["tall"]}) == (
        "flags.0 must be one of: elderly, needs_help, vip_appointment"
    )
    assert greeted_error({"purpose": "cash", "flags": "elderly"}) == "flags must be a list."
    assert closed_error({"outcome": "served", "satisfaction": 0}) == (
        "satisfaction must be at least 1."
    )
    assert closed_error({"outcome": "served", "satisfaction": 6}) == (
        "satisfaction must be at most 5."
    )
    assert closed_error({"outcome": "served", "satisfaction": "5"}) == (
        "satisfaction must be a whole number."
    )
    assert closed_error({"outcome": "served", "note": "x" * 501}) == (
        "note may have at most 500 characters."
    )
    assert closed_error({"outcome": "served", "note": "回电 13812345678"}).startswith(
        "Invalid value for note: This note looks like it holds a mobile phone number."
    )


def test_envelope_messages_are_clear(babel_app):
    def message(**overrides):
        with pytest.raises(ValidationError) as info:
            Envelope.model_validate(envelope(**overrides))
        return describe_validation_error(info.value)

    assert message(id="nope") == "Invalid value for id: must be a UUID"
    assert message(occurred_at="2026-11-29T09:03:12") == (
        "Invalid value for occurred_at: must be an RFC 3339 time with an offset or Z"
    )
    assert message(seq=-1) == "seq must be at least 0."
    assert message(seq="1") == "seq must be a whole number."
    assert message(payload=[]) == "payload must be an object."
