"""The car<->centre protocol: every message the car builds is parsed back by the centre to the same values, and a
bad field is refused with a message naming it."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gridwatch.protocol import (
    MAX_BATCH,
    CrewStatus,
    ProtocolError,
    Rejected,
    Report,
    ReportPhoto,
    StatusChange,
    TelemetryAnswer,
    TelemetryFix,
    batch_items,
    parse_fix,
    parse_report,
    parse_status,
    parse_telemetry_answer,
    segment_path,
    status_path,
    telemetry_path,
)
from gridwatch.types import GpsFix

T = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def wire(body: object) -> Any:
    """Through JSON, as the body travels."""
    return json.loads(json.dumps(body, separators=(",", ":")))


def test_paths() -> None:
    assert telemetry_path("zz-a1234") == "/api/telemetry/zz-a1234"
    assert status_path("zz-a1234") == "/api/vehicles/zz-a1234/status"
    assert segment_path("front", "20261124T080000Z.mp4") == "/api/segments/front/20261124T080000Z.mp4"


def test_fix_round_trip() -> None:
    fix = GpsFix(lat=34.781234567891, lon=113.68, time=T.astimezone(timezone(timedelta(hours=8))), heading=-90.04,
                 speed=8.333)
    sent = TelemetryFix.of(fix)
    body = sent.to_json()
    assert body == {"lat": 34.7812346, "lon": 113.68, "time": "2026-11-24T08:00:00+00:00", "heading": 270.0,
                    "speed": 8.33}
    got = parse_fix(wire(body))
    assert got == sent
    assert got.to_fix() == GpsFix(lat=34.7812346, lon=113.68, time=T, heading=270.0, speed=8.33)


def test_fix_without_heading_and_with_accuracy() -> None:
    sent = TelemetryFix(lat=34.78, lon=113.68, time=T, accuracy=4.5)
    assert parse_fix(wire(sent.to_json())) == sent


@pytest.mark.parametrize(("raw", "message"), [
    ({"lat": 91, "lon": 113.68, "time": "2026-11-24T08:00:00Z"}, "lat: Input should be less than or equal to 90"),
    ({"lat": 34.7, "lng": 113.68, "time": "2026-11-24T08:00:00Z"},
     "lon: Field required; lng: unknown field (expected lat, lon, time, heading, speed, accuracy)"),
    ({"lat": 34.7, "lon": 113.6, "time": "2026-11-24T08:00:00"}, "time: Input should have timezone info"),
    ({"lat": 0, "lon": 0, "time": "2026-11-24T08:00:00Z"},
     "fix: position (0, 0) is a receiver without a fix, not a place a patrol car can be"),
    ([1], "a fix must be a JSON object with lat, lon and time, got list"),
])
def test_fix_refused_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_fix(raw)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)


def test_batch() -> None:
    one = {"lat": 1.0}
    assert batch_items(one) == [one]
    assert batch_items([one, one]) == [one, one]
    with pytest.raises(ProtocolError, match="^empty list: send at least one fix$"):
        batch_items([])
    with pytest.raises(ProtocolError, match=f"^{MAX_BATCH + 1} fixes in one message; at most {MAX_BATCH}$"):
        batch_items([one] * (MAX_BATCH + 1))


def test_telemetry_answer_round_trip() -> None:
    answer = TelemetryAnswer(2, (Rejected(1, "lat: Input should be less than or equal to 90"),))
    body = wire(answer.to_dict())
    assert body == {"accepted": 2, "rejected": [{"index": 1, "error": "lat: Input should be less than or equal to 90"}]}
    assert parse_telemetry_answer(body) == answer.rejected
    assert parse_telemetry_answer({"rejected": [{"error": "no index"}, "junk", {"index": "3"}]}) == (
        Rejected(3, "refused"),)


def test_status_round_trip() -> None:
    sent = StatusChange(vehicle_id="zz-a1234", status=CrewStatus.PAUSED, changed_at=T, crew=["Li Wei", "Wang Fang"],
                        shift="2026-11-24-day", lat=34.78, lon=113.68)
    body = sent.to_json()
    assert body == {"vehicle_id": "zz-a1234", "status": "paused", "changed_at": "2026-11-24T08:00:00+00:00",
                    "crew": ["Li Wei", "Wang Fang"], "shift": "2026-11-24-day", "lat": 34.78, "lon": 113.68}
    assert parse_status(wire(body), "zz-a1234") == sent


@pytest.mark.parametrize(("raw", "message"), [
    ({"status": "asleep"}, "status: Input should be 'on_patrol', 'paused' or 'off_duty'"),
    ({"status": "paused", "crew": ["x"] * 21}, "crew: List should have at most 20 items after validation, not 21"),
    ({"status": "paused", "colour": "red"}, "colour: unknown field"),
    ({"status": "paused", "vehicle_id": "zz-b9999"},
     "vehicle_id: the body says 'zz-b9999' but the path 'zz-a1234'"),
    ("paused", "body: a JSON object with status and changed_at"),
])
def test_status_refused_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_status(raw, "zz-a1234")
    assert str(err.value) == message


def car_report(**changes: Any) -> Report:
    fields: dict[str, Any] = {
        "report_id": "9f1c2d3e4f5a", "vehicle_id": "zz-a1234", "crew": ["Li Wei"], "shift": "2026-11-24-day",
        "category": "0503", "note": "stall on the pavement", "created_at": T, "lat": 34.78, "lon": 113.68,
        "position_time": T - timedelta(seconds=1),
        "photo": ReportPhoto(filename="stall.jpg", content_type="image/jpeg", data_base64="/9j/4AAQ"),
    }
    return Report(**{**fields, **changes})


def test_report_round_trip() -> None:
    sent = car_report()
    body = sent.to_json()
    assert list(body) == ["report_id", "vehicle_id", "crew", "shift", "category", "note", "created_at", "lat", "lon",
                          "position_time", "photo"]
    assert body["photo"] == {"filename": "stall.jpg", "content_type": "image/jpeg", "data_base64": "/9j/4AAQ"}
    got = parse_report(wire(body))
    assert got == sent
    assert got.effective_source == "patrol"


def test_report_without_position_or_photo_and_a_persons() -> None:
    bare = car_report(lat=None, lon=None, position_time=None, photo=None)
    assert parse_report(wire(bare.to_json())) == bare
    person = Report(source="phone", reporter="a neighbour", category="0503", note="bins")
    body = person.to_json()
    assert body["source"] == "phone" and body["reporter"] == "a neighbour"
    got = parse_report(wire(body))
    assert got == person
    assert got.effective_source == "phone"


@pytest.mark.parametrize(("changes", "message"), [
    ({"category": "9999"}, "category: unknown issue category '9999'; known: "),
    ({"lat": None}, "lat, lon: give both or neither"),
    ({"report_id": None}, "report_id: a patrol car's report needs its report_id (the idempotency key)"),
    ({"report_id": "short"}, "report_id: String should match pattern '^[A-Za-z0-9_-]{8,64}$'"),
    ({"vehicle_id": "zz a1234"}, "vehicle_id: 'zz a1234' is not valid (letters, digits, . - _; at most 64)"),
    ({"note": "x" * 4001}, "note: String should have at most 4000 characters"),
])
def test_report_refused_naming_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_report(wire(car_report(**changes).to_json()))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(("raw_photo", "message"), [
    ("not an object", "photo: Input should be a valid dictionary or instance of PhotoIn"),
    ({"filename": "a.jpg"}, "photo.data_base64: Field required"),
    ({"data_base64": "AA", "size": 3}, "photo.size: unknown field"),
])
def test_report_photo_refused_naming_the_field(raw_photo: object, message: str) -> None:
    body = {**car_report().to_json(), "photo": raw_photo}
    with pytest.raises(ProtocolError) as err:
        parse_report(body)
    assert str(err.value) == message


def test_report_body_must_be_an_object() -> None:
    with pytest.raises(ProtocolError, match="^body: a JSON object with category, note, lat, lon, photo$"):
        parse_report([])
