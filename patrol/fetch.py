"""The command centre's side of a link gap: fetch the segments a car recorded locally while it was offline.

``gridwatch patrol fetch --car http://car:8090 --start ... --end ... --out media/patrol/zz-a1234`` asks the car's
segment server (``patrol.segments_api``) which finished segments overlap the range and downloads each one (stream
copies as the car recorded them), so a supervisor can replay what happened while the car was offline. A file
already fetched (same name and size) is not fetched again; each download is written to a temporary name first, so
a cut link never leaves a half file that looks complete. Only http(s) URLs on the car's own server (the --car URL's
scheme, host and port) are fetched, redirects included: the bearer token never goes anywhere else.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gridwatch.protocol import SEGMENTS_PATH
from gridwatch.secrets import mask_url
from gridwatch.urls import Origin, origin
from patrol.settings import CAMERA_ID_PATTERN

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


class FetchError(RuntimeError):
    """The car could not be asked or refused; the message says which car and why."""


@dataclass(frozen=True, slots=True)
class Fetched:
    listed: int  # segments the car has in the range
    downloaded: list[Path]  # fetched now
    kept: int  # already here from an earlier fetch
    dropped_on_car: int  # segments the car's disk cap deleted: the replay may have holes


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only on the car's own server: urllib would carry the bearer token to any other."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        if origin(newurl) != origin(req.full_url):
            raise FetchError(f"car {mask_url(req.full_url)} redirected to another server ({mask_url(newurl)}); "
                             "not followed, so the token stays with the car")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# Only HTTP(S): the default opener would also read file:, ftp: and data: URLs a car lists.
_OPENER = urllib.request.OpenerDirector()
for _handler in (urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(), _SameOriginRedirects(),
                 urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
    _OPENER.add_handler(_handler)


def _get(url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return _OPENER.open(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        raise FetchError(f"car {mask_url(url)} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"car {mask_url(url)} cannot be reached: {exc}") from None


def car_origin(car_url: str) -> Origin:
    """The --car URL's origin; FetchError unless it is an http(s) URL with a host."""
    own = origin(car_url)
    if own[0] not in ("http", "https") or not own[1]:
        raise FetchError(f"--car must be the car's http:// or https:// address, got {mask_url(car_url)!r}")
    return own


def segment_url(base: str, listed: str, own: Origin) -> str:
    """A listed segment's absolute URL; FetchError unless it is on the car's own server (scheme, host, port)."""
    url = base + listed if listed.startswith("/") else listed
    if origin(url) != own:
        raise FetchError(f"car {mask_url(base)} listed a segment on another server or scheme "
                         f"({mask_url(url)!r}); refused: segments are fetched from the car itself only")
    return url


def fetch_segments(
    car_url: str, out_dir: Path, *, start: datetime | None = None, end: datetime | None = None,
    camera: str | None = None, token: str | None = None,
) -> Fetched:
    """Download the car's segments overlapping [start, end] (all when unset) into ``out_dir/<camera>/``."""
    query = {k: v for k, v in (("camera", camera), ("start", start and start.isoformat()),
                               ("end", end and end.isoformat())) if v}
    base = car_url.rstrip("/")
    own = car_origin(base)
    with _get(f"{base}{SEGMENTS_PATH}?{urllib.parse.urlencode(query)}", token) as resp:
        try:
            listing = json.loads(resp.read())
            segments = list(listing["segments"])
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"car {mask_url(base)} sent no segment list: {exc}") from None
    downloaded: list[Path] = []
    kept = 0
    for seg in segments:
        cam, url, size = str(seg["camera"]), str(seg["url"]), int(seg["bytes"])
        name = url.rsplit("/", 1)[-1]
        if not re.fullmatch(CAMERA_ID_PATTERN, cam) or not name.endswith(".mp4") or "/" in name or name.startswith("."):
            raise FetchError(f"car {mask_url(base)} listed an unexpected segment {cam}/{name}")
        source = segment_url(base, url, own)
        target = out_dir / cam / name
        if target.exists() and target.stat().st_size == size:
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        with _get(source, token) as resp, part.open("wb") as f:
            shutil.copyfileobj(resp, f)
        if part.stat().st_size != size:
            part.unlink()
            raise FetchError(f"segment {cam}/{name} from {mask_url(base)} arrived incomplete; fetch again")
        part.replace(target)
        downloaded.append(target)
        log.info("fetched %s/%s (%d bytes) from %s", cam, name, size, mask_url(base))
    return Fetched(len(segments), downloaded, kept, int(listing.get("dropped", 0)))
