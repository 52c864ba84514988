"""Benchmarks of issue 5: point-to-grid lookup, alerts into cases, KPI queries over a million cases.

    .venv/bin/python -m bench.cases_bench            # everything, results as a Markdown section on stdout
    .venv/bin/python -m bench.cases_bench --only grids,ingest --cases 200000

Synthetic data (nothing is downloaded): a 3-level grid map of 23 offices, 1,541 communities and 13,869
irregular level-3 grids (a jittered 69 x 201 lattice, about 200 m x 170 m each, around Zhengzhou), and a year
of cases spread over it. The KPI database is generated once into bench/out/ (gitignored) and reused while
its parameters are unchanged.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alerts.assessment import Assessor
from alerts.casebook import CaseBook, CaseFilter
from alerts.cases import CaseService, observation_from_alert
from alerts.consumer import StreamConsumer
from alerts.db import make_engine, migrate, write_transaction
from alerts.figures import FigureBook
from alerts.inbox import CASES_GROUP, claim
from alerts.outbox import confirm
from alerts.repository import Repository
from geo.grids import GridFeature, GridIndex
from geo.routing import GridRouter
from gridwatch import keys
from gridwatch.events import alert_to_stream
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.types import Alert

log = logging.getLogger("bench.cases")

OUT = Path(__file__).resolve().parent / "out"
COLS, ROWS = 69, 201  # 13,869 grids; communities are 3 x 3 blocks, offices 3 columns x 201 rows of grids
LON0, LAT0 = 113.58, 34.60
DLON, DLAT = 0.0022, 0.0015
CATEGORIES = ("0501", "0502", "0503", "0504", "0507", "0599")
KPI_VERSION = 4  # bump when the generator changes, so a stale database is rebuilt


# --- the synthetic map ----------------------------------------------------------------------------------------


def _lattice(seed: int = 7) -> list[list[tuple[float, float]]]:
    """(lon, lat) of every lattice vertex; inner vertices jittered so no grid is a plain rectangle."""
    rng = random.Random(seed)
    points = []
    for r in range(ROWS + 1):
        row = []
        for c in range(COLS + 1):
            jx = rng.uniform(-0.25, 0.25) * DLON if 0 < c < COLS else 0.0
            jy = rng.uniform(-0.25, 0.25) * DLAT if 0 < r < ROWS else 0.0
            row.append((round(LON0 + c * DLON + jx, 7), round(LAT0 + r * DLAT + jy, 7)))
        points.append(row)
    return points


def _ring(p: list[list[tuple[float, float]]], c0: int, c1: int, r0: int, r1: int) -> list[list[float]]:
    """The closed boundary of lattice block columns c0..c1, rows r0..r1, through every vertex on it."""
    ring = [p[r0][c] for c in range(c0, c1 + 1)]
    ring += [p[r][c1] for r in range(r0 + 1, r1 + 1)]
    ring += [p[r1][c] for c in range(c1 - 1, c0 - 1, -1)]
    ring += [p[r][c0] for r in range(r1 - 1, r0 - 1, -1)]
    return [list(v) for v in ring]


def synthetic_map() -> list[GridFeature]:
    p = _lattice()
    features: list[GridFeature] = []
    for o in range(COLS // 3):
        office = f"4101{o:05d}"
        features.append(GridFeature(office, f"街道{o}", 1, None, None,
                                    {"type": "Polygon", "coordinates": [_ring(p, 3 * o, 3 * o + 3, 0, ROWS)]}))
        for k in range(ROWS // 3):
            community = f"{office}{k:03d}"
            features.append(GridFeature(community, f"街道{o}社区{k}", 2, office, None, {
                "type": "Polygon", "coordinates": [_ring(p, 3 * o, 3 * o + 3, 3 * k, 3 * k + 3)]}))
            for g in range(9):
                c, r = 3 * o + g % 3, 3 * k + g // 3
                features.append(GridFeature(f"{community}{g + 1:03d}", f"街道{o}社区{k}第{g + 1}网格", 3, community,
                                            None, {"type": "Polygon", "coordinates": [_ring(p, c, c + 1, r, r + 1)]}))
    return features


# --- helpers ----------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median, max) seconds of ``repeat`` runs after one warm-up run, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times), result


@contextmanager
def _step(name: str) -> Iterator[None]:
    t = time.perf_counter()
    log.info("%s ...", name)
    yield
    log.info("%s done in %.1f s", name, time.perf_counter() - t)


# --- 1. point to grid -------------------------------------------------------------------------------------------


def bench_grids(features: Sequence[GridFeature], lookups: int) -> list[str]:
    with _step("building the grid index"):
        t = time.perf_counter()
        index = GridIndex(features)
        build = time.perf_counter() - t
    router = GridRouter(features)
    rng = random.Random(1)
    points = [(rng.uniform(LAT0 + 0.001, LAT0 + ROWS * DLAT - 0.001),
               rng.uniform(LON0 + 0.001, LON0 + COLS * DLON - 0.001)) for _ in range(lookups)]
    outside = [(LAT0 - 0.05, LON0 - 0.05)] * (lookups // 10)
    for lat, lon in points[:1000]:  # warm caches
        index.locate(lat, lon)
    t = time.perf_counter()
    found = sum(index.locate(lat, lon) is not None for lat, lon in points)
    locate_us = (time.perf_counter() - t) / lookups * 1e6
    t = time.perf_counter()
    for lat, lon in outside:
        index.locate(lat, lon)
    outside_us = (time.perf_counter() - t) / len(outside) * 1e6
    t = time.perf_counter()
    for lat, lon in points:
        router.route(lat, lon)
    route_us = (time.perf_counter() - t) / lookups * 1e6
    assert found == lookups, f"{lookups - found} points inside the map found no grid"
    return [
        f"| point -> level-3 grid (`GridIndex.locate`), {lookups:,} random points inside | {locate_us:.1f} µs "
        f"per lookup | < 50 µs |",
        f"| point outside every grid | {outside_us:.1f} µs | |",
        f"| point -> grid + community + office (`GridRouter.route`) | {route_us:.1f} µs | |",
        f"| building the index over {len(index):,} polygons | {build:.2f} s | once per start |",
    ]


# --- 2. alerts into cases ---------------------------------------------------------------------------------------


def _alerts(n: int, places: int, seed: int = 3) -> list[Alert]:
    rng = random.Random(seed)
    spots = [(rng.uniform(LAT0 + 0.01, LAT0 + 0.29), rng.uniform(LON0 + 0.01, LON0 + 0.14), rng.choice(CATEGORIES))
             for _ in range(places)]
    t0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        lat, lon, cat = spots[i % places]
        out.append(Alert(
            id=uuid.uuid4().hex, camera_id=f"car-{i % 7}", category=cat, confidence=0.8,
            detected_at=t0 + timedelta(seconds=i * 0.5), lat=lat + rng.uniform(-5e-5, 5e-5),
            lon=lon + rng.uniform(-5e-5, 5e-5), grid_code=None, snapshot_url=f"/media/snapshots/x/{i}.jpg",
            bbox=(1.0, 2.0, 3.0, 4.0), track_id=i,
        ))
    return out


def _fresh_db(name: str, features: Sequence[GridFeature]) -> tuple[Any, Repository]:
    path = OUT / name
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    repo = Repository(engine)
    repo.replace_grids(features)
    return engine, repo


def _store_alerts(engine: Any, alerts: Sequence[Alert]) -> None:
    """Alert rows and their sent outbox rows in bulk, as the sink and relay leave them; not what is measured."""
    from alerts.models import AlertRow, OutboxRow

    rows = [{
        "id": a.id, "event_id": a.id, "camera_id": a.camera_id, "category": a.category, "confidence": a.confidence,
        "detected_at": a.detected_at, "lat": a.lat, "lon": a.lon, "grid_code": None,
        "snapshot_path": a.snapshot_url[len("/media/"):] if a.snapshot_url else None, "bbox_x1": 1.0,
        "bbox_y1": 2.0, "bbox_x2": 3.0, "bbox_y2": 4.0, "track_id": a.track_id, "created_at": a.detected_at,
    } for a in alerts]
    sent = [{
        "alert_id": a.id, "stream": keys.ALERTS_STREAM, "payload": json.dumps(alert_to_stream(a)),
        "created_at": a.detected_at, "sent_at": a.detected_at, "attempts": 1,
    } for a in alerts]
    with engine.begin() as conn:
        conn.execute(sa.insert(AlertRow), rows)
        conn.execute(sa.insert(OutboxRow), sent)


def bench_ingest(features: Sequence[GridFeature], n: int, places: int) -> list[str]:
    router = GridRouter(features)
    lines = []
    # (a) The consumer's database work: inbox + dedup + cases + sightings + audit, 100 alerts a transaction.
    engine, _ = _fresh_db("ingest_direct.db", features)
    alerts = _alerts(n, places)
    _store_alerts(engine, alerts)
    service = CaseService(engine, router)
    with _step(f"ingesting {n:,} alerts directly"):
        t = time.perf_counter()
        for start in range(0, n, 100):
            chunk = alerts[start:start + 100]
            with write_transaction(engine) as conn:
                fresh = claim(conn, CASES_GROUP, [a.id for a in chunk])
                service.ingest_observations(conn, [observation_from_alert(a) for a in chunk if a.id in fresh])
                confirm(conn, [a.id for a in chunk])
        direct = time.perf_counter() - t
    cases = CaseBook(engine, router).count()
    engine.dispose()
    lines.append(f"| alerts -> cases, the consumer's transaction (inbox, dedup, case, sighting, audit, outbox "
                 f"confirmation), SQLite, batches of 100: {n:,} alerts around {places:,} places -> {cases:,} cases | "
                 f"**{n / direct:,.0f} alerts/s** | >= 1,000/s |")

    # (b) End to end from the Redis Stream: XREADGROUP, parse, the same transaction, XACK.
    engine, _ = _fresh_db("ingest_stream.db", features)
    alerts = _alerts(n, places, seed=4)
    _store_alerts(engine, alerts)
    service = CaseService(engine, router)
    with EmbeddedRedis() as server:
        import redis

        client = redis.Redis.from_url(server.url)
        pipe = client.pipeline(transaction=False)
        for a in alerts:
            pipe.xadd(keys.ALERTS_STREAM, alert_to_stream(a))  # type: ignore[arg-type]
        pipe.execute()
        consumer = StreamConsumer(engine, server.url, service.ingest_alerts, batch=100)
        with _step(f"consuming {n:,} alerts from the stream"):
            t = time.perf_counter()
            while consumer.processed + consumer.duplicates < n:
                if consumer.poll_once(block_ms=100) == 0:
                    break
            stream = time.perf_counter() - t
        assert consumer.processed == n, f"consumer processed {consumer.processed} of {n}"
        consumer.stop()
        client.close()
    engine.dispose()
    lines.append(f"| alerts -> cases end to end from the Redis Stream (consumer group, XACK), SQLite | "
                 f"**{n / stream:,.0f} alerts/s** | >= 1,000/s |")
    return lines


# --- 3. KPI queries over a million cases --------------------------------------------------------------------------


def _sqlite_ts(dt: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime stores (naive UTC, always with microseconds): comparisons match.
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _case_rows(n: int, features: Sequence[GridFeature], seed: int = 11) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    leaves = [f for f in features if f.level == 3]
    year = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)
    span = 365 * 86400
    for _ in range(n):
        g = rng.choice(leaves)
        community = g.parent
        office = community[:9] if community else None
        reported = year + timedelta(seconds=rng.uniform(0, span))
        roll = rng.random()
        status, dropped, verified, registered, dispatched, escalated, handled, closed = (
            "reported", None, None, None, None, None, None, None)
        due = deadline = escalation_due = None
        rework = 0
        closed_on_time = None
        if roll < 0.05:
            status, dropped, verified = "rejected", reported + timedelta(minutes=30), None
        else:
            verified = reported + timedelta(minutes=rng.uniform(5, 180))
            registered = verified + timedelta(minutes=5)
            if roll < 0.09:
                status = "registered"
            else:
                dispatched = registered + timedelta(minutes=rng.uniform(5, 120))
                due = dispatched + timedelta(days=7)
                deadline = due
                if roll < 0.15:
                    status = "in_progress"
                elif roll < 0.22:
                    status, escalated = "escalated", dispatched + timedelta(days=2)
                    escalation_due = escalated + timedelta(days=9)
                    deadline = escalation_due
                elif roll < 0.24:
                    status, deadline = "deferred", None
                else:
                    handled = dispatched + timedelta(days=rng.uniform(0.2, 9))
                    rework = 1 if rng.random() < 0.08 else 0
                    closed = handled + timedelta(hours=rng.uniform(1, 30))
                    status, deadline, closed_on_time = "closed", None, int(closed <= due)
        lat, lon = g.geometry["coordinates"][0][0][1], g.geometry["coordinates"][0][0][0]
        yield (
            uuid.UUID(int=rng.getrandbits(128)).hex, rng.choice(CATEGORIES), status,
            int(status not in ("closed", "rejected", "invalid")), "camera", lat + 0.0003, lon + 0.0003, "car-1",
            g.code, community, office, 0, g.code if not escalated else community, None, None,
            _sqlite_ts(reported), _sqlite_ts(reported), "car-1", 1, 1, None, _sqlite_ts(reported),
            _sqlite_ts(verified) if verified else None, 600 if verified else None,
            _sqlite_ts(registered) if registered else None, _sqlite_ts(dispatched) if dispatched else None,
            1800 if dispatched else None, rng.choice([1800, 7200, 30000]) if dispatched else None,
            _sqlite_ts(escalated) if escalated else None, g.code if escalated else None,
            _sqlite_ts(escalation_due) if escalation_due else None, _sqlite_ts(handled) if handled else None,
            _sqlite_ts(closed) if closed else None, closed_on_time, _sqlite_ts(dropped) if dropped else None,
            "false_alarm" if dropped else None, _sqlite_ts(due) if due else None,
            _sqlite_ts(deadline) if deadline else None, rework, None, None, None, None, _sqlite_ts(reported),
        )


_CASE_COLUMNS = (
    "id, category, status, is_open, source, lat, lon, camera_id, grid_code, community_code, office_code, "
    "routed_by_fallback, assignee_grid, department, assignee_staff, first_seen, last_seen, last_camera_id, "
    "sightings, passes, snapshot_path, reported_at, verified_at, verify_seconds, registered_at, dispatched_at, "
    "dispatch_seconds, response_seconds, escalated_at, escalated_from, escalation_due_at, handled_at, closed_at, "
    "closed_on_time, dropped_at, drop_reason, due_at, deadline_at, rework_count, merged_into, "
    "possibly_resolved_at, feedback_note, feedback_photo, updated_at"
)


def build_kpi_db(path: Path, n: int, features: Sequence[GridFeature]) -> None:
    stamp = path.with_suffix(".json")
    wanted = {"version": KPI_VERSION, "cases": n, "grids": sum(f.level == 3 for f in features)}
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        log.info("reusing %s (%s)", path, wanted)
        return
    engine, _ = _fresh_db(path.name, features)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    indexes = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='cases' "
                                         "AND sql IS NOT NULL")]
    for name, in con.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='cases' "
                             "AND sql IS NOT NULL").fetchall():
        con.execute(f'DROP INDEX "{name}"')
    placeholders = ", ".join("?" * len(_CASE_COLUMNS.split(",")))
    with _step(f"generating {n:,} cases"):
        rows = _case_rows(n, features)
        while True:
            chunk = [r for _, r in zip(range(50_000), rows, strict=False)]
            if not chunk:
                break
            con.executemany(f"INSERT INTO cases ({_CASE_COLUMNS}) VALUES ({placeholders})", chunk)
        con.commit()
    with _step(f"creating {len(indexes)} indexes and ANALYZE"):
        for sql in indexes:
            con.execute(sql)
        con.execute("ANALYZE")
        con.commit()
    con.close()
    stamp.write_text(json.dumps(wanted))


def bench_kpi(features: Sequence[GridFeature], n: int, repeat: int) -> list[str]:
    path = OUT / "kpi.db"
    build_kpi_db(path, n, features)
    engine = make_engine(f"sqlite:///{path}")
    router = GridRouter(features)
    figures = FigureBook(engine, router)
    book = CaseBook(engine, router)
    tz = "+08:00"
    month = (datetime.fromisoformat(f"2026-06-01T00:00{tz}"), datetime.fromisoformat(f"2026-07-01T00:00{tz}"))
    year = (datetime.fromisoformat(f"2026-01-01T00:00{tz}"), datetime.fromisoformat(f"2027-01-01T00:00{tz}"))
    as_of = datetime.fromisoformat(f"2026-12-31T12:00{tz}")
    grid = router.codes(3)[5000]
    community = router.parent(grid) or ""
    office = router.parent(community) or ""
    queries: list[tuple[str, Callable[[], Any]]] = [
        ("figures, one grid, one month", lambda: figures.figures(grid, *month, as_of)),
        ("figures, one community, one month", lambda: figures.figures(community, *month, as_of)),
        ("figures, one office (603 grids), one month", lambda: figures.figures(office, *month, as_of)),
        ("figures, one office, whole year", lambda: figures.figures(office, *year, as_of)),
        ("figures, whole territory, one month", lambda: figures.figures(None, *month, as_of)),
        ("figures of each of the 23 offices, one month (one grouped query)",
         lambda: figures.figures_by_grid(1, *month, as_of)),
        ("figures of each of the 13,869 grids, one month (one grouped query; the assessment's input)",
         lambda: figures.figures_by_grid(3, *month, as_of)),
        ("queue: an office's overdue cases, first 100", lambda: book.queue(
            CaseFilter(grid=office, overdue_only=True, limit=100), now=as_of)),
        ("queue: a grid's open cases", lambda: book.queue(CaseFilter(grid=grid, open_only=True), now=as_of)),
        ("figures, whole territory, whole year (1M rows)", lambda: figures.figures(None, *year, as_of)),
        ("monthly assessment of all 13,869 grids", lambda: Assessor(engine, router).assess_month(2026, 6,
                                                                                               as_of=as_of)),
    ]
    lines = []
    for name, fn in queries:
        median, worst, result = _timed(fn, repeat)
        batch = "whole year (1M" in name or "assessment" in name or "13,869 grids" in name
        goal = "monthly batch, no goal" if batch else "< 200 ms"
        size = f" ({len(result):,} rows)" if isinstance(result, list) else ""
        lines.append(f"| {name}{size} | {_ms(median)} (max {_ms(worst)}) | {goal} |")
    total = figures.figures(None, *year, as_of)
    assert total.reported == n and total.collected == total.dispatched + total.escalated + total.pending
    engine.dispose()
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="grids,ingest,kpi", help="comma-separated: grids, ingest, kpi")
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the KPI database")
    parser.add_argument("--alerts", type=int, default=20_000, help="alerts ingested into cases")
    parser.add_argument("--places", type=int, default=2_000, help="distinct problems those alerts show")
    parser.add_argument("--lookups", type=int, default=200_000, help="point-to-grid lookups")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per KPI query (after a warm-up)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("alerts").setLevel(logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    parts = set(args.only.split(","))
    t0 = time.perf_counter()
    with _step("building the synthetic grid map"):
        features = synthetic_map()
    lines = ["| what | result | goal |", "| --- | --- | --- |"]
    if "grids" in parts:
        lines += bench_grids([f for f in features], args.lookups)
    if "ingest" in parts:
        lines += bench_ingest(features, args.alerts, args.places)
    if "kpi" in parts:
        lines += bench_kpi(features, args.cases, args.repeat)
    load = os.getloadavg()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write(f"\n{len(features):,} grid features; run took {time.perf_counter() - t0:.0f} s; "
                     f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (2 cores)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
