"""The evidence bundle of a case: one zip a supervisor can hand over, checkable file by file.

    case.json            the case as the system holds it now
    sightings.csv        every sighting (alert or report): when, where, which camera, confidence
    audit_log.csv/.json  every transition, merge, split, query and answer: who, role, grid, when, from, to, note
    snapshots/...        each sighting's snapshot (the detection box drawn in), the handling feedback photo
    clips/<alert>.mp4    each alert's clip, byte for byte as recorded (never re-encoded)
    gps_trace.csv/.geojson  the patrol car's track around the sightings, when known
    manifest.json        what is inside, with the sha256 and size of every file, and what was missing
    SHA256SUMS           the same hashes in ``sha256sum -c`` format (manifest.json included)

Nothing here touches the database or Redis: the caller hands in the case detail and the GPS fixes, and the
media files are read from the media folder. Media paths that would leave the folder are refused.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from alerts.casebook import CaseDetail
from alerts.export import spreadsheet_safe
from gridwatch import media
from gridwatch.types import GpsFix

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
FORMAT_VERSION = 1
_CHUNK = 1 << 20
_COMPRESSED_SUFFIXES = (".mp4", ".jpg", ".jpeg", ".png", ".webp")


class EvidenceError(ValueError):
    """A media reference that cannot belong in a bundle (outside the media folder)."""


@dataclass(frozen=True, slots=True)
class BundleFile:
    name: str
    sha256: str
    bytes: int
    source: str  # what it is: "case", "audit", "snapshot", "clip", "photo", "gps", ...


@dataclass(frozen=True)
class Manifest:
    case_id: str
    generated_at: datetime
    generated_by: str
    files: list[BundleFile]
    missing: list[str] = field(default_factory=list)  # media the case names that is not on disk

    def names(self) -> list[str]:
        return [f.name for f in self.files]


def media_file(media_dir: Path, url_or_path: str) -> Path:
    """The file behind a ``/media/...`` URL (or a media-relative path), refusing anything outside the folder."""
    rel = url_or_path[len(media.MEDIA_URL_PREFIX):] if url_or_path.startswith(media.MEDIA_URL_PREFIX) else url_or_path
    p = PurePosixPath(rel)
    if not rel or "\\" in rel or p.is_absolute() or ".." in p.parts:
        raise EvidenceError(f"media reference {url_or_path!r} is not inside the media folder")
    root = media_dir.resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise EvidenceError(f"media reference {url_or_path!r} resolves outside the media folder")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else spreadsheet_safe(_plain(v)) for v in row])
    # A BOM so that spreadsheet programs open the Chinese text as UTF-8.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _json(value: Any) -> bytes:
    return json.dumps(_plain(value), ensure_ascii=False, indent=2).encode("utf-8")


class _Writer:
    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", allowZip64=True)
        self.files: list[BundleFile] = []

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bundle is the same bytes
        info.compress_type = zipfile.ZIP_STORED if name.endswith(_COMPRESSED_SUFFIXES) else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def data(self, name: str, data: bytes, source: str) -> None:
        self.zip.writestr(self._info(name), data)
        self.files.append(BundleFile(name, hashlib.sha256(data).hexdigest(), len(data), source))

    def copy(self, name: str, path: Path, source: str) -> None:
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as src, self.zip.open(self._info(name), "w", force_zip64=True) as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        self.files.append(BundleFile(name, digest.hexdigest(), size, source))


def _sighting_rows(detail: CaseDetail) -> list[list[Any]]:
    return [
        [s.id, s.alert_id, s.camera_id, s.seen_at, s.lat, s.lon, s.distance_m, s.confidence, s.new_pass,
         s.snapshot_url, s.clip_url]
        for s in detail.sightings
    ]


def _audit_rows(detail: CaseDetail) -> list[list[Any]]:
    return [
        [e.id, e.at, e.action, e.from_status, e.to_status, e.actor, e.role, e.actor_grid, e.note,
         json.dumps(e.data, ensure_ascii=False, default=str) if e.data else ""]
        for e in detail.history
    ]


def _gps_geojson(fixes: Sequence[GpsFix]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in fixes]},
            "properties": {"times": [f.time.isoformat() for f in fixes]},
        }],
    }


def write_bundle(
    out: IO[bytes],
    detail: CaseDetail,
    media_dir: Path,
    generated_by: str,
    generated_at: datetime,
    gps: Sequence[GpsFix] = (),
) -> Manifest:
    """Write the zip of ``detail`` to ``out`` (a file opened for binary writing) and return its manifest."""
    case = detail.case
    w = _Writer(out)
    missing: list[str] = []

    def add_media(ref: str | None, name: str, source: str) -> None:
        if not ref:
            return
        try:
            path = media_file(media_dir, ref)
        except EvidenceError as exc:
            log.warning("evidence of case %s: %s", case.id, exc)
            missing.append(ref)
            return
        if path.is_file():
            w.copy(name, path, source)
        else:
            missing.append(ref)

    with w.zip:
        w.data("case.json", _json(case), "case")
        w.data("sightings.csv", _csv(
            ["sighting", "alert", "camera", "seen_at", "lat", "lon", "distance_m", "confidence", "new_pass",
             "snapshot", "clip"], _sighting_rows(detail)), "sightings")
        w.data("audit_log.csv", _csv(
            ["id", "at", "action", "from_status", "to_status", "actor", "role", "actor_grid", "note", "data"],
            _audit_rows(detail)), "audit")
        w.data("audit_log.json", _json(detail.history), "audit")
        if detail.queries:
            w.data("queries.json", _json(detail.queries), "queries")
        seen: set[str] = set()
        for s in detail.sightings:
            stem = s.alert_id or f"sighting-{s.id}"
            if s.snapshot_url and s.snapshot_url not in seen:
                seen.add(s.snapshot_url)
                add_media(s.snapshot_url, f"snapshots/{stem}{PurePosixPath(s.snapshot_url).suffix or '.jpg'}",
                          "snapshot")
            clip = s.clip_url
            if clip is None and s.alert_id is not None:
                try:
                    clip = media.MEDIA_URL_PREFIX + media.clip_relpath(s.alert_id, s.seen_at)
                except ValueError:
                    clip = None
            if clip and clip not in seen:
                seen.add(clip)
                add_media(clip, f"clips/{stem}.mp4", "clip")
        if case.feedback_photo_url:
            suffix = PurePosixPath(case.feedback_photo_url).suffix or ".jpg"
            add_media(case.feedback_photo_url, f"snapshots/feedback{suffix}", "photo")
        if gps:
            w.data("gps_trace.csv", _csv(["time", "lat", "lon", "heading", "speed"],
                                         [[f.time, f.lat, f.lon, f.heading, f.speed] for f in gps]), "gps")
            w.data("gps_trace.geojson", _json(_gps_geojson(gps)), "gps")
        manifest = Manifest(case.id, generated_at, generated_by, list(w.files), missing)
        w.data(MANIFEST, _json({
            "format": FORMAT_VERSION, "case_id": case.id, "generated_at": generated_at,
            "generated_by": generated_by, "files": manifest.files, "missing": missing,
        }), "manifest")
        sums = "".join(f"{f.sha256}  {f.name}\n" for f in w.files)
        w.zip.writestr(w._info(CHECKSUMS), sums.encode())
    return dataclasses.replace(manifest, files=list(w.files))


def verify_bundle(data: IO[bytes]) -> list[str]:
    """Names of the files whose content does not match the manifest (empty: the bundle is intact)."""
    with zipfile.ZipFile(data) as zf:
        listed = json.loads(zf.read(MANIFEST))
        bad = []
        for f in listed["files"]:
            if hashlib.sha256(zf.read(f["name"])).hexdigest() != f["sha256"]:
                bad.append(f["name"])
        return bad
