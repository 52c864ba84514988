"""The wall's base-map tile source (settings ``map``) and the datum our geometry must be drawn in on it.

Everything GridWatch stores is WGS-84 (GPS, the grid map). A tile source drawn in GCJ-02 (AMap/高德, Tencent)
has every street several hundred metres from where WGS-84 puts it, so each position is shifted to GCJ-02
before it goes to the browser (geo/datum.py); 天地图 (CGCS2000) and a self-hosted OpenStreetMap server
take WGS-84 as it is. Nothing is shifted back: a click is resolved by the feature clicked, not by its position.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from geo import datum
from gridwatch.settings import MapSettings

# (lons, lats) in WGS-84 -> (lons, lats) in the tiles' datum; numpy arrays so a whole layer shifts at once.
Projector = Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]


def _same(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


@dataclass(frozen=True)
class TileSource:
    """A configured XYZ source, as the browser's tile layer takes it."""

    url: str
    attribution: str
    datum: datum.Datum
    max_zoom: int
    subdomains: str
    notice_ms: int

    @property
    def to_tiles(self) -> Projector:
        """How a WGS-84 position becomes a position on these tiles."""
        return datum.wgs84_to_gcj02_arrays if self.datum == datum.Datum.GCJ02 else _same

    def layer_props(self) -> dict[str, Any]:
        """Keyword arguments of dash_leaflet.TileLayer (Leaflet's own option names)."""
        props: dict[str, Any] = {"url": self.url, "attribution": self.attribution, "maxZoom": self.max_zoom,
                                 "maxNativeZoom": self.max_zoom}
        if self.subdomains:
            props["subdomains"] = self.subdomains
        return props


def tile_source(settings: MapSettings) -> TileSource | None:
    """The source the settings name; None when none is configured (the map is then the grid polygons alone)."""
    if settings.tiles_url is None:
        return None
    return TileSource(url=settings.tiles_url, attribution=settings.attribution,
                      datum=datum.parse_datum(settings.datum), max_zoom=settings.max_zoom,
                      subdomains=settings.subdomains, notice_ms=round(settings.notice_seconds * 1000))


def project_rings(rings: Sequence[Sequence[Sequence[float]]], to_tiles: Projector) -> list[list[list[float]]]:
    """Rings of [lon, lat] in WGS-84 -> the same in the tiles' datum, all in one numpy call (a layer's worth at
    once: thousands of separate calls cost a city map a second per update). Rounded to 1e-6 degree (~0.1 m),
    finer than any GPS fix, to keep the page's data small."""
    flat = [p for ring in rings for p in ring]
    if not flat:
        return [[] for _ in rings]
    lons, lats = to_tiles([float(p[0]) for p in flat], [float(p[1]) for p in flat])
    pairs: list[list[float]] = np.round(np.stack([lons, lats], axis=1), 6).tolist()
    out: list[list[list[float]]] = []
    start = 0
    for ring in rings:
        out.append(pairs[start:start + len(ring)])
        start += len(ring)
    return out


def project_points(points: Sequence[tuple[float, float]], to_tiles: Projector) -> list[tuple[float, float]]:
    """(lat, lon) points in WGS-84 -> (lat, lon) in the tiles' datum, in one call."""
    ring = project_rings([[(lon, lat) for lat, lon in points]], to_tiles)[0]
    return [(p[1], p[0]) for p in ring]


def project_point(lat: float, lon: float, to_tiles: Projector) -> tuple[float, float]:
    """(lat, lon) in WGS-84 -> (lat, lon) in the tiles' datum."""
    return project_points([(lat, lon)], to_tiles)[0]


def image_sources(settings: MapSettings) -> str:
    """The tile hosts a page's Content-Security-Policy must let images come from (" http://t0.x http://t1.x"), every
    subdomain spelled out; "" for none or for tiles served by the wall itself ('self' covers them)."""
    url = settings.tiles_url
    if url is None or url.startswith("/"):
        return ""
    hosts = {url.replace("{s}", s) for s in (settings.subdomains or " ")} if "{s}" in url else {url}
    origins = set()
    for h in hosts:
        parts = urlsplit(h)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return "".join(f" {o}" for o in sorted(origins))
