"""The car's settings file, its HTTP API for segments, and the crew commands, without video."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridwatch.settings import REPO_ROOT
from patrol.crew import REPORT_KIND, STATUS_KIND
from patrol.segments import SegmentRecorder, SegmentStore, parse_stamp, stamp
from patrol.segments_api import SegmentsApi
from patrol.settings import CameraFeed, PatrolSettingsError, SegmentsApiSettings, load_patrol_settings
from patrol.source import CameraSource
from patrol.store import CarStore

BASE = {"vehicle_id": "zz-a1234", "relay_url": "rtsp://car:s3cret@centre.example:8554",
        "centre_url": "https://centre.example", "state_dir": "/tmp/x", "recording": {"segment_dir": "/tmp/y",
                                                                                       "disk_cap_mb": 100}}


def test_settings_refuse_unknown_keys_by_name_and_never_show_passwords(tmp_path: Path) -> None:
    car = tmp_path / "car.toml"
    car.write_text('vehicle_id = "zz-a1234"\nrelay_url = "rtsp://car:s3cret@centre:8554"\n'
                   'centre_url = "http://centre"\nstate_dir = "s"\n[recording]\nsegment_dir = "g"\n'
                   'disk_cap_mb = 10\ndisk_cap_gb = 1\n[[cameras]]\nid = "front"\nsource = "rtsp://u:camPW@10.0.0.5/x"\n')
    with pytest.raises(PatrolSettingsError) as err:
        load_patrol_settings(car)
    assert "recording.disk_cap_gb: unknown key" in str(err.value)
    car.write_text(car.read_text().replace("disk_cap_gb = 1\n", ""))
    s = load_patrol_settings(car)
    assert "s3cret" not in repr(s) and "camPW" not in repr(s)
    assert s.publish_url(s.cameras[0]) == "rtsp://car:s3cret@centre:8554/zz-a1234/front"
    assert s.cameras[0].resolved_kind() == "rtsp"
    with pytest.raises(PatrolSettingsError, match="relay_url: .*car:\\*\\*\\*@centre.*is not an rtsp:// URL"):
        load_patrol_settings(None, **{**BASE, "relay_url": "http://car:s3cret@centre"})


def test_segments_api_lists_by_time_range_serves_files_and_checks_token(tmp_path: Path, car_clip: Path) -> None:
    store = SegmentStore(tmp_path / "seg", cap_bytes=10**9)
    t0 = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC).timestamp()
    for i in range(3):
        shutil.copyfile(car_clip, store.camera_dir("front") / f"{stamp(t0 + 10 * i)}_{stamp(t0 + 10 * i + 10)}.mp4")
    api_settings = SegmentsApiSettings.model_validate({"port": 0, "token": "tok"})
    api = SegmentsApi(api_settings, store, lambda: {"ok": True}).start()
    try:
        def get(path: str, token: str | None = "tok") -> tuple[int, bytes]:
            req = urllib.request.Request(api.url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        status, body = get("/api/segments?camera=front&start=2026-11-24T08:00:12Z&end=2026-11-24T16:00:25%2B08:00")
        listed = json.loads(body)["segments"]
        assert status == 200 and [s["start"] for s in listed] == ["2026-11-24T08:00:10+00:00",
                                                                     "2026-11-24T08:00:20+00:00"]
        status, data = get(listed[0]["url"])
        assert status == 200 and data == car_clip.read_bytes()
        assert get(listed[0]["url"], token="wrong")[0] == 401
        assert get("/api/segments", token=None)[0] == 401
        assert get("/api/health", token=None) == (200, b'{"ok":true}\n')
        assert get("/api/segments/front/..%2F..%2Fetc%2Fpasswd")[0] == 404
        status, body = get("/api/segments?start=yesterday")
        assert status == 400 and b"not an ISO 8601 time" in body
    finally:
        api.stop()


def test_crew_commands_queue_status_and_reports_while_no_agent_runs(tmp_path: Path) -> None:
    car = tmp_path / "car.toml"
    car.write_text(f'vehicle_id = "zz-a1234"\ncrew = ["Li Wei"]\nrelay_url = "rtsp://centre:8554"\n'
                   f'centre_url = "http://127.0.0.1:9"\nstate_dir = "{tmp_path / "state"}"\n'
                   f'[recording]\nsegment_dir = "{tmp_path / "seg"}"\ndisk_cap_mb = 10\n')

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "patrol", *args, "--config", str(car)], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=60, check=False)

    assert cli("status", "--set", "off_duty").returncode == 0
    done = cli("report", "--category", "0507", "--note", "bricks on the road", "--lat", "34.78", "--lon", "113.68")
    assert done.returncode == 0 and "queued (0507 materials piled on the street, at 34.78000, 113.68000)" in done.stdout
    bad = cli("report", "--category", "0502", "--photo", str(tmp_path / "missing.jpg"))
    assert bad.returncode == 2 and "missing.jpg cannot be read" in bad.stderr
    shown = json.loads(cli("status", "--json").stdout)
    assert shown["running"] is False and shown["crew_status"]["status"] == "off_duty"
    assert shown["queued"] == {"fix": 0, REPORT_KIND: 1, STATUS_KIND: 1}
    store = CarStore(tmp_path / "state")
    try:
        report = store.take(REPORT_KIND, 10)[0].payload
    finally:
        store.close()
    assert (report["category"], report["note"], report["lat"], report["crew"]) == ("0507", "bricks on the road",
                                                                                   34.78, ["Li Wei"])


def test_the_example_car_file_is_valid() -> None:
    s = load_patrol_settings(REPO_ROOT / "patrol" / "car.example.toml")
    assert [c.resolved_kind() for c in s.cameras] == ["rtsp", "v4l2"]
    assert s.live_for(s.cameras[1]).mode == "substream" and s.live.mode == "auto"


def test_a_segment_cut_short_by_a_power_loss_is_recovered_at_the_next_start(tmp_path: Path, car_clip: Path) -> None:
    feed = CameraFeed.model_validate({"id": "front", "source": str(car_clip)})
    recorder = SegmentRecorder("front", SegmentStore(tmp_path / "live", 10**9), segment_seconds=60)
    stop = threading.Event()
    for n, p in enumerate(CameraSource(feed, stop).packets()):
        recorder.write(p)
        if n == 25:  # 2.5 s in, two keyframes: two fragments are on disk
            break
    part = next((tmp_path / "live" / "front").glob("*.mp4.part"))
    after_crash = SegmentStore(tmp_path / "rebooted", 10**9)
    shutil.copyfile(part, after_crash.camera_dir("front") / part.name)  # the disk as the power cut left it
    recorder.close()
    assert after_crash.recover() == 1
    [seg] = after_crash.segments()
    assert 1.0 <= (seg.end - seg.start).total_seconds() <= 2.6
    assert seg.start == parse_stamp(part.name.removesuffix(".mp4.part"))
