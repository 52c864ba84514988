"""Issue 14's limits on a real dashboard (waitress, every blueprint, the private redis-server, SQLite):
request sizes on every route, photos checked from their header and kept only once accepted, live streams capped."""
from __future__ import annotations

import base64
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from live_testing import TOKEN, Centre, live_centre

from alerts.cases import CaseService
from alerts.casework import Casework, Target
from alerts.workflow import Actor, Role, Status
from dashboard import staff_queries
from geo.routing import GridRouter
from gridwatch import keys
from gridwatch.events import camera_state_to_hash
from gridwatch.photos import MAX_PHOTO_PIXELS, PhotoError, check_photo
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.types import CameraState, CameraStatus

COMMUNITY_A = "410105001001"
GRID_A1 = "410105001001001"
IN_A1 = (34.79625, 113.6675)


@pytest.fixture()
def centre(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Centre]:
    users = [("op", "operator", None), ("admin1", "admin", None), ("staff_a", "grid_staff", COMMUNITY_A),
             *((f"viewer{n}", "operator", None) for n in range(1, 4))]
    with live_centre(tmp_path / "data", redis_server.url, users) as centre:
        yield centre


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A real PNG header of 1.6 gigapixels (a few hundred bytes): decoding it would need ~1.6 GB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * (width + 1))  # the first row; the rest would follow
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _in_progress_case(centre: Centre) -> str:
    router = GridRouter(centre.repo.list_grids())
    case_id = CaseService(centre.repo.engine, router, centre.settings.cases).report(
        "0503", *IN_A1, Actor("13800000000", Role.OPERATOR), source="phone").case_id
    work = Casework(centre.repo.engine, router)
    op = Actor("op", Role.OPERATOR)
    work.verify(case_id, op)
    work.register(case_id, op)
    work.dispatch(case_id, op, Target(grid=GRID_A1))
    return case_id


# --- request sizes (issue 14: "no request-size limit; chunked bodies on open routes are read whole") ----------

def test_every_route_refuses_a_body_over_its_limit_with_a_clear_413(centre: Centre, jpeg: Callable[..., bytes]) -> None:
    url, big = centre.url, 2 * 1024 * 1024  # over dashboard.max_request_bytes (1 MiB)
    assert centre.settings.dashboard.max_request_bytes == 1024 * 1024
    blob = b"x" * big
    answers = {
        "login": requests.post(f"{url}login", data={"username": "op", "password": "x" * big}, timeout=30),
        "telemetry": requests.post(f"{url}api/telemetry/car-1", data=blob, timeout=30,
                                   headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}),
        "open311": requests.post(f"{url}open311/v2/requests.json", data={"description": "x" * big}, timeout=30),
        "status": requests.post(f"{url}api/vehicles/car-1/status", data=blob, timeout=30,
                                headers={"Authorization": f"Bearer {TOKEN}"}),
        "dash (anonymous)": requests.post(f"{url}_dash-update-component", data=blob, timeout=30,
                                          headers={"Content-Type": "application/json"}),
    }
    for route, answer in answers.items():
        assert answer.status_code == 413, (route, answer.status_code, answer.text[:200])
        assert "accepts at most 1048576 bytes" in answer.text, route
    assert answers["telemetry"].json()["error"].startswith("The request body is 2097152 bytes")

    # A chunked body (no Content-Length) is cut off the same way, here from a logged-in operator.
    op = centre.session("op")

    def chunks() -> Iterator[bytes]:
        for _ in range(48):
            yield b"y" * 65536  # 3 MiB in all

    chunked = op.post(f"{url}api/cases/nope/verify", data=chunks(), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413 and "accepts at most" in chunked.json()["error"]

    # A photo route takes a photo's worth, but only from who may send one there.
    five_mb = b"z" * (5 * 1024 * 1024)
    anonymous_photo = requests.post(f"{url}api/cases/nope/handle", files={"photo": ("a.jpg", five_mb)}, timeout=30)
    assert anonymous_photo.status_code == 413
    staff_photo = centre.session("staff_a").post(f"{url}api/cases/nope/handle", files={"photo": ("a.jpg", five_mb)},
                                                 timeout=30)
    assert staff_photo.status_code == 404, staff_photo.text[:200]  # past the limit: the case does not exist
    report: dict[str, Any] = {"vehicle_id": "car-1", "category": "0503", "lat": IN_A1[0], "lon": IN_A1[1],
              "photo": {"filename": "a.jpg", "data_base64": base64.b64encode(jpeg("bus.jpg", 320)).decode()},
              "note": "n" * (2 * 1024 * 1024)}  # a 2 MiB note beside a photo: within a report's limit
    filed = requests.post(f"{url}api/reports", json=report, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=30)
    assert filed.status_code != 413, filed.text[:200]
    # The server is still fine.
    assert op.get(f"{url}api/me", timeout=10).status_code == 200


# --- photos (issue 14: "decoded without a pixel limit; photos written before the action is accepted") -----------

def test_a_decompression_bomb_is_refused_from_its_header_everywhere(centre: Centre, shared_dir: Path) -> None:
    bomb = png_bomb()
    assert len(bomb) < 100_000
    with pytest.raises(PhotoError, match="megapixels") as refused:
        check_photo(bomb)  # decoding it would need 1.6 GB: only the header is read
    assert refused.value.status == 413
    assert check_photo((shared_dir / "images" / "bus.jpg").read_bytes()).ext == "jpg"
    assert 40_000 * 40_000 > MAX_PHOTO_PIXELS
    with pytest.raises(PhotoError, match="9000 x 9000 pixels; at most 50 megapixels"):  # under Pillow's own limit
        check_photo(png_bomb(9000, 9000))

    case_id = _in_progress_case(centre)
    staff = centre.session("staff_a")
    assert staff.post(f"{centre.url}api/cases/{case_id}/start", json={}, timeout=30).status_code == 200
    handled = staff.post(f"{centre.url}api/cases/{case_id}/handle", data={"note": "cleared"},
                         files={"photo": ("after.png", bomb, "image/png")}, timeout=30)
    assert handled.status_code == 413 and "megapixels" in handled.json()["error"]
    report: dict[str, Any] = {"source": "phone", "category": "0507", "lat": IN_A1[0], "lon": IN_A1[1],
              "photo": {"filename": "x.png", "data_base64": base64.b64encode(bomb).decode()}}
    op = centre.session("op")
    before = op.get(f"{centre.url}api/cases?limit=100", timeout=30).json()["total"]
    filed = op.post(f"{centre.url}api/reports", json=report, timeout=30)
    assert filed.status_code == 413 and "megapixels" in filed.json()["error"]
    assert op.get(f"{centre.url}api/cases?limit=100", timeout=30).json()["total"] == before
    with pytest.raises(staff_queries.UploadError, match="megapixels"):
        staff_queries.upload_photo("data:image/png;base64," + base64.b64encode(bomb).decode())
    assert centre.files("feedback") == [] and centre.files("reports") == []
    detail = op.get(f"{centre.url}api/cases/{case_id}", timeout=30).json()["case"]
    assert detail["status"] == "in_progress" and detail["feedback_photo_url"] is None


def test_a_photo_is_stored_only_once_its_action_is_accepted(centre: Centre, jpeg: Callable[..., bytes]) -> None:
    case_id = _in_progress_case(centre)  # dispatched, not started: 'handle' is not allowed yet
    photo = jpeg("bus.jpg", 320)
    staff = centre.session("staff_a")
    refused = staff.post(f"{centre.url}api/cases/{case_id}/handle", data={"note": "cleared"},
                         files={"photo": ("after.jpg", photo, "image/jpeg")}, timeout=30)
    assert refused.status_code == 409, refused.text[:200]
    assert centre.files("feedback") == []  # refused: nothing left on disk

    router = GridRouter(centre.repo.list_grids())
    work = Casework(centre.repo.engine, router)
    data_url = "data:image/jpeg;base64," + base64.b64encode(photo).decode()
    with pytest.raises(Exception, match="handle"):  # the staff page's way, refused by the workflow
        staff_queries.feedback(work, centre.settings.media_dir, case_id, Actor("staff_a", Role.GRID_STAFF,
                                                                               COMMUNITY_A), "cleared", data_url)
    assert centre.files("feedback") == []

    assert staff.post(f"{centre.url}api/cases/{case_id}/start", json={}, timeout=30).status_code == 200
    accepted = staff.post(f"{centre.url}api/cases/{case_id}/handle", data={"note": "cleared"},
                          files={"photo": ("after.jpg", photo, "image/jpeg")}, timeout=30)
    assert accepted.status_code == 200, accepted.text[:200]
    [stored] = centre.files("feedback")
    assert stored.read_bytes() == photo and not stored.name.startswith(".")
    assert accepted.json()["feedback_photo_url"] == "/media/" + stored.relative_to(centre.settings.media_dir).as_posix()
    assert accepted.json()["status"] == Status.HANDLED


# --- live streams (issue 14: "16 MJPEG viewers take every WSGI thread") ------------------------------------------

def _publish_camera(redis_url: str, camera_id: str, preview: bytes) -> None:
    client = redis.Redis.from_url(redis_url)
    state = CameraState(camera_id, camera_id, CameraStatus.ONLINE, fps=5.0, frames=1, dropped=0,
                        last_frame_at=datetime.now(UTC))
    client.hset(keys.camera_state(camera_id), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
    client.sadd(keys.CAMERA_INDEX, camera_id)
    client.set(keys.camera_preview(camera_id), preview, px=600_000)
    client.close()


def test_sixteen_viewers_never_freeze_the_dashboard(
    centre: Centre, redis_server: EmbeddedRedis, jpeg: Callable[..., bytes]
) -> None:
    board = centre.settings.dashboard
    assert (board.max_streams_per_user, board.max_streams) == (4, 8)
    _publish_camera(redis_server.url, "cam-1", jpeg("bus.jpg", 320))
    sessions = [centre.session(name) for name in ("op", "viewer1", "viewer2", "viewer3")]
    open_streams: list[tuple[requests.Response, Iterator[bytes]]] = []

    def watch(s: requests.Session) -> requests.Response:
        r = s.get(f"{centre.url}video/cam-1.mjpg", stream=True, timeout=30)
        if r.status_code == 200:
            reading = r.iter_content(1024)
            assert next(reading)  # the stream runs: it holds a server thread now
            # Kept: a dropped chunked-body iterator closes its connection (urllib3), ending the stream.
            open_streams.append((r, reading))
        return r

    try:
        # One user: 4 streams, the fifth is refused.
        assert [watch(sessions[0]).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
        # Sixteen viewers in all: 8 streams at most, the rest 429 with a message; the pages keep answering.
        codes = [watch(sessions[1 + i % 3]).status_code for i in range(11)]
        assert len(open_streams) == 8 and codes.count(429) == 7
        refused = sessions[3].get(f"{centre.url}video/cam-1.mjpg", timeout=30)
        assert refused.status_code == 429 and "Too many live videos" in refused.json()["error"]
        assert refused.headers["Retry-After"] == "5"
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(f"{centre.url}healthz", timeout=10).status_code in (200, 503)
            assert requests.get(f"{centre.url}login", timeout=10).status_code == 200
            assert sessions[0].get(f"{centre.url}api/me", timeout=10).status_code == 200
            assert time.monotonic() - started < 10
        # A viewer who closes a stream gets the slot back.
        first, _ = open_streams.pop(0)
        first.close()
        deadline = time.monotonic() + 20
        while True:
            again = sessions[0].get(f"{centre.url}video/cam-1.mjpg", stream=True, timeout=30)
            if again.status_code == 200:
                open_streams.append((again, iter(())))
                break
            again.close()
            assert time.monotonic() < deadline, "the closed stream's slot was never given back"
            time.sleep(0.3)
    finally:
        for r, _ in open_streams:
            r.close()


def test_viewer_slots_count_per_user_and_in_total() -> None:
    from dashboard.mjpeg import ViewerSlots

    slots = ViewerSlots(per_user=2, total=3)
    a1, a2 = slots.take("a"), slots.take("a")
    assert a1 and a2 and slots.take("a") is None
    b1 = slots.take("b")
    assert b1 and slots.take("c") is None and slots.in_use == 3
    a1()
    a1()  # twice is once
    assert slots.in_use == 2 and slots.take("c") is not None
