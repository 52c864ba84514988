"""The patrol car's settings: one strict pydantic tree read from a TOML file (``python -m patrol run -c car.toml``).

Unknown keys are refused (``extra='forbid'``) and every field is described, so a typo in the car's file is
reported by name instead of being silently ignored. Passwords inside URLs (camera, relay, command centre)
are ``SecretUrl``: masked in logs, reprs and errors.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gridwatch.protocol import VEHICLE_ID_PATTERN
from gridwatch.secrets import SecretUrl, mask_url
from gridwatch.settings import load_toml_model

CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class PatrolSettingsError(ValueError):
    """The car's settings file is missing, not TOML, or has a wrong key; the message names the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiveSettings(Strict):
    """What goes over the mobile link live. Local recording always keeps the camera's full quality."""

    mode: Literal["copy", "substream", "auto"] = Field(
        default="copy",
        description="copy: the camera's H.264 as it comes (no re-encoding, no quality loss); substream: a "
        "smaller re-encoded stream (width, bitrate_kbps) for a thin link; auto: copy while the camera's own "
        "bitrate is within bitrate_kbps, else the substream (decided at each connection).",
    )
    width: int = Field(
        default=640, ge=64, le=4096, description="Substream width in pixels (height keeps the aspect ratio)."
    )
    fps: float | None = Field(
        default=None, gt=0, le=60, description="Substream frame rate; unset = the camera's own."
    )
    bitrate_kbps: int = Field(
        default=600, ge=32, le=50_000,
        description="Bitrate cap of the live stream (kbit/s): the substream encoder's target and VBV maximum; "
        "in auto mode, the camera bitrate above which the substream is sent.",
    )
    keyframe_seconds: float = Field(
        default=1.0, gt=0, le=10,
        description="Substream keyframe interval: a viewer or a reconnect waits at most this long for a picture.",
    )


class CameraFeed(Strict):
    """One camera of the car."""

    id: str = Field(pattern=CAMERA_ID_PATTERN, description="Camera id within the car, e.g. front (lowercase).")
    source: SecretUrl = Field(
        description="Where the video comes from: an IP camera's rtsp:// URL, a USB device such as /dev/video0, "
        "or a video file (tests, demos)."
    )
    kind: Literal["auto", "rtsp", "v4l2", "file"] = Field(
        default="auto",
        description="Source kind; auto: rtsp(s):// = rtsp, /dev/video* = v4l2 (USB), anything else = file.",
    )
    enabled: bool = Field(default=True, description="A disabled camera is neither recorded nor published.")
    loop: bool = Field(default=True, description="A file source starts again at its end (demo and tests).")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        default="tcp", description="Transport used to read an rtsp:// camera (tcp survives lossy links)."
    )
    v4l2_input_format: str | None = Field(
        default=None,
        description="USB camera pixel format asked of the driver, e.g. h264 or mjpeg; unset = the driver's default.",
    )
    v4l2_size: str | None = Field(
        default=None, pattern=r"^\d+x\d+$", description="USB camera picture size, e.g. 1280x720; unset = default."
    )
    v4l2_fps: float | None = Field(default=None, gt=0, le=120, description="USB camera frame rate; unset = default.")
    publish_path: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*$",
        description="Path on the relay; unset = <vehicle_id>/<camera id>.",
    )
    live: LiveSettings | None = Field(
        default=None, description="This camera's live stream settings; unset = the car's [live] table."
    )
    detect_source: SecretUrl | None = Field(
        default=None,
        description="The camera's own detection sub-stream (e.g. its 640x360 rtsp:// stream): published as it comes "
        "beside the main stream, at <publish path>-detect, for the command centre's detect_url.",
    )
    detect_encode: bool = Field(
        default=False,
        description="A camera without a sub-stream of its own: the car encodes a detection stream detect_width "
        "wide from the main stream and publishes it at <publish path>-detect (costs the car one decode + encode).",
    )
    detect_width: int = Field(
        default=640, ge=64, le=4096, description="Width of the detection stream detect_encode makes."
    )

    @model_validator(mode="after")
    def _one_detection_stream(self) -> CameraFeed:
        if self.detect_source is not None and self.detect_encode:
            raise ValueError("detect_source and detect_encode exclude each other: the camera has its own "
                             "sub-stream, or the car encodes one")
        return self

    def resolved_kind(self) -> Literal["rtsp", "v4l2", "file"]:
        if self.kind != "auto":
            return self.kind
        src = self.source.get_secret_value()
        if src.lower().startswith(("rtsp://", "rtsps://")):
            return "rtsp"
        if src.startswith("/dev/video"):
            return "v4l2"
        return "file"


class GpsSettings(Strict):
    """Where the car's position comes from."""

    source: Literal["simulated", "nmea", "gpsd", "none"] = Field(
        default="simulated",
        description="simulated: drive a named route (demo, tests); nmea: a serial NMEA receiver (or "
        "tcp://host:port NMEA stream); gpsd: a gpsd daemon; none: no position.",
    )
    route: str = Field(default="jinshui-demo", description="Simulated route name (geo.routes.ROUTES).")
    speed_mps: float = Field(default=8.0, gt=0, le=70, description="Simulated car speed, metres per second.")
    device: str = Field(
        default="/dev/ttyUSB0",
        description="NMEA receiver: a serial device such as /dev/ttyUSB0 or /dev/ttyACM0, or tcp://host:port.",
    )
    baudrate: int = Field(default=9600, description="Serial speed of the NMEA receiver (4800 ... 115200).")
    gpsd_host: str = Field(default="127.0.0.1", description="Host of the gpsd daemon.")
    gpsd_port: int = Field(default=2947, ge=1, le=65535, description="Port of the gpsd daemon.")
    interval_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="Keep at most one fix per this many seconds (a 10 Hz receiver would flood the link).",
    )
    reconnect_seconds: float = Field(
        default=2.0, gt=0, le=60, description="Wait before reopening a receiver that failed or was unplugged."
    )

    @field_validator("baudrate")
    @classmethod
    def _standard_baud(cls, v: int) -> int:
        if v not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800):
            raise ValueError(f"{v} is not a standard serial speed (4800, 9600, 38400, 115200 ...)")
        return v


class UplinkSettings(Strict):
    """How the car talks to the command centre over its mobile link."""

    batch_seconds: float = Field(
        default=2.0, gt=0, le=300, description="GPS fixes are posted in one batch every this many seconds."
    )
    batch_max: int = Field(
        default=500, ge=1, le=1000, description="Most fixes per POST (the receiver accepts up to 1000)."
    )
    retry_seconds: float = Field(
        default=2.0, gt=0, le=60,
        description="After a failed send or publish, try again this soon: it bounds how long the car stays "
        "dark after the link has come back.",
    )
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=120, description="Timeout of one HTTP request.")
    rtsp_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Timeout to connect to the relay and of its socket I/O."
    )


class RecordingSettings(Strict):
    """Local recording: short MP4 segments kept on the car's disk, whatever the link does."""

    segment_dir: Path = Field(description="Folder of the local segments (one subfolder per camera).")
    segment_seconds: float = Field(
        default=10.0, ge=0.5, le=600,
        description="Length of one segment; cut at the first keyframe after it (a fetched gap is this coarse).",
    )
    disk_cap_mb: float = Field(
        gt=0, description="Most megabytes the segments may use; above it the oldest are deleted and counted."
    )


class SegmentsApiSettings(Strict):
    """The car's small HTTP server: health, and recorded segments for the command centre to fetch."""

    enabled: bool = Field(default=True, description="Serve the car's health and segments over HTTP.")
    host: str = Field(
        default="127.0.0.1",
        description="Listen address; the address of the car's VPN interface for the command centre to reach it.",
    )
    port: int = Field(default=8090, ge=0, le=65535, description="Listen port (0 = any free port).")
    token: SecretStr | None = Field(
        default=None,
        description="If set, segment requests must carry 'Authorization: Bearer <token>' (health stays open).",
    )


class PatrolSettings(Strict):
    """Everything the car's agent needs: who is in the car, its cameras, GPS, and where the command centre is."""

    vehicle_id: str = Field(pattern=VEHICLE_ID_PATTERN, description="The car's id, e.g. its plate: zz-a1234.")
    crew: tuple[str, ...] = Field(default=(), description="Crew members on board (names or staff numbers).")
    shift: str = Field(default="", description="Shift label, e.g. 2026-11-24-day.")
    cameras: tuple[CameraFeed, ...] = Field(default=(), description="The car's cameras ([[cameras]] tables).")
    relay_url: SecretUrl = Field(
        description="RTSP base URL of the command centre's media relay; each camera publishes to "
        "<relay_url>/<vehicle_id>/<camera id>. Credentials inside it are never shown."
    )
    relay_transport: Literal["tcp", "udp"] = Field(
        default="tcp", description="Transport of the RTSP publish (MediaMTX takes both; some relays only udp)."
    )
    centre_url: SecretUrl = Field(
        description="HTTP base URL of the command centre: fixes go to <centre_url>/api/telemetry/<vehicle_id>, "
        "reports to <centre_url>/api/reports, crew status to <centre_url>/api/vehicles/<vehicle_id>/status."
    )
    centre_token: SecretStr | None = Field(
        default=None,
        description="The command centre's device token (its auth.device_token), sent as 'Authorization: Bearer' "
        "with fixes, reports and crew status; never shown.",
    )
    state_dir: Path = Field(
        description="Folder of the car's local queue (SQLite: GPS backlog, reports, crew status, photos)."
    )
    recording: RecordingSettings = Field(description="Local segments and their disk cap.")
    live: LiveSettings = Field(default_factory=LiveSettings, description="Live stream settings (bitrate cap).")
    gps: GpsSettings = Field(default_factory=GpsSettings, description="The car's GPS receiver.")
    uplink: UplinkSettings = Field(default_factory=UplinkSettings, description="Batching and retry timing.")
    segments_api: SegmentsApiSettings = Field(
        default_factory=SegmentsApiSettings, description="The car's HTTP server for health and segments."
    )

    @field_validator("relay_url")
    @classmethod
    def _rtsp(cls, v: SecretUrl) -> SecretUrl:
        if not v.get_secret_value().lower().startswith(("rtsp://", "rtsps://")):
            raise ValueError(f"{v.masked} is not an rtsp:// URL")
        return v

    @field_validator("centre_url")
    @classmethod
    def _http(cls, v: SecretUrl) -> SecretUrl:
        if not v.get_secret_value().lower().startswith(("http://", "https://")):
            raise ValueError(f"{v.masked} is not an http(s):// URL")
        return v

    @model_validator(mode="after")
    def _unique_cameras(self) -> PatrolSettings:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera ids must be unique; repeated: {', '.join(dupes)}")
        return self

    def live_for(self, camera: CameraFeed) -> LiveSettings:
        return camera.live if camera.live is not None else self.live

    def publish_url(self, camera: CameraFeed) -> str:
        """The full RTSP URL (with its password) a camera publishes to; log ``mask_url`` of it, never it."""
        path = camera.publish_path or f"{self.vehicle_id}/{camera.id}"
        return f"{self.relay_url.get_secret_value().rstrip('/')}/{path}"

    def detect_publish_url(self, camera: CameraFeed) -> str:
        """Where a camera's detection stream goes: its publish URL + ``-detect``."""
        return f"{self.publish_url(camera)}-detect"

    def centre_endpoint(self, path: str) -> str:
        return f"{self.centre_url.get_secret_value().rstrip('/')}/{path.lstrip('/')}"

    @property
    def centre_masked(self) -> str:
        return mask_url(self.centre_url.get_secret_value())


def load_patrol_settings(path: Path | str | None = None, **overrides: Any) -> PatrolSettings:
    """Read the car's TOML file (plus keyword overrides, for tests); PatrolSettingsError naming the key if wrong."""
    return load_toml_model(PatrolSettings, path, overrides, PatrolSettingsError, "patrol settings")
