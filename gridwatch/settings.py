"""One strict settings tree: read once from a TOML file plus GRIDWATCH_* environment variables, then passed down.

Unknown keys are rejected (``extra='forbid'``) and every field is described, so ``gridwatch check-config``
can tell an admin exactly which key is wrong.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gridwatch.categories import CATEGORIES
from gridwatch.secrets import SecretUrl

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
DEFAULT_MODEL = SHARED_DIR / "models" / "yolo11n_int8_openvino_model"
DEFAULT_DEMO_VIDEO = SHARED_DIR / "video" / "towncentre_street_pedestrians_1080p.mp4"
DEMO_GRIDS = REPO_ROOT / "alerts" / "data" / "demo_grids.geojson"


class SettingsError(ValueError):
    """A settings file or variable is wrong; the message names the key and what is wrong with it."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Stable camera id (lowercase, digits, - _).")
    name: str = Field(description="Name shown to operators, e.g. the car's plate or the street.")
    url: SecretUrl = Field(description="RTSP URL of the stream; credentials inside it are never shown.")
    enabled: bool = Field(default=True, description="A disabled camera is listed but not read.")
    gps_route: str | None = Field(
        default=None,
        description="Name of a simulated GPS route (demo and tests) that gives each frame its position.",
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Fixed camera position, latitude WGS-84.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Fixed camera position, longitude.")


class IngestSettings(Strict):
    detect_fps: float = Field(default=5.0, gt=0, le=60, description="Frames per second handed to vision.")
    stall_seconds: float = Field(default=5.0, gt=0, description="No frame for this long = camera stalled.")
    reconnect_max_seconds: float = Field(default=10.0, gt=0, description="Cap of the reconnect backoff.")
    open_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout to open an RTSP stream.")
    rtsp_transport: str = Field(default="tcp", pattern="^(tcp|udp)$", description="RTSP transport.")


class VisionSettings(Strict):
    model: str = Field(
        default=str(DEFAULT_MODEL),
        description="Anything Ultralytics loads: a .pt/.onnx file, an OpenVINO folder, an engine, a Triton URL.",
    )
    imgsz: int = Field(default=640, ge=32, le=4096, description="Inference size in pixels.")
    confidence: float = Field(default=0.35, gt=0, lt=1, description="Minimum detection confidence.")
    device: str = Field(default="cpu", description="Ultralytics device string: cpu, 0, cuda:0 ...")
    tracker: str = Field(default="bytetrack.yaml", description="Ultralytics tracker config name or path.")


class RulesSettings(Strict):
    dwell_seconds: float = Field(
        default=3.0, gt=0, description="A person in view this long raises an alert (the skeleton's rule)."
    )
    dwell_category: str = Field(default="0502", description="Category code the dwell rule reports.")
    min_box_height: float = Field(default=40.0, ge=0, description="Ignore persons smaller than this (pixels).")

    @field_validator("dwell_category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category code {v!r}; known: {', '.join(CATEGORIES)}")
        return v


class DashboardSettings(Strict):
    host: str = Field(default="127.0.0.1", description="Address the wall's web server binds.")
    port: int = Field(default=8050, ge=1, le=65535, description="Port of the wall and JSON API.")
    ws_port: int = Field(default=8051, ge=0, le=65535, description="Port of the push websocket (0 = any free).")
    title: str = Field(default="GridWatch 网格指挥中心", description="Title on the wall.")


class DemoSettings(Strict):
    enabled: bool = Field(default=True, description="Start a local RTSP server and a demo patrol car.")
    video: Path = Field(default=DEFAULT_DEMO_VIDEO, description="Clip the demo RTSP server loops.")
    rtsp_port: int = Field(default=8554, ge=0, le=65535, description="Port of the demo RTSP server (0 = free).")
    gps_route: str = Field(default="jinshui-demo", description="Simulated route the demo car drives.")


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
        description="Redis URL; unset = GridWatch starts a private redis-server on a free port.",
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


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"invalid settings in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not a GridWatch setting)"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read settings from a TOML file (optional) and the environment; raise SettingsError naming the key."""
    data: dict[str, Any] = {}
    source = "environment"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {p} is not valid TOML: {exc}") from None
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, source)) from None
