"""Every Redis key, stream and channel name of ours is minted in gridwatch/keys.py, each with its exact string."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from gridwatch import keys

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package of the repository (the tests aside), so a package added or moved later is scanned too.
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
_OPENING = re.compile(r"^[A-Za-z]*('''|\"\"\"|'|\")")


def _gw_literals(path: Path) -> list[int]:
    """Lines of string literals (plain, f-, raw or bytes) whose text starts with ``gw:``."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [t.start[0] for t in tokens
            if t.type == tokenize.STRING and (m := _OPENING.match(t.string)) and t.string[m.end():].startswith("gw:")]


def test_no_redis_key_is_minted_outside_gridwatch_keys() -> None:
    assert {"gridwatch", "ingest", "fleet", "dashboard", "alerts"} <= set(PACKAGES)
    found = [f"{path.relative_to(ROOT)}:{line}"
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if path != ROOT / "gridwatch" / "keys.py" for line in _gw_literals(path)]
    assert found == [], f"name Redis keys in gridwatch/keys.py: {found}"


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('"""About ``gw:x``."""\nA = "gw:a"\nB = f\'gw:{A}\'\nC = "not gw:"\n', encoding="utf-8")
    assert _gw_literals(source) == [2, 3]


def test_every_key_keeps_its_exact_string() -> None:
    """Data in running deployments must still be found: these strings never change."""
    assert [keys.ALERTS_STREAM, keys.CAMERA_INDEX, keys.CAMERAS_CHANNEL, keys.LEASE_WORKERS, keys.VEHICLE_INDEX,
            keys.TELEMETRY_STATS, keys.FLEET_VEHICLES, keys.BOXES_PREFIX] == [
        "gw:alerts", "gw:cameras", "gw:cameras:changed", "gw:lease:workers", "gw:vehicles",
        "gw:telemetry:stats", "gw:fleet:vehicles", "gw:boxes:"]
    assert [keys.camera_state("c"), keys.camera_preview("c"), keys.boxes_channel("c"), keys.health("worker"),
            keys.health("worker", "h-1"), keys.camera_lease("c"), keys.learning_lease("2026-12-05"),
            keys.revoked_session("s"), keys.login_failures_by_address("1.2.3.4"), keys.login_failures_by_name("n"),
            keys.login_known_addresses("n"), keys.claim("case", "7"), keys.track("v"), keys.last_fix("v")] == [
        "gw:camera:c", "gw:preview:c", "gw:boxes:c", "gw:health:worker", "gw:health:worker:h-1",
        "gw:lease:camera:c", "gw:lease:learning:2026-12-05", "gw:session:revoked:s", "gw:login:addr:1.2.3.4",
        "gw:login:name:n", "gw:login:known:n", "gw:claim:case:7", "gw:track:v", "gw:track-last:v"]
    assert [keys.fleet_vehicle("v"), keys.fleet_day_vehicles("2026-12-05"), keys.fleet_track("d", "v"),
            keys.fleet_track_buckets("d", "v"), keys.fleet_grids("d", "v"), keys.fleet_cells("d", "v"),
            keys.fleet_report("r")] == [
        "gw:fleet:vehicle:v", "gw:fleet:day:2026-12-05", "gw:fleet:track:d:v", "gw:fleet:track-buckets:d:v",
        "gw:fleet:grids:d:v", "gw:fleet:cells:d:v", "gw:fleet:report:r"]
