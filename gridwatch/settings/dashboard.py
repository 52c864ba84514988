"""The wall: the dashboard's web server, ports, request and stream limits, live video, and its base map (map)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gridwatch.settings.base import Strict


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
