"""Cameras: each camera's id, name and stream URLs, its fixed position or GPS route, and its own vision (moving
or fixed, image zones, per-camera rule thresholds, view direction)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gridwatch.secrets import SecretUrl
from gridwatch.settings.base import Polygon, Strict, check_polygons


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
        return check_polygons(v, "image zone", (0.0, 1.0), (0.0, 1.0))


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
