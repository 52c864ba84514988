"""The base of every settings section: the strict model (unknown keys rejected, frozen), the settings error and
the polygon type and check that camera zones and map areas share."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict


class SettingsError(ValueError):
    """A settings file or variable is wrong; the message names the key and what is wrong with it."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_zone(name: str, hint: str = "") -> str:
    """``name`` when it is a known IANA time zone, else a ValueError naming it (and ``hint``, when given)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


# A polygon as a list of (x, y) points: normalised image coordinates (0..1 of width and height) for image
# zones, (longitude, latitude) as in GeoJSON for map areas.
Polygon = tuple[tuple[float, float], ...]


def check_polygons(polygons: tuple[Polygon, ...] | None, what: str, x_range: tuple[float, float],
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
