"""Where a camera looks and where rules apply: image zones for fixed cameras, map areas for patrol cars.

``CameraView`` is the per-camera context the rules carry in their state (built once from the settings);
the checks are pure functions of a point or a GPS fix.
"""
from __future__ import annotations

from dataclasses import dataclass

from shapely import contains_xy
from shapely.geometry import MultiPolygon, Polygon
from shapely.prepared import PreparedGeometry, prep

from geo.distance import haversine_m
from gridwatch.settings import CameraSettings, RulesSettings
from gridwatch.settings.base import Polygon as PolygonPoints
from gridwatch.types import GpsFix


def _shape(polygons: tuple[PolygonPoints, ...] | None) -> PreparedGeometry | None:
    if polygons is None:
        return None
    return prep(MultiPolygon([Polygon(p) for p in polygons]))


@dataclass(frozen=True, slots=True)
class CameraView:
    """A camera as the rules see it. Zones ``None`` mean "everywhere"."""

    camera_id: str
    mobile: bool = False
    vagrant_zones: PreparedGeometry | None = None  # normalised image coordinates
    no_vending_zones: PreparedGeometry | None = None  # normalised image coordinates
    no_vending_areas: PreparedGeometry | None = None  # lon, lat
    vagrant_dwell_seconds: float | None = None  # None = the global setting
    stall_seconds: float | None = None
    vagrant_postures: tuple[str, ...] | None = None  # None = rules.vagrant_postures

    @classmethod
    def from_settings(cls, camera: CameraSettings, rules: RulesSettings) -> CameraView:
        v = camera.vision
        mobile = v.mobile if v.mobile is not None else camera.gps_route is not None
        return cls(
            camera_id=camera.id,
            mobile=mobile,
            vagrant_zones=_shape(v.vagrant_zones),
            no_vending_zones=_shape(v.no_vending_zones),
            no_vending_areas=_shape(rules.no_vending_areas),
            vagrant_dwell_seconds=v.vagrant_dwell_seconds,
            stall_seconds=v.stall_seconds,
            vagrant_postures=v.vagrant_postures,
        )

    @classmethod
    def simple(cls, camera_id: str, mobile: bool, rules: RulesSettings) -> CameraView:
        """A camera with no zones of its own (offline analysis, tests); map areas from ``rules``."""
        return cls(camera_id=camera_id, mobile=mobile, no_vending_areas=_shape(rules.no_vending_areas))

    def dwell_seconds(self, rules: RulesSettings) -> float:
        return self.vagrant_dwell_seconds if self.vagrant_dwell_seconds is not None else rules.vagrant_dwell_seconds

    def stall_seconds_for(self, rules: RulesSettings) -> float:
        return self.stall_seconds if self.stall_seconds is not None else rules.stall_seconds

    def postures_for(self, rules: RulesSettings) -> tuple[str, ...]:
        return self.vagrant_postures if self.vagrant_postures is not None else rules.vagrant_postures


def in_image_zone(zone: PreparedGeometry | None, x: float, y: float, width: int, height: int) -> bool:
    """Is pixel (x, y) of a ``width`` x ``height`` frame inside the zone (normalised coordinates)?"""
    if zone is None:
        return True
    return bool(contains_xy(zone.context, x / width, y / height))


def in_map_area(area: PreparedGeometry | None, fix: GpsFix | None) -> bool:
    """Is the car's position inside the map area? No area = everywhere; no fix = cannot tell, so yes."""
    if area is None or fix is None:
        return True
    return bool(contains_xy(area.context, fix.lon, fix.lat))


def distance_m(a: GpsFix, b: GpsFix) -> float:
    """Great-circle distance in metres between two fixes (geo's haversine)."""
    return haversine_m(a.lat, a.lon, b.lat, b.lon)


def one_place(fixes: tuple[GpsFix | None, ...], radius_m: float) -> bool:
    """Are all known fixes within ``radius_m`` of the first? (No fixes at all: nothing contradicts it.)"""
    known = [f for f in fixes if f is not None]
    return all(distance_m(known[0], f) <= radius_m for f in known[1:])
