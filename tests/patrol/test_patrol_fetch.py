"""The command centre fetches what a car recorded during a link gap, from the car's real segment server."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from patrol.fetch import FetchError, fetch_segments
from patrol.segments import SegmentStore, stamp
from patrol.segments_api import SegmentsApi
from patrol.settings import SegmentsApiSettings

T0 = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
GRIDWATCH = Path(sys.executable).with_name("gridwatch")


@pytest.fixture()
def car_api(tmp_path: Path, car_clip: Path):  # type: ignore[no-untyped-def]
    store = SegmentStore(tmp_path / "car-segments", cap_bytes=10**9)
    for cam, n in (("front", 4), ("rear", 2)):
        for i in range(n):
            start = T0.timestamp() + 10 * i
            shutil.copyfile(car_clip, store.camera_dir(cam) / f"{stamp(start)}_{stamp(start + 10)}.mp4")
    api = SegmentsApi(SegmentsApiSettings.model_validate({"port": 0, "token": "tok"}), store, lambda: {}).start()
    yield api
    api.stop()


def test_the_gap_is_fetched_once_and_byte_for_byte(car_api: SegmentsApi, tmp_path: Path, car_clip: Path) -> None:
    out = tmp_path / "centre" / "zz-a1234"
    gap = dict(start=datetime(2026, 11, 24, 16, 0, 12, tzinfo=ZoneInfo("Asia/Shanghai")),  # 08:00:12 UTC
               end=datetime(2026, 11, 24, 8, 0, 25, tzinfo=UTC))
    got = fetch_segments(car_api.url, out, token="tok", **gap)  # type: ignore[arg-type]
    # front 08:00:10-20 and 08:00:20-30, rear 08:00:10-20 overlap the gap; the others do not.
    assert got.listed == 3 and len(got.downloaded) == 3 and got.kept == 0
    assert sorted(p.relative_to(out).parts[0] for p in got.downloaded) == ["front", "front", "rear"]
    assert all(p.read_bytes() == car_clip.read_bytes() for p in got.downloaded)
    assert not list(out.rglob("*.part"))
    again = fetch_segments(car_api.url, out, token="tok", **gap)  # type: ignore[arg-type]
    assert (len(again.downloaded), again.kept) == (0, 3)  # nothing fetched twice


def test_a_wrong_token_or_a_dead_car_is_one_clear_error(car_api: SegmentsApi, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 401"):
        fetch_segments(car_api.url, tmp_path / "out", token="wrong")
    with pytest.raises(FetchError, match="cannot be reached"):
        fetch_segments("http://127.0.0.1:9", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_gridwatch_patrol_fetch_command(car_api: SegmentsApi, tmp_path: Path) -> None:
    out = tmp_path / "fetched"
    run = subprocess.run([str(GRIDWATCH), "patrol", "fetch", "--car", car_api.url, "--token", "tok", "--camera",
                          "rear", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "2 segments in the range: 2 fetched, 0 already here" in run.stdout
    assert len(list((out / "rear").glob("*.mp4"))) == 2
    bad = subprocess.run([str(GRIDWATCH), "patrol", "fetch", "--car", car_api.url, "--out", str(out),
                          "--start", "2026-11-24 08:00"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "give the time zone" in bad.stderr


class _Server:
    """A real HTTP server on a free port that answers GETs with ``answer(path)`` and remembers what it was sent."""

    def __init__(self, answer: Callable[[str], tuple[int, dict[str, str], bytes]]) -> None:
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization header)
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                seen.append((self.path, self.headers.get("Authorization")))
                status, headers, body = answer(self.path)
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def thief() -> Iterator[_Server]:
    server = _Server(lambda path: (200, {}, b"stolen"))
    yield server
    server.close()


def _hostile_car(segment_url: str, redirect_to: str | None = None) -> _Server:
    listing = {"segments": [{"camera": "front", "start": "x", "end": "y", "bytes": 6, "url": segment_url}]}

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/api/segments?"):
            return 200, {"Content-Type": "application/json"}, json.dumps(listing).encode()
        return 302, {"Location": redirect_to or "/"}, b""

    return _Server(answer)


def test_fetch_refuses_urls_off_the_cars_own_server_and_never_sends_the_token_there(
    thief: _Server, tmp_path: Path
) -> None:
    """Issue 14: a car's listing (or redirect) must not lead the fetch to file: or another host with the token."""
    out = tmp_path / "out"
    for car_url in ("file:///etc", "ftp://127.0.0.1/x", "http:///no-host"):
        with pytest.raises(FetchError, match="--car must be the car's http:// or https:// address"):
            fetch_segments(car_url, out, token="tok")
    for listed, redirect, error in (
        ("file:///etc/seg.mp4", None, "listed a segment on another server or scheme"),
        (f"{thief.url}/api/segments/front/a.mp4", None, "listed a segment on another server or scheme"),
        ("/api/segments/front/a.mp4", f"{thief.url}/api/segments/front/a.mp4", "redirected to another server"),
    ):
        car = _hostile_car(listed, redirect)
        try:
            with pytest.raises(FetchError, match=error):
                fetch_segments(car.url, out, token="tok")
            assert car.seen[0][1] == "Bearer tok"  # the car itself gets the token
        finally:
            car.close()
    assert thief.seen == []  # the other server never heard from us, so never saw the token
    assert not list(out.rglob("*.mp4")) and not list(out.rglob("*.part"))
    run = subprocess.run([str(GRIDWATCH), "patrol", "fetch", "--car", "file:///etc", "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--car must be the car's http:// or https:// address" in run.stderr
