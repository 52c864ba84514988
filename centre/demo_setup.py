"""The demo of ``gridwatch run``: the demo car's RTSP stream and lap, its simulated GPS, its place in the camera
registry, its device token, and the demo users (published passwords) that exist only while the demo runs."""
from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path

from pydantic import SecretStr

from alerts.repository import Repository
from alerts.users import UserStore
from demo.driveby import frame_count, scene_photo, write_lap_clip
from demo.lap import DemoLap, make_lap
from demo.server import RtspTestServer
from demo.simulate_car import CarSimulator, http_sender
from geo.routes import ROUTE_EPOCH, register_route, route
from gridwatch.lifecycle import Lifecycle
from gridwatch.secrets import SecretUrl
from gridwatch.settings import CameraSettings, Settings
from gridwatch.settings.cameras import CameraVisionSettings
from gridwatch.settings.paths import SHARED_DIR

log = logging.getLogger(__name__)


DEMO_CAMERA_ID = "demo-car"
DEMO_LAP_ROUTE = "demo-lap"  # the demo car's timed route (demo.lap), registered while the demo runs
DEMO_CLIP_VERSION = 1  # bump when the lap clip's recipe changes, so a cached clip is made again


def demo_lap(settings: Settings) -> tuple[DemoLap, Path]:
    """The demo car's lap (GPS schedule) and its clip: street footage + the park drive-by, made once, then reused."""
    photo, spec = scene_photo(settings.demo.scene, SHARED_DIR / "images")
    lap = make_lap(settings.demo.lap_seconds, spec.fps, frame_count(spec))
    street = settings.demo.street_video
    if not street.is_file():
        raise FileNotFoundError(f"demo.street_video not found: {street}")
    stat = street.stat()
    recipe = f"{DEMO_CLIP_VERSION}|{street.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{spec}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    out = settings.data_dir / "demo" / f"lap-{settings.demo.scene}-{lap.frames}f-{lap.pass_start}-{key}.mp4"
    if not out.exists():
        log.info("making the demo lap clip %s (once; about a minute)", out)
        tmp = out.with_suffix(".part.mp4")
        write_lap_clip(photo, spec, street, tmp, lap.frames, lap.pass_start)
        tmp.replace(out)  # a half-written clip is never taken for a finished one
    return lap, out


def start_demo_camera(settings: Settings, life: Lifecycle) -> Settings:
    """Start the local RTSP server with the demo car's stream and add the car to the cameras.

    Without demo.video the stream is the demo lap, played on the wall clock from the route epoch, and the car's
    GPS is the lap's timed route (registered as ``DEMO_LAP_ROUTE``): the park is always seen at the same place.
    """
    port = settings.demo.rtsp_port or None
    if settings.demo.video is not None:
        server = RtspTestServer(settings.demo.video, port=port, mount="/demo-car").start()
        gps_route = settings.demo.gps_route
    else:
        lap, video = demo_lap(settings)
        register_route(DEMO_LAP_ROUTE, lap.route)
        server = RtspTestServer(video, port=port, mount="/demo-car", epoch=ROUTE_EPOCH.timestamp()).start()
        gps_route = DEMO_LAP_ROUTE
        log.info("demo car: a %.0f s lap, passing the park %.1f-%.1f s into each lap", lap.lap_seconds,
                 lap.pass_start / lap.fps, lap.pass_end / lap.fps)
    life.started(f"demo RTSP server {server.url}", server.stop)
    car = CameraSettings(
        id=DEMO_CAMERA_ID, name="巡逻车 豫A·G2024 (demo)", url=SecretUrl(server.url), gps_route=gps_route,
        # The park's people sit on walls and chairs by their tents: the demo car opts into "seated".
        vision=CameraVisionSettings(vagrant_postures=settings.demo.vagrant_postures),
    )
    return settings.model_copy(update={"cameras": (*settings.cameras, car)})


def demo_car_changes(stored: CameraSettings, car: CameraSettings) -> dict[str, object]:
    """The registry's demo car follows this run's stream and route; a registry from before the demo opted into
    seated gets the demo's postures (set ones, the operator's edit, stay)."""
    changes: dict[str, object] = {"url": car.url.get_secret_value(), "gps_route": car.gps_route}
    if stored.vision.vagrant_postures is None:
        changes["vision"] = stored.vision.model_copy(update={"vagrant_postures": car.vision.vagrant_postures})
    return changes


def start_demo_telemetry(settings: Settings, dashboard_url: str, life: Lifecycle) -> None:
    """The demo car reports its GPS like a real one (HTTP telemetry), so the wall shows it on the map and its
    coverage; it drives the same route as its camera's frames, from the same epoch, so both agree."""
    name = next(c.gps_route for c in settings.cameras if c.id == DEMO_CAMERA_ID) or settings.demo.gps_route
    token = settings.auth.device_token.get_secret_value() if settings.auth.device_token else None
    car = CarSimulator(route(name), http_sender(dashboard_url, DEMO_CAMERA_ID, token=token),
                       rate_hz=1.0, vehicle_id=DEMO_CAMERA_ID).start()
    life.started(f"demo car telemetry ({name})", car.stop)


def with_demo_device_token(settings: Settings) -> Settings:
    """The demo car posts its GPS like a real one; with no auth.device_token it gets a token made for this run
    (the car routes stay closed to everybody else)."""
    if not settings.demo.enabled or settings.auth.device_token is not None:
        return settings
    auth = settings.auth.model_copy(update={"device_token": SecretStr(secrets.token_urlsafe(32))})
    return settings.model_copy(update={"auth": auth})


def demo_users(settings: Settings, repo: Repository, life: Lifecycle) -> None:
    """The demo users (published passwords) exist only while ``gridwatch run`` runs the demo: added at its
    start, removed when it stops, and removed by any start without the demo."""
    store = UserStore(repo.engine)
    if not settings.demo.enabled:
        remove_demo_users(repo)
        return
    added = store.seed_demo()
    if added:
        log.info("demo users added: %s (passwords in the README; removed when the demo stops)", ", ".join(added))
    life.started("demo users", lambda: remove_demo_users(repo))


def remove_demo_users(repo: Repository) -> None:
    removed = UserStore(repo.engine).remove_demo()
    if removed:
        log.warning("demo users removed (their passwords are published): %s", ", ".join(removed))
