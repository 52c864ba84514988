"""Map datums of Chinese maps: WGS-84 (GPS, stored internally), GCJ-02 (AMap, Tencent), BD-09 (Baidu), CGCS2000.

GCJ-02 is WGS-84 with a deliberate, non-linear offset (several hundred metres in Zhengzhou); BD-09 is a
further rotation and shift of GCJ-02. Both forward transforms are the well-known public algorithms
(the same constants as wandergis/coordTransform and googollee/eviltransform); their inverses have no
exact closed form, so they are solved by fixed-point iteration to about a millimetre (well under 1 cm).

CGCS2000 (China Geodetic Coordinate System 2000) is treated as WGS-84: both are geocentric, their ellipsoids
differ only in flattening (1/298.257222101 vs 1/298.257223563, at most about 0.1 mm in latitude), and the
realisations differ by plate motion since epoch 2000.0 -- centimetres to a few decimetres, well below the
accuracy of a vehicle GPS and of a hand-drawn grid border.

Outside China (the usual rough bounding box) GCJ-02 equals WGS-84, as every published implementation does.
"""
from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

# Krasovsky 1940 ellipsoid, which the GCJ-02 algorithm uses.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# Iterating GCJ-02 -> WGS-84 stops once a step moves the point less than this (degrees; ~1 mm).
_INVERSE_TOL_DEG = 1e-8
_INVERSE_MAX_STEPS = 30

FloatArray = npt.NDArray[np.float64]


class Datum(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    CGCS2000 = "cgcs2000"


class DatumError(ValueError):
    """An unknown datum name."""


_ALIASES = {
    "wgs84": Datum.WGS84, "wgs-84": Datum.WGS84, "epsg:4326": Datum.WGS84, "gps": Datum.WGS84,
    "gcj02": Datum.GCJ02, "gcj-02": Datum.GCJ02, "amap": Datum.GCJ02, "gaode": Datum.GCJ02, "tencent": Datum.GCJ02,
    "bd09": Datum.BD09, "bd-09": Datum.BD09, "bd09ll": Datum.BD09, "baidu": Datum.BD09,
    "cgcs2000": Datum.CGCS2000, "cgcs-2000": Datum.CGCS2000, "epsg:4490": Datum.CGCS2000,
}


def parse_datum(name: str | Datum) -> Datum:
    """``"gcj02"``, ``"GCJ-02"``, ``"amap"`` ... -> Datum; DatumError naming the accepted names otherwise."""
    if isinstance(name, Datum):
        return name
    key = str(name).strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        accepted = ", ".join(d.value for d in Datum)
        raise DatumError(f"unknown map datum {name!r}; use one of {accepted}") from None


def _in_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(dlon, dlat) in degrees that GCJ-02 adds to a WGS-84 point (zero outside China)."""
    x, y = lon - 105.0, lat - 35.0
    sin = np.sin
    common = (20.0 * sin(6.0 * x * math.pi) + 20.0 * sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * sin(y * math.pi) + 40.0 * sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * sin(y / 12.0 * math.pi) + 320.0 * sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * sin(x * math.pi) + 40.0 * sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * sin(x / 12.0 * math.pi) + 300.0 * sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * math.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _arr(v: Any) -> FloatArray:
    return np.asarray(v, dtype=np.float64)


def wgs84_to_gcj02_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    lon_a, lat_a = _arr(lon), _arr(lat)
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    """Exact inverse: find w with gcj(w) = g by iterating w <- w - (gcj(w) - g); the offset changes so slowly
    with position that each step gains about three decimal digits."""
    g_lon, g_lat = _arr(lon), _arr(lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_INVERSE_MAX_STEPS):
        c_lon, c_lat = wgs84_to_gcj02_arrays(w_lon, w_lat)
        e_lon, e_lat = c_lon - g_lon, c_lat - g_lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if float(np.max(np.abs(e_lon), initial=0.0)) < _INVERSE_TOL_DEG and \
                float(np.max(np.abs(e_lat), initial=0.0)) < _INVERSE_TOL_DEG:
            break
    return w_lon, w_lat


def gcj02_to_bd09_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    x, y = _arr(lon), _arr(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_published(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = x - 0.0065, y - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    """The published inverse is itself approximate (a few centimetres off); a few fixed-point steps on
    the forward transform make it exact, so a BD-09 map and its WGS-84 import agree to the millimetre."""
    b_lon, b_lat = _arr(lon), _arr(lat)
    g_lon, g_lat = _bd09_to_gcj02_published(b_lon, b_lat)
    for _ in range(_INVERSE_MAX_STEPS):
        c_lon, c_lat = gcj02_to_bd09_arrays(g_lon, g_lat)
        e_lon, e_lat = c_lon - b_lon, c_lat - b_lat
        g_lon, g_lat = g_lon - e_lon, g_lat - e_lat
        if float(np.max(np.abs(e_lon), initial=0.0)) < _INVERSE_TOL_DEG and \
                float(np.max(np.abs(e_lat), initial=0.0)) < _INVERSE_TOL_DEG:
            break
    return g_lon, g_lat


def _identity(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    return _arr(lon), _arr(lat)


def _bd09_to_wgs84_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_wgs84_arrays(*bd09_to_gcj02_arrays(lon, lat))


def _wgs84_to_bd09_arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_bd09_arrays(*wgs84_to_gcj02_arrays(lon, lat))


ArrayTransform = Callable[[Any, Any], tuple[FloatArray, FloatArray]]

_TO_WGS84: dict[Datum, ArrayTransform] = {
    Datum.WGS84: _identity,
    Datum.CGCS2000: _identity,
    Datum.GCJ02: gcj02_to_wgs84_arrays,
    Datum.BD09: _bd09_to_wgs84_arrays,
}
_FROM_WGS84: dict[Datum, ArrayTransform] = {
    Datum.WGS84: _identity,
    Datum.CGCS2000: _identity,
    Datum.GCJ02: wgs84_to_gcj02_arrays,
    Datum.BD09: _wgs84_to_bd09_arrays,
}


def to_wgs84(lon: float, lat: float, datum: str | Datum) -> tuple[float, float]:
    """(lon, lat) in ``datum`` -> (lon, lat) in WGS-84, GeoJSON order."""
    x, y = _TO_WGS84[parse_datum(datum)](lon, lat)
    return float(x), float(y)


def from_wgs84(lon: float, lat: float, datum: str | Datum) -> tuple[float, float]:
    """(lon, lat) in WGS-84 -> (lon, lat) in ``datum``, e.g. to show a GPS fix on an AMap or Baidu map."""
    x, y = _FROM_WGS84[parse_datum(datum)](lon, lat)
    return float(x), float(y)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return from_wgs84(lon, lat, Datum.GCJ02)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return to_wgs84(lon, lat, Datum.GCJ02)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    x, y = gcj02_to_bd09_arrays(lon, lat)
    return float(x), float(y)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = bd09_to_gcj02_arrays(lon, lat)
    return float(x), float(y)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return from_wgs84(lon, lat, Datum.BD09)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return to_wgs84(lon, lat, Datum.BD09)


# --- GeoJSON ------------------------------------------------------------------------------------------

def _is_position(v: object) -> bool:
    return (
        isinstance(v, list) and len(v) >= 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in v[:2])
    )


def _collect(coords: object, out: dict[int, list[Any]]) -> None:
    """Every position list inside a (nested) coordinates array, once each even when a built (not parsed)
    object shares one list between places, e.g. a ring closed with its own first point; anything malformed
    is left for the validator."""
    if _is_position(coords):
        out[id(coords)] = coords  # type: ignore[assignment]  # checked by _is_position
    elif isinstance(coords, list):
        for c in coords:
            _collect(c, out)


def _geometries(obj: object) -> list[dict[str, Any]]:
    """The geometry objects (not GeometryCollections) inside a GeoJSON object of any type."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return [g for f in obj.get("features") or [] for g in _geometries(f)]
    if kind == "Feature":
        return _geometries(obj.get("geometry"))
    if kind == "GeometryCollection":
        return [g for sub in obj.get("geometries") or [] for g in _geometries(sub)]
    return [obj] if "coordinates" in obj else []


def _drop_bboxes(obj: object) -> None:
    # A "bbox" member would describe the old datum; GeoJSON makes it optional, so it is removed, not guessed.
    if isinstance(obj, dict):
        obj.pop("bbox", None)
        for v in obj.values():
            _drop_bboxes(v)
    elif isinstance(obj, list):
        for v in obj:
            _drop_bboxes(v)


def geojson_to_wgs84(obj: dict[str, Any], datum: str | Datum) -> dict[str, Any]:
    """A converted deep copy of a GeoJSON object (FeatureCollection, Feature, any geometry) in WGS-84.

    Every [lon, lat(, alt)] position is converted (altitude kept); ``bbox`` members are dropped because
    they described the old datum. Malformed positions are copied unchanged so that the grid validator
    reports them with its own message. The caller's object is never modified.
    """
    target = parse_datum(datum)
    out = copy.deepcopy(obj)
    if target in (Datum.WGS84, Datum.CGCS2000):
        return out
    found: dict[int, list[Any]] = {}
    for geom in _geometries(out):
        _collect(geom.get("coordinates"), found)
    positions = list(found.values())
    if positions:
        lon = np.array([p[0] for p in positions], dtype=np.float64)
        lat = np.array([p[1] for p in positions], dtype=np.float64)
        new_lon, new_lat = _TO_WGS84[target](lon, lat)
        for p, x, y in zip(positions, new_lon.tolist(), new_lat.tolist(), strict=True):
            p[0], p[1] = x, y
    _drop_bboxes(out)
    log.info("converted %d GeoJSON positions from %s to WGS-84", len(positions), target.value)
    return out


def map_source_in_wgs84(
    source: str | Path | Mapping[str, Any], datum: str | Datum
) -> str | Path | Mapping[str, Any]:
    """What to hand to ``geo.grids.load_geojson`` for a map file (or parsed object) drawn in ``datum``.

    A WGS-84 or CGCS2000 map passes through untouched. Otherwise the file is read and converted; a file
    that cannot be read or parsed is passed through as it is, so the grid validator reports it in its own
    words (the datum is checked first: an unknown name raises DatumError).
    """
    target = parse_datum(datum)
    if target in (Datum.WGS84, Datum.CGCS2000):
        return source
    if isinstance(source, Mapping):
        return geojson_to_wgs84(dict(source), target)
    try:
        doc = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return source
    if not isinstance(doc, dict):
        return source
    return geojson_to_wgs84(doc, target)
