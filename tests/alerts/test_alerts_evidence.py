"""The evidence bundle: every file a supervisor hands over is inside, hashed in the manifest, and checkable."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.casebook import CaseBook
from alerts.cases import CaseService
from alerts.casework import Casework
from alerts.evidence import EvidenceError, media_file, verify_bundle, write_bundle
from alerts.repository import Repository
from alerts.workflow import Actor, Role
from geo.grids import GridFeature
from geo.routing import GridRouter
from gridwatch import media
from gridwatch.settings.paths import SHARED_DIR
from gridwatch.types import Alert, GpsFix

AT = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
OPERATOR = Actor("op1", Role.OPERATOR)


def _alert(n: int, at: datetime, snapshot: str | None) -> Alert:
    return Alert(id=f"a{n:031d}", camera_id="car-1", category="0503", confidence=0.9, detected_at=at,
                 lat=34.7725, lon=113.6720, grid_code=None, snapshot_url=snapshot,
                 bbox=(100.0, 120.0, 180.0, 330.0), track_id=n)


@pytest.fixture()
def case_with_media(repo: Repository, demo_features: list[GridFeature], tmp_path: Path) -> tuple[str, Path, CaseBook]:
    """A case of two sightings: the first has a snapshot and a clip on disk, the second a snapshot only."""
    repo.replace_grids(demo_features)
    router = GridRouter(demo_features)
    media_dir = tmp_path / "media"
    alerts = []
    for n, at in enumerate((AT, AT + timedelta(seconds=40))):
        rel = f"snapshots/2026/11/24/a{n:031d}.jpg"
        (media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (media_dir / rel).write_bytes((SHARED_DIR / "images" / "bus.jpg").read_bytes())
        alert = _alert(n, at, "/media/" + rel)
        assert repo.add_alert(alert, f"ev-{n}", rel)
        alerts.append(alert)
    clip = media_dir / media.clip_relpath(alerts[0].id, alerts[0].detected_at)
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes((SHARED_DIR / "video" / "dashcam_highway_640x360.mp4").read_bytes()[:300_000])
    with repo.engine.begin() as conn:
        [first, second] = CaseService(repo.engine, router).ingest_alerts(conn, alerts)
    assert first.case_id == second.case_id
    Casework(repo.engine, router).verify(first.case_id, OPERATOR, note="seen on the clip")
    return first.case_id, media_dir, CaseBook(repo.engine, router)


def test_bundle_holds_clip_snapshots_gps_and_audit_log_with_a_hash_for_every_file(
    case_with_media: tuple[str, Path, CaseBook],
) -> None:
    case_id, media_dir, book = case_with_media
    gps = [GpsFix(34.7725 + i * 1e-5, 113.6720, AT + timedelta(seconds=i), heading=90.0, speed=5.0) for i in range(5)]
    out = io.BytesIO()
    manifest = write_bundle(out, book.detail(case_id), media_dir, "supervisor1", AT + timedelta(hours=1), gps)

    out.seek(0)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        expected = {
            "case.json", "sightings.csv", "audit_log.csv", "audit_log.json", "gps_trace.csv", "gps_trace.geojson",
            f"snapshots/a{0:031d}.jpg", f"snapshots/a{1:031d}.jpg", f"clips/a{0:031d}.mp4", "manifest.json",
            "SHA256SUMS",
        }
        assert names == expected
        listed = json.loads(zf.read("manifest.json"))
        assert listed["case_id"] == case_id and listed["generated_by"] == "supervisor1"
        # Every file but the checksum list itself is in the manifest, with its real hash and size.
        by_name = {f["name"]: f for f in listed["files"]}
        assert set(by_name) == expected - {"manifest.json", "SHA256SUMS"}
        for name, f in by_name.items():
            data = zf.read(name)
            assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
        # The clip is the recorded file byte for byte.
        clip = media_dir / media.clip_relpath(f"a{0:031d}", AT)
        assert zf.read(f"clips/a{0:031d}.mp4") == clip.read_bytes()
        # The second alert has no clip on disk: named as missing, not silently dropped.
        assert listed["missing"] == ["/media/" + media.clip_relpath(f"a{1:031d}", AT + timedelta(seconds=40))]
        sums = dict(line.split("  ", 1)[::-1] for line in zf.read("SHA256SUMS").decode().splitlines())
        assert set(sums) == expected - {"SHA256SUMS"}
        assert sums["manifest.json"] == hashlib.sha256(zf.read("manifest.json")).hexdigest()
        audit = list(csv.DictReader(io.StringIO(zf.read("audit_log.csv").decode("utf-8-sig"))))
        assert [(r["action"], r["to_status"]) for r in audit] == [("report", "reported"), ("verify", "verified")]
        assert audit[1]["actor"] == "op1" and audit[1]["role"] == "operator" and audit[1]["note"] == "seen on the clip"
        track = json.loads(zf.read("gps_trace.geojson"))["features"][0]["geometry"]
        assert track["type"] == "LineString" and len(track["coordinates"]) == 5
        sightings = list(csv.DictReader(io.StringIO(zf.read("sightings.csv").decode("utf-8-sig"))))
        assert [s["alert"] for s in sightings] == [f"a{0:031d}", f"a{1:031d}"]
    assert manifest.names()[-1] == "manifest.json"
    out.seek(0)
    assert verify_bundle(out) == []


def test_bundle_without_gps_has_no_trace_and_a_tampered_file_is_found(
    case_with_media: tuple[str, Path, CaseBook], tmp_path: Path,
) -> None:
    case_id, media_dir, book = case_with_media
    out = io.BytesIO()
    write_bundle(out, book.detail(case_id), media_dir, "supervisor1", AT)
    out.seek(0)
    with zipfile.ZipFile(out) as zf:
        assert not any(n.startswith("gps_trace") for n in zf.namelist())
        tampered = io.BytesIO()
        with zipfile.ZipFile(tampered, "w") as tz:
            for item in zf.infolist():
                data = zf.read(item)
                tz.writestr(item, b"edited" if item.filename == "audit_log.csv" else data)
    tampered.seek(0)
    assert verify_bundle(tampered) == ["audit_log.csv"]


def test_media_outside_the_media_folder_is_refused(tmp_path: Path) -> None:
    for ref in ("/media/../secret.txt", "/etc/passwd", "/media/a/../../x", ""):
        with pytest.raises(EvidenceError):
            media_file(tmp_path, ref)
    assert media_file(tmp_path, "/media/clips/x.mp4") == (tmp_path / "clips" / "x.mp4").resolve()


def test_audit_log_csv_escapes_a_note_written_as_a_formula(case_with_media: tuple[str, Path, CaseBook],
                                                          repo: Repository, demo_features: list[GridFeature]) -> None:
    """Issue 14: a note typed as a formula reaches the spreadsheet as text; the JSON log keeps it exactly."""
    case_id, media_dir, book = case_with_media
    note = "=HYPERLINK(\"http://evil.example\",\"open\")"
    Casework(repo.engine, GridRouter(demo_features)).register(case_id, OPERATOR, note=note)
    out = io.BytesIO()
    write_bundle(out, book.detail(case_id), media_dir, "supervisor1", AT + timedelta(hours=1))
    with zipfile.ZipFile(out) as zf:
        audit = list(csv.DictReader(io.StringIO(zf.read("audit_log.csv").decode("utf-8-sig"))))
        assert audit[-1]["note"] == "'" + note
        assert json.loads(zf.read("audit_log.json"))[-1]["note"] == note
