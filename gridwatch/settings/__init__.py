"""One strict settings tree: read once from a TOML file plus GRIDWATCH_* environment variables, then passed down.

Unknown keys are rejected (``extra='forbid'``) and every field is described, so ``gridwatch check-config``
can tell an admin exactly which key is wrong. Each section is its own module beside this one (cameras, ingest,
vision, dashboard, auth, demo, locale, worker, cases, fleet, learning); this root composes them.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gridwatch.secrets import SecretUrl
from gridwatch.settings.auth import AuthSettings
from gridwatch.settings.base import SettingsError
from gridwatch.settings.cameras import CameraSettings
from gridwatch.settings.cases import AssessmentRules, CaseSettings
from gridwatch.settings.dashboard import DashboardSettings, MapSettings
from gridwatch.settings.demo import DemoSettings
from gridwatch.settings.fleet import FleetSettings
from gridwatch.settings.ingest import IngestSettings, RecordingSettings
from gridwatch.settings.learning import LearningSettings
from gridwatch.settings.locale import LocaleSettings
from gridwatch.settings.paths import DEMO_GRIDS, REPO_ROOT
from gridwatch.settings.vision import RulesSettings, VisionSettings
from gridwatch.settings.worker import WorkerSettings


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
