"""Cameras managed at run time: the registry file, its JSON API and CLI, and live readers that follow it."""
from __future__ import annotations

import argparse
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dashboard.api import cameras
from demo.server import RtspTestServer
from gridwatch import keys as gw_keys
from gridwatch.events import camera_state_to_hash
from gridwatch.settings import IngestSettings, Settings
from gridwatch.types import CameraState, CameraStatus
from ingest.cameras_cli import register
from ingest.manager import CameraManager, forget_camera_state
from ingest.registry import CameraRegistry, RegistryError, redis_announcer
from tests.api_testing import api_app
from tests.ingest.conftest import camera, wait_for

SECRET = "pa55-w0rd"


@pytest.fixture()
def registry(tmp_path: Path) -> CameraRegistry:
    initial = [camera(f"rtsp://admin:{SECRET}@10.0.0.5:554/ch1", "gate-1"),
               camera("rtsp://10.0.0.6/ch1", "gate-2", enabled=False)]
    return CameraRegistry(tmp_path / "data" / "cameras.json", initial)


def test_registry_starts_from_the_settings_and_persists_changes(registry: CameraRegistry) -> None:
    assert [(c.id, c.enabled) for c in registry.load()] == [("gate-1", True), ("gate-2", False)]
    assert stat.S_IMODE(registry.path.stat().st_mode) == 0o600  # it holds camera passwords
    registry.add({"id": "car-9", "name": "Car 9", "url": "rtsp://relay:8554/car9"})
    registry.rename("gate-1", "North gate")
    registry.set_enabled("gate-2", True)
    registry.remove("car-9")
    again = CameraRegistry(registry.path, registry.initial)  # another process, same file
    cams = {c.id: c for c in again.load()}
    assert list(cams) == ["gate-1", "gate-2"]
    assert cams["gate-1"].name == "North gate" and cams["gate-2"].enabled
    assert cams["gate-1"].url.get_secret_value() == f"rtsp://admin:{SECRET}@10.0.0.5:554/ch1"
    # A camera removed at run time stays removed although the settings still list it; a camera added to the
    # settings later is picked up.
    again.remove("gate-2")
    later = CameraRegistry(registry.path, [*registry.initial, camera("rtsp://10.0.0.7/ch1", "gate-3")])
    assert [c.id for c in later.load()] == ["gate-1", "gate-3"]
    assert later.version() >= 6


def test_registry_refuses_bad_changes_naming_the_problem(registry: CameraRegistry) -> None:
    with pytest.raises(RegistryError, match="already exists"):
        registry.add({"id": "gate-1", "name": "x", "url": "rtsp://h/x"})
    with pytest.raises(RegistryError, match="id: String should match pattern"):
        registry.add({"id": "Bad Id!", "name": "x", "url": "rtsp://h/x"})
    with pytest.raises(RegistryError, match="url must be a stream URL"):
        registry.add({"id": "cam-x", "name": "x", "url": "not a url"})
    with pytest.raises(RegistryError, match="colour: unknown field"):
        registry.update("gate-1", {"colour": "red"})
    with pytest.raises(RegistryError, match="the id cannot change"):
        registry.update("gate-1", {"id": "gate-9"})
    with pytest.raises(RegistryError, match="no camera 'nope'"):
        registry.remove("nope")
    with pytest.raises(RegistryError, match="new name is empty"):
        registry.rename("gate-1", "  ")
    assert SECRET not in registry.path.with_name("cameras.json.lock").read_text()


def test_api_never_returns_a_password_but_accepts_one(
    registry: CameraRegistry, settings: Settings, redis_client: redis.Redis
) -> None:
    app = api_app(settings, redis_client, cameras.blueprint, cameras=registry)
    client = app.test_client()
    listing = client.get("/api/cameras/config")
    assert listing.status_code == 200 and SECRET not in listing.get_data(as_text=True)
    gate = listing.get_json()["cameras"][0]
    assert gate["url"] == "rtsp://admin:***@10.0.0.5:554/ch1" and gate["has_password"] is True
    # Add with a password: stored, never echoed.
    new = {"id": "car-5", "name": "巡逻车 5", "url": f"rtsp://ops:{SECRET}@relay:8554/car5",
           "gps_route": "jinshui-demo"}
    created = client.post("/api/cameras/config", json=new)
    assert created.status_code == 201 and SECRET not in created.get_data(as_text=True)
    assert created.get_json()["name"] == "巡逻车 5"
    assert registry.get("car-5").url.get_secret_value() == new["url"]
    assert client.post("/api/cameras/config", json=new).status_code == 409
    bad = client.post("/api/cameras/config", json={"id": "car-6", "name": "x", "url": f"ftp://u:{SECRET}@h/x"})
    assert bad.status_code == 400 and "url must be a stream URL" in bad.get_json()["error"]
    assert SECRET not in bad.get_data(as_text=True)
    assert client.post("/api/cameras/config", data="nope").status_code == 400
    # Sending the masked URL back (e.g. with a changed path) keeps the stored password.
    moved = client.patch("/api/cameras/config/gate-1", json={"url": "rtsp://admin:***@10.0.0.5:554/ch2"})
    assert moved.status_code == 200
    assert registry.get("gate-1").url.get_secret_value() == f"rtsp://admin:{SECRET}@10.0.0.5:554/ch2"
    renamed = client.patch("/api/cameras/config/gate-1", json={"name": "North gate", "enabled": False})
    assert renamed.status_code == 200 and renamed.get_json()["enabled"] is False
    assert client.patch("/api/cameras/config/nope", json={"name": "x"}).status_code == 404
    assert client.patch("/api/cameras/config/gate-1", json={"lat": 123}).status_code == 400
    assert client.delete("/api/cameras/config/car-5").get_json() == {"removed": "car-5"}
    assert client.delete("/api/cameras/config/car-5").status_code == 404


def test_masked_password_is_kept_only_for_the_same_server(
    registry: CameraRegistry, settings: Settings, redis_client: redis.Redis
) -> None:
    """Issue 14: a masked URL pointed at another host must not receive the stored password."""
    app = api_app(settings, redis_client, cameras.blueprint, cameras=registry)
    client = app.test_client()
    for elsewhere in ("rtsp://admin:***@evil.example:554/ch1",   # another host
                      "rtsp://admin:***@10.0.0.5:8554/ch1",      # another port
                      "rtsps://admin:***@10.0.0.5:554/ch1",      # another scheme
                      "http://admin:***@10.0.0.5:554/ch1"):
        refused = client.patch("/api/cameras/config/gate-1", json={"url": elsewhere})
        assert refused.status_code == 400, elsewhere
        assert "another server" in refused.get_json()["error"] and SECRET not in refused.get_data(as_text=True)
        assert registry.get("gate-1").url.get_secret_value() == f"rtsp://admin:{SECRET}@10.0.0.5:554/ch1"
    # The same server without its (default) port, in other letter case: still the same server.
    same = client.patch("/api/cameras/config/gate-1", json={"url": "RTSP://admin:***@10.0.0.5/ch3"})
    assert same.status_code == 200
    assert registry.get("gate-1").url.get_secret_value() == f"rtsp://admin:{SECRET}@10.0.0.5/ch3"
    # Another server with its own password is a plain change.
    moved = client.patch("/api/cameras/config/gate-1", json={"url": "rtsp://admin:other-pw@10.0.0.9/ch1"})
    assert moved.status_code == 200
    assert registry.get("gate-1").url.get_secret_value() == "rtsp://admin:other-pw@10.0.0.9/ch1"


def test_cli_manages_cameras_and_masks_passwords(
    settings: Settings, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(gw_keys.CAMERAS_CHANNEL)
    parser = argparse.ArgumentParser(prog="gridwatch")
    register(parser.add_subparsers(dest="command", required=True), lambda _args: settings)

    def cli(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(argv)
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("cameras", "add", "car-3", "--url", f"rtsp://u:{SECRET}@relay/car3", "--name", "Car 3")
    assert code == 0 and "added camera car-3 (rtsp://u:***@relay/car3)" in out
    assert cli("cameras", "disable", "car-3")[:2] == (0, "camera car-3 disabled\n")
    assert cli("cameras", "rename", "car-3", "Patrol 3")[0] == 0
    code, out, _ = cli("cameras", "list")
    assert "car-3" in out and "Patrol 3" in out and " no " in out and SECRET not in out
    assert cli("cameras", "enable", "car-3")[0] == 0
    code, _, err = cli("cameras", "add", "car-3", "--url", "rtsp://relay/x")
    assert code == 2 and "already exists" in err
    assert cli("cameras", "remove", "car-3")[0] == 0
    code, _, err = cli("cameras", "remove", "car-3")
    assert code == 2 and "no camera 'car-3'" in err
    assert cli("cameras", "list")[1] == "no cameras\n"
    # Each change was announced to running workers over the configured Redis (no URL in the message).
    announced = []
    deadline = time.monotonic() + 5
    while len(announced) < 5 and time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.5)  # None for the subscription's own confirmation too
        if msg is not None:
            announced.append(json.loads(msg["data"]))
    pubsub.close()
    assert [(m["op"], m["camera_id"]) for m in announced] == [
        ("added", "car-3"), ("changed", "car-3"), ("renamed", "car-3"), ("changed", "car-3"), ("removed", "car-3")]


@pytest.fixture()
def published(redis_client: redis.Redis) -> Iterator[list[CameraState]]:
    states: list[CameraState] = []

    def publish(state: CameraState) -> None:
        states.append(state)
        redis_client.hset(gw_keys.camera_state(state.camera_id), mapping=camera_state_to_hash(state))  # type: ignore[arg-type]
        redis_client.sadd(gw_keys.CAMERA_INDEX, state.camera_id)

    yield states


def test_manager_applies_changes_live_without_touching_the_other_cameras(
    rtsp_server: RtspTestServer, tmp_path: Path, redis_client: redis.Redis, published: list[CameraState]
) -> None:
    ingest = IngestSettings(decode="keyframes", detect_fps=5, stall_seconds=2, reconnect_max_seconds=2,
                            open_timeout_seconds=3)
    registry = CameraRegistry(tmp_path / "cameras.json", [camera(rtsp_server.url, "cam-a"),
                                                          camera(rtsp_server.url, "cam-b")],
                              on_change=redis_announcer(redis_client))
    # Poll once a minute: only the Redis announcement can make these changes appear within the test.
    manager = CameraManager(ingest, registry, redis_client=redis_client, on_state=lambda s: published.append(s),
                            on_removed=lambda cid: forget_camera_state(redis_client, cid), poll_seconds=60).start()
    try:
        assert sorted(manager.readers) == ["cam-a", "cam-b"]
        cam_a = manager.readers["cam-a"]
        wait_for(lambda: all(r.state().status is CameraStatus.ONLINE for r in manager.readers.values()), 15,
                 "both cameras ONLINE")
        frames_before = cam_a.state().frames
        registry.add({"id": "cam-c", "name": "C", "url": rtsp_server.url})
        wait_for(lambda: "cam-c" in manager.readers, 5, "cam-c to be started")
        wait_for(lambda: manager.readers["cam-c"].latest() is not None, 15, "a frame from cam-c")
        registry.rename("cam-a", "Camera A renamed")
        wait_for(lambda: cam_a.state().name == "Camera A renamed", 5, "the rename")
        registry.set_enabled("cam-b", False)
        wait_for(lambda: "cam-b" not in manager.readers, 10, "cam-b to stop")
        assert any(s.camera_id == "cam-b" and s.status is CameraStatus.DISABLED for s in published)
        registry.remove("cam-c")
        wait_for(lambda: "cam-c" not in manager.readers, 10, "cam-c to go")
        assert not redis_client.sismember(gw_keys.CAMERA_INDEX, "cam-c")
        assert redis_client.exists(gw_keys.camera_state("cam-c")) == 0
        # cam-a was never restarted: same reader, still online, frames kept flowing through every change.
        assert manager.readers["cam-a"] is cam_a
        wait_for(lambda: cam_a.state().frames > frames_before + 25, 5, "cam-a's frames to keep coming")
        assert cam_a.state().status is CameraStatus.ONLINE
        assert not [s for s in published if s.camera_id == "cam-a" and s.status is not CameraStatus.ONLINE
                    and s.status is not CameraStatus.STARTING]
        # A new URL restarts only that camera.
        registry.update("cam-a", {"url": rtsp_server.url + "?x=1"})
        wait_for(lambda: manager.readers.get("cam-a") is not cam_a, 10, "cam-a's restart")
        assert not cam_a.alive
        assert manager.version >= 5
    finally:
        manager.stop()
    assert dict(manager.readers) == {}


def test_manager_follows_the_file_without_redis(rtsp_server: RtspTestServer, settings: Settings,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ingest = IngestSettings(decode="keyframes", stall_seconds=2, reconnect_max_seconds=2, open_timeout_seconds=3)
    quiet = settings.model_copy(update={"redis_url": None})  # the CLI cannot reach a worker's private Redis
    manager = CameraManager(ingest, CameraRegistry.for_settings(quiet), poll_seconds=0.3).start()
    parser = argparse.ArgumentParser(prog="gridwatch")
    register(parser.add_subparsers(dest="command", required=True), lambda _args: quiet)
    try:
        assert dict(manager.readers) == {}
        args = parser.parse_args(["cameras", "add", "cli-cam", "--url", rtsp_server.url])
        assert args.func(args) == 0
        wait_for(lambda: "cli-cam" in manager.readers, 5, "the CLI's camera to start from the file")
        assert json.loads((settings.data_dir / "cameras.json").read_text())["cameras"][0]["id"] == "cli-cam"
    finally:
        manager.stop()
    capsys.readouterr()
