"""Sightings into cases: the same problem seen again (next frame, another camera, a later pass) joins its case.

A sighting joins the nearest open case of the same category within ``dedup_distance_m`` (haversine, after an
index range on latitude and longitude); otherwise it opens a new case, routed to its grid. A sighting of a fixed
camera (or one without a position) joins the open case of the same category from the same camera at the same
spot of its picture (alerts.places.same_spot): a fixed camera's position is its own, not the problem's.

Where no open case matches, the place's past decides: a false alarm rejected there within ``suppress_days``
takes the sighting quietly (stored, counted in its ``suppressed``, never queued); otherwise the new case is
linked to the place's latest finished case (``previous_case_id``). A case keeps its best snapshot (alerts.places).
A later pass that saw the place clear is a sighting of kind ``clear`` (record_clear_pass) and moves the case to
the operator's check.

Ingestion is idempotent per alert (a sighting's alert id is unique) and safe with several consumers at once:
on PostgreSQL a transaction first takes advisory locks on the lattice cells its sightings touch, on SQLite
the write transaction itself is exclusive.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts import audit, places
from alerts.config import CaseSettings
from alerts.db import write_transaction
from alerts.models import CaseRow, SightingRow, utc_now
from alerts.repository import MEDIA_URL_PREFIX
from alerts.workflow import Action, Actor, RejectReason, Role, Status, WorkflowError, check
from geo.distance import bounding_box, cell_keys, haversine_m
from geo.routing import GridRouter, Route

log = logging.getLogger(__name__)

_CASES = cast(sa.Table, CaseRow.__table__)
_SIGHTINGS = cast(sa.Table, SightingRow.__table__)
_LOCK_CELL_DEG = 0.01

# Built once: dedup runs these for every sighting, and building a query costs more than running it.
_SPOT = (_CASES.c.spot_x1, _CASES.c.spot_y1, _CASES.c.spot_x2, _CASES.c.spot_y2)
_CANDIDATE = sa.select(
    _CASES.c.id, _CASES.c.lat, _CASES.c.lon, _CASES.c.first_seen, _CASES.c.last_seen, _CASES.c.last_camera_id,
    _CASES.c.sightings, _CASES.c.passes, _CASES.c.snapshot_path, _CASES.c.snapshot_score, _CASES.c.lane, *_SPOT,
).where(_CASES.c.category == sa.bindparam("cat"), _CASES.c.is_open == sa.true())
_AT_POINT = (
    _CASES.c.lat.between(sa.bindparam("lat0"), sa.bindparam("lat1")),
    _CASES.c.lon.between(sa.bindparam("lon0"), sa.bindparam("lon1")),
)
_NEAR_POINT = _CANDIDATE.where(*_AT_POINT)
_NEAR_CAMERA = _CANDIDATE.where(_CASES.c.camera_id == sa.bindparam("cam"))
# Finished cases of a place, newest first: a recent false alarm there quiets it, any other is linked to.
_FINISHED = sa.select(
    _CASES.c.id, _CASES.c.lat, _CASES.c.lon, _CASES.c.drop_reason, _CASES.c.dropped_at, *_SPOT,
).where(
    _CASES.c.category == sa.bindparam("cat"), _CASES.c.is_open == sa.false(), _CASES.c.merged_into.is_(None),
).order_by(_CASES.c.updated_at.desc(), _CASES.c.id).limit(50)
_FINISHED_NEAR_POINT = _FINISHED.where(*_AT_POINT)
_FINISHED_NEAR_CAMERA = _FINISHED.where(_CASES.c.camera_id == sa.bindparam("cam"))
_INSERT_CASE = sa.insert(_CASES)
CLEAR_NOTE = "现场复查: 已无"  # what a seen-clear pass says on the case (the operator's desk shows it)


class CaseNotFoundError(LookupError):
    """No case with this id."""


class CaseStateError(WorkflowError):
    """A merge, split or report that the cases' current state does not allow (the message says why)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One sighting to ingest: from a camera alert, or a report filed by a person (phone, web, Open311)."""

    category: str
    seen_at: datetime
    lat: float | None
    lon: float | None
    source: str = "camera"
    alert_id: str | None = None
    camera_id: str | None = None
    confidence: float | None = None
    snapshot_path: str | None = None
    clip_path: str | None = None
    reporter: Actor | None = None
    note: str | None = None
    bbox: places.Box | None = None  # where in the camera's picture (snapshot pixels)
    fixed: bool = False  # from a fixed camera: its place is the camera and a spot of its picture
    likely_real: float | None = None  # the verdict filter's score of the alert (alerts.filters)
    lane: str = "wall"  # "low": the filter doubts it; its new case waits in the desk's low lane, off the wall

    @property
    def by_spot(self) -> bool:
        """Matched to cases by camera and picture spot rather than by GPS distance."""
        return self.fixed or self.lat is None or self.lon is None


@dataclass(frozen=True, slots=True)
class Ingested:
    """What became of one observation: joined or opened ``case_id``, or (``suppressed``) was kept quietly
    on the rejected case of its place."""

    alert_id: str | None
    case_id: str
    new_case: bool
    new_pass: bool
    suppressed: bool = False


@dataclass
class _CaseState:
    """The sighting summary of a case while a batch is being ingested (written once at the end)."""

    id: str
    lat: float | None
    lon: float | None
    first_seen: datetime
    last_seen: datetime
    last_camera_id: str | None
    sightings: int
    passes: int
    snapshot_path: str | None
    snapshot_score: float | None = None
    spot: places.Box | None = None
    lane: str = "wall"
    dirty: bool = False
    out_of_order: bool = False  # a sighting older than the latest arrived: passes are recounted at the end


@dataclass
class _Batch:
    touched: dict[str, _CaseState] = field(default_factory=dict)
    sightings: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    results: list[Ingested] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)  # rejected case id -> sightings kept quietly
    scores: dict[str, tuple[float | None, bool]] = field(default_factory=dict)  # joined case -> (best, to wall)


def observation_from_alert(alert: Any, fixed: bool = False) -> Observation:
    """An Observation from a gridwatch.types.Alert (as the stream carries it); ``fixed``: from a fixed camera."""
    url = alert.snapshot_url
    path = url[len(MEDIA_URL_PREFIX):] if url and url.startswith(MEDIA_URL_PREFIX) else None
    bbox = tuple(float(v) for v in alert.bbox) if alert.bbox is not None else None
    return Observation(
        category=alert.category, seen_at=alert.detected_at, lat=alert.lat, lon=alert.lon, source="camera",
        alert_id=alert.id, camera_id=alert.camera_id, confidence=float(alert.confidence), snapshot_path=path,
        bbox=bbox if bbox is None or len(bbox) == 4 else None, fixed=fixed,  # type: ignore[arg-type]
        likely_real=getattr(alert, "likely_real", None), lane=getattr(alert, "lane", "wall") or "wall",
    )


def _spot(row: Any) -> places.Box | None:
    if row.spot_x1 is None or row.spot_y1 is None or row.spot_x2 is None or row.spot_y2 is None:
        return None
    return (row.spot_x1, row.spot_y1, row.spot_x2, row.spot_y2)


def _spot_values(box: places.Box | None) -> dict[str, float | None]:
    b: tuple[float | None, ...] = box if box is not None else (None, None, None, None)
    return {"spot_x1": b[0], "spot_y1": b[1], "spot_x2": b[2], "spot_y2": b[3]}


def _lock_key(*parts: object) -> int:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class CaseService:
    """Turns sightings into cases and lets operators merge and split them; every change is audited."""

    def __init__(
        self, engine: Engine, router: GridRouter, settings: CaseSettings | None = None,
        fixed_camera: Callable[[str], bool] | None = None,
    ) -> None:
        """``fixed_camera(camera_id)``: is it a fixed camera (its alerts matched by picture spot)? Default: none."""
        self._engine = engine
        self._router = router
        self.settings = settings or CaseSettings()
        self._gap = timedelta(seconds=self.settings.pass_gap_s)
        self._fixed_camera = fixed_camera or (lambda _cid: False)

    @property
    def router(self) -> GridRouter:
        return self._router

    # --- ingestion ----------------------------------------------------------------------------------------

    def ingest_alerts(self, conn: Connection, alerts: Sequence[Any]) -> list[Ingested]:
        """The consumer's handler: ingest stream alerts inside the caller's transaction."""
        return self.ingest_observations(conn, [observation_from_alert(a, self._fixed_camera(a.camera_id))
                                               for a in alerts])

    def ingest(self, observations: Sequence[Observation]) -> list[Ingested]:
        """Ingest in a transaction of its own."""
        with write_transaction(self._engine) as conn:
            return self.ingest_observations(conn, observations)

    def ingest_observations(self, conn: Connection, observations: Sequence[Observation]) -> list[Ingested]:
        """Ingest inside the caller's transaction; alerts that already have a sighting are skipped."""
        for o in observations:
            if o.seen_at.tzinfo is None:
                raise ValueError(f"observation of alert {o.alert_id}: seen_at must be timezone-aware")
        alert_ids = [o.alert_id for o in observations if o.alert_id is not None]
        known: set[str] = set()
        if alert_ids:
            query = sa.select(_SIGHTINGS.c.alert_id).where(_SIGHTINGS.c.alert_id.in_(alert_ids))
            known = {r[0] for r in conn.execute(query)}
        todo: list[Observation] = []
        for o in sorted(observations, key=lambda o: o.seen_at):  # in time order: passes and first_seen follow it
            if o.alert_id is not None:
                if o.alert_id in known:
                    continue
                known.add(o.alert_id)
            todo.append(o)
        if not todo:
            return []
        self._lock_places(conn, todo)
        batch = _Batch()
        now = utc_now()
        for o in todo:
            self._ingest_one(conn, o, batch, now)
        self._flush(conn, batch, now)
        return batch.results

    def _lock_places(self, conn: Connection, observations: Iterable[Observation]) -> None:
        if conn.dialect.name != "postgresql":
            return  # SQLite: the write transaction is already exclusive
        keys: set[int] = set()
        for o in observations:
            if o.by_spot or o.lat is None or o.lon is None:
                keys.add(_lock_key(o.category, "camera", o.camera_id))
            else:
                for cell in cell_keys(o.lat, o.lon, self.settings.dedup_distance_m, _LOCK_CELL_DEG):
                    keys.add(_lock_key(o.category, *cell))
        for key in sorted(keys):  # one order everywhere: two consumers never wait on each other in a circle
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def _at_place(self, conn: Connection, o: Observation, by_camera: Any, by_point: Any) -> list[sa.Row[Any]]:
        if o.by_spot:
            return list(conn.execute(by_camera, {"cat": o.category, "cam": o.camera_id}))
        assert o.lat is not None and o.lon is not None
        lat0, lat1, lon0, lon1 = bounding_box(o.lat, o.lon, self.settings.dedup_distance_m)
        return list(conn.execute(by_point, {"cat": o.category, "lat0": lat0, "lat1": lat1, "lon0": lon0,
                                            "lon1": lon1}))

    def _distance(self, o: Observation, lat: float | None, lon: float | None,
                  spot: places.Box | None) -> tuple[bool, float | None]:
        """(same place?, how far: metres, or pixels between spot centres for a fixed camera)."""
        if o.by_spot:
            if o.bbox is None or spot is None:
                return True, None  # nothing to compare: the camera and category decide, as before spots
            if not places.same_spot(o.bbox, spot):
                return False, None
            (ax, ay), (bx, by) = places.box_center(o.bbox), places.box_center(spot)
            return True, ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
        if lat is None or lon is None:
            return False, None  # a case known only by its camera is no place for a GPS sighting
        assert o.lat is not None and o.lon is not None
        distance = haversine_m(o.lat, o.lon, lat, lon)
        return distance <= self.settings.dedup_distance_m, distance

    def _nearest(self, conn: Connection, o: Observation, batch: _Batch) -> tuple[_CaseState, float | None] | None:
        best: tuple[_CaseState, float | None] | None = None
        for row in self._at_place(conn, o, _NEAR_CAMERA, _NEAR_POINT):
            state = batch.touched.get(row.id) or _CaseState(
                id=row.id, lat=row.lat, lon=row.lon, first_seen=row.first_seen, last_seen=row.last_seen,
                last_camera_id=row.last_camera_id, sightings=row.sightings, passes=row.passes,
                snapshot_path=row.snapshot_path, snapshot_score=row.snapshot_score, spot=_spot(row), lane=row.lane,
            )
            same, distance = self._distance(o, state.lat, state.lon, state.spot)
            if not same:
                continue
            if best is None or (distance or 0.0) < (best[1] or 0.0):
                best = (state, distance)
        return best

    def _finished_here(self, conn: Connection, o: Observation) -> tuple[str | None, str | None]:
        """(a false alarm rejected here within suppress_days, else None; the place's latest finished case)."""
        quiet_since = o.seen_at - timedelta(days=self.settings.suppress_days)
        latest: str | None = None
        for row in self._at_place(conn, o, _FINISHED_NEAR_CAMERA, _FINISHED_NEAR_POINT):
            if not self._distance(o, row.lat, row.lon, _spot(row))[0]:
                continue
            latest = latest or row.id
            if (self.settings.suppress_days > 0 and row.drop_reason == RejectReason.FALSE_ALARM.value
                    and row.dropped_at is not None and row.dropped_at >= quiet_since):
                return row.id, latest
        return None, latest

    def _ingest_one(self, conn: Connection, o: Observation, batch: _Batch, now: datetime) -> None:
        found = self._nearest(conn, o, batch)
        kind = "seen"
        score = places.snapshot_score(o.confidence, o.bbox)
        if found is None:
            quiet, previous = self._finished_here(conn, o)
            if quiet is not None:
                batch.suppressed[quiet] = batch.suppressed.get(quiet, 0) + 1
                batch.sightings.append(self._sighting_row(quiet, o, None, False, "suppressed", score))
                batch.results.append(Ingested(o.alert_id, quiet, new_case=False, new_pass=False, suppressed=True))
                return
            state = self._open_case(conn, o, batch, now, previous, score)
            distance: float | None = 0.0 if o.lat is not None else None
            new_pass = True
        else:
            state, distance = found
            new_pass = o.camera_id != state.last_camera_id or o.seen_at - state.last_seen > self._gap
            state.out_of_order |= o.seen_at < state.last_seen
            if o.seen_at >= state.last_seen:
                state.last_seen = o.seen_at
                state.last_camera_id = o.camera_id
                if o.bbox is not None:
                    state.spot = o.bbox
            if o.snapshot_path is not None and places.better_snapshot(score, state.snapshot_score):
                state.snapshot_path, state.snapshot_score = o.snapshot_path, score
            state.first_seen = min(state.first_seen, o.seen_at)
            state.sightings += 1
            state.passes += int(new_pass)
            state.dirty = True
            batch.touched[state.id] = state
            lift = state.lane == "low" and o.lane != "low"
            if o.likely_real is not None or lift:
                # The case keeps its surest sighting's score; a sighting the filter trusts lifts a doubted case
                # onto the wall.
                best, lifted = batch.scores.get(state.id, (None, False))
                if o.likely_real is not None:
                    best = o.likely_real if best is None else max(best, o.likely_real)
                batch.scores[state.id] = (best, lifted or lift)
                if lift:
                    state.lane = "wall"
        batch.sightings.append(self._sighting_row(state.id, o, distance, new_pass, kind, score))
        batch.results.append(Ingested(o.alert_id, state.id, new_case=found is None, new_pass=new_pass))

    @staticmethod
    def _sighting_row(case_id: str, o: Observation, distance: float | None, new_pass: bool, kind: str,
                      score: float | None) -> dict[str, Any]:
        return {
            "case_id": case_id, "alert_id": o.alert_id, "camera_id": o.camera_id, "seen_at": o.seen_at,
            "lat": o.lat, "lon": o.lon, "distance_m": distance, "confidence": o.confidence,
            "snapshot_path": o.snapshot_path, "clip_path": o.clip_path, "new_pass": new_pass, "kind": kind,
            "snapshot_score": score, **_spot_values(o.bbox),
        }

    def _open_case(self, conn: Connection, o: Observation, batch: _Batch, now: datetime, previous: str | None,
                   score: float | None) -> _CaseState:
        route = self._router.route(o.lat, o.lon)
        case_id = uuid.uuid4().hex
        values = self._new_case_values(case_id, o, route, now)
        values.update(previous_case_id=previous, snapshot_score=score if o.snapshot_path else None)
        conn.execute(_INSERT_CASE, values)
        reporter = o.reporter or Actor(o.camera_id or o.source, Role.SYSTEM)
        data = {"source": o.source, "alert_id": o.alert_id, "grid": route.responsible, "fallback": route.fallback,
                "previous_case": previous}
        batch.events.append({
            "case_id": case_id, "at": now, "action": "report", "from_status": None,
            "to_status": Status.REPORTED.value, "actor": reporter.name, "role": str(reporter.role),
            "actor_grid": reporter.grid_code, "note": o.note, "data": json.dumps(data, ensure_ascii=False),
        })
        if route.responsible is None:
            log.warning("case %s at (%s, %s) lies in no grid and no fallback grid is set", case_id, o.lat, o.lon)
        state = _CaseState(
            id=case_id, lat=o.lat, lon=o.lon, first_seen=o.seen_at, last_seen=o.seen_at,
            last_camera_id=o.camera_id, sightings=1, passes=1, snapshot_path=o.snapshot_path,
            snapshot_score=values["snapshot_score"], spot=o.bbox, lane=values["lane"],
        )
        batch.touched[case_id] = state
        return state

    @staticmethod
    def _new_case_values(case_id: str, o: Observation, route: Route, now: datetime) -> dict[str, Any]:
        return {
            "id": case_id, "category": o.category, "status": Status.REPORTED.value, "is_open": True,
            "source": o.source, "lat": o.lat, "lon": o.lon, "camera_id": o.camera_id,
            "grid_code": route.grid_code, "community_code": route.community_code, "office_code": route.office_code,
            "routed_by_fallback": route.fallback, "assignee_grid": route.responsible,
            "first_seen": o.seen_at, "last_seen": o.seen_at, "last_camera_id": o.camera_id,
            "sightings": 1, "passes": 1, "snapshot_path": o.snapshot_path, "reported_at": o.seen_at,
            "rework_count": 0, "updated_at": now, "suppressed": 0, **_spot_values(o.bbox),
            "likely_real": o.likely_real, "lane": "low" if o.lane == "low" else "wall",
        }

    def _flush(self, conn: Connection, batch: _Batch, now: datetime) -> None:
        if batch.sightings:
            conn.execute(sa.insert(_SIGHTINGS), batch.sightings)
        audit.record_many(conn, batch.events)
        dirty = [s for s in batch.touched.values() if s.dirty]
        if dirty:
            stmt = (
                sa.update(_CASES)
                .where(_CASES.c.id == sa.bindparam("b_id"))
                .values(
                    first_seen=sa.bindparam("b_first"), last_seen=sa.bindparam("b_last"),
                    last_camera_id=sa.bindparam("b_cam"), sightings=sa.bindparam("b_n"),
                    passes=sa.bindparam("b_passes"), snapshot_path=sa.bindparam("b_snap"),
                    snapshot_score=sa.bindparam("b_score"), spot_x1=sa.bindparam("b_x1"),
                    spot_y1=sa.bindparam("b_y1"), spot_x2=sa.bindparam("b_x2"), spot_y2=sa.bindparam("b_y2"),
                    possibly_resolved_at=None, updated_at=now,
                )
            )
            conn.execute(stmt, [
                {"b_id": s.id, "b_first": s.first_seen, "b_last": s.last_seen, "b_cam": s.last_camera_id,
                 "b_n": s.sightings, "b_passes": s.passes, "b_snap": s.snapshot_path, "b_score": s.snapshot_score,
                 **{f"b_{k[-2:]}": v for k, v in _spot_values(s.spot).items()}}
                for s in dirty
            ])
        if batch.suppressed:
            conn.execute(
                sa.update(_CASES).where(_CASES.c.id == sa.bindparam("b_id"))
                .values(suppressed=_CASES.c.suppressed + sa.bindparam("b_more")),
                [{"b_id": cid, "b_more": n} for cid, n in batch.suppressed.items()],
            )
        for cid, (best, lift) in batch.scores.items():
            values: dict[str, Any] = {}
            if best is not None:
                values["likely_real"] = sa.case(
                    (sa.or_(_CASES.c.likely_real.is_(None), _CASES.c.likely_real < best), best),
                    else_=_CASES.c.likely_real)
            if lift:
                values["lane"] = "wall"
            conn.execute(sa.update(_CASES).where(_CASES.c.id == cid).values(**values))
        for s in batch.touched.values():
            if s.out_of_order:
                self._recompute(conn, s.id, now)

    # --- intake by people -------------------------------------------------------------------------------------

    def report(
        self, category: str, lat: float | None, lon: float | None, reporter: Actor, source: str,
        note: str | None = None, photo_path: str | None = None, at: datetime | None = None,
    ) -> Ingested:
        """A problem reported by a person (phone, web, Open311); it joins an open case nearby like a sighting."""
        if source == "camera":
            raise ValueError("report() is for people's reports; camera alerts come through ingest_alerts")
        o = Observation(
            category=category, seen_at=at or utc_now(), lat=lat, lon=lon, source=source, reporter=reporter,
            note=note, snapshot_path=photo_path,
        )
        [result] = self.ingest([o])
        return result

    # --- merge and split ---------------------------------------------------------------------------------------

    def _lock(self, conn: Connection, case_ids: Sequence[str]) -> dict[str, sa.Row[Any]]:
        query = sa.select(_CASES).where(_CASES.c.id.in_(sorted(set(case_ids)))).order_by(_CASES.c.id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {r.id: r for r in conn.execute(query)}
        missing = sorted(set(case_ids) - rows.keys())
        if missing:
            raise CaseNotFoundError(f"no case {', '.join(missing)}")
        return rows

    def merge(self, into: str, others: Sequence[str], actor: Actor, note: str | None = None) -> None:
        """Fold ``others`` into ``into``: their sightings move over, they end as rejected duplicates (audited)."""
        sources = [c for c in dict.fromkeys(others) if c != into]
        if not sources:
            raise CaseStateError(f"merge needs at least one case other than {into}")
        now = utc_now()
        with write_transaction(self._engine) as conn:
            rows = self._lock(conn, [into, *sources])
            for cid, row in rows.items():
                if not row.is_open:
                    raise CaseStateError(f"case {cid} is {row.status}; only open cases can be merged")
            categories = {rows[c].category for c in [into, *sources]}
            conn.execute(sa.update(_SIGHTINGS).where(_SIGHTINGS.c.case_id.in_(sources)).values(case_id=into))
            conn.execute(
                sa.update(_CASES)
                .where(_CASES.c.id.in_(sources))
                .values(
                    status=Status.REJECTED.value, is_open=False, merged_into=into, dropped_at=now,
                    drop_reason=RejectReason.DUPLICATE.value, deadline_at=None, sightings=0, passes=0,
                    updated_at=now,
                )
            )
            for cid in sources:
                audit.record(conn, cid, "merge", actor, now, rows[cid].status, Status.REJECTED.value, note,
                             {"merged_into": into})
            audit.record(conn, into, "merge", actor, now, rows[into].status, rows[into].status, note,
                         {"merged": sources, "categories": sorted(categories)})
            self._recompute(conn, into, now)
        log.info("cases %s merged into %s by %s (%s)", ", ".join(sources), into, actor.name, actor.role)

    def split(self, case_id: str, sighting_ids: Sequence[int], actor: Actor, note: str | None = None) -> str:
        """Move the given sightings of a case into a new case (a different problem); returns the new case's id."""
        wanted = set(sighting_ids)
        if not wanted:
            raise CaseStateError("split needs at least one sighting to move")
        now = utc_now()
        with write_transaction(self._engine) as conn:
            row = self._lock(conn, [case_id])[case_id]
            if not row.is_open:
                raise CaseStateError(f"case {case_id} is {row.status}; only open cases can be split")
            sightings = list(conn.execute(
                sa.select(_SIGHTINGS).where(_SIGHTINGS.c.case_id == case_id).order_by(_SIGHTINGS.c.seen_at)
            ))
            have = {s.id for s in sightings}
            if not wanted <= have:
                raise CaseStateError(f"sightings {sorted(wanted - have)} are not sightings of case {case_id}")
            if wanted == have:
                raise CaseStateError(f"split must leave case {case_id} at least one sighting")
            first = next(s for s in sightings if s.id in wanted)
            o = Observation(category=row.category, seen_at=first.seen_at, lat=first.lat, lon=first.lon,
                            source=row.source, camera_id=first.camera_id, snapshot_path=first.snapshot_path)
            new_id = uuid.uuid4().hex
            route = self._router.route(first.lat, first.lon)
            conn.execute(sa.insert(_CASES).values(**self._new_case_values(new_id, o, route, now)))
            conn.execute(sa.update(_SIGHTINGS).where(_SIGHTINGS.c.id.in_(wanted)).values(case_id=new_id))
            audit.record(conn, case_id, "split", actor, now, row.status, row.status, note,
                         {"new_case": new_id, "sightings": sorted(wanted)})
            audit.record(conn, new_id, "split", actor, now, None, Status.REPORTED.value, note,
                         {"split_from": case_id, "sightings": sorted(wanted)})
            self._recompute(conn, case_id, now)
            self._recompute(conn, new_id, now)
        log.info("case %s split: %d sightings moved to new case %s by %s", case_id, len(wanted), new_id, actor.name)
        return new_id

    def _recompute(self, conn: Connection, case_id: str, now: datetime) -> None:
        """Sighting summary and pass flags of a case from its sightings (after a merge or split)."""
        rows = list(conn.execute(
            sa.select(_SIGHTINGS.c.id, _SIGHTINGS.c.seen_at, _SIGHTINGS.c.camera_id, _SIGHTINGS.c.snapshot_path,
                      _SIGHTINGS.c.new_pass, _SIGHTINGS.c.snapshot_score, _SIGHTINGS.c.spot_x1,
                      _SIGHTINGS.c.spot_y1, _SIGHTINGS.c.spot_x2, _SIGHTINGS.c.spot_y2)
            .where(_SIGHTINGS.c.case_id == case_id, _SIGHTINGS.c.kind == "seen")
            .order_by(_SIGHTINGS.c.seen_at, _SIGHTINGS.c.id)
        ))
        if not rows:
            return
        flags: list[dict[str, Any]] = []
        passes = 0
        prev: Any = None
        for r in rows:
            new_pass = prev is None or r.camera_id != prev.camera_id or r.seen_at - prev.seen_at > self._gap
            passes += int(new_pass)
            if bool(r.new_pass) != new_pass:
                flags.append({"b_id": r.id, "b_pass": new_pass})
            prev = r
        if flags:
            conn.execute(
                sa.update(_SIGHTINGS).where(_SIGHTINGS.c.id == sa.bindparam("b_id"))
                .values(new_pass=sa.bindparam("b_pass")),
                flags,
            )
        best: tuple[str | None, float | None] = (None, None)
        for r in rows:  # in time order: of equal scores the later wins, as a newer picture is the better one
            if r.snapshot_path and (best[0] is None or places.better_snapshot(r.snapshot_score, best[1])
                                    or r.snapshot_score == best[1]):
                best = (r.snapshot_path, r.snapshot_score)
        spots = [_spot(r) for r in rows if _spot(r) is not None]
        conn.execute(
            sa.update(_CASES).where(_CASES.c.id == case_id).values(
                first_seen=rows[0].seen_at, last_seen=rows[-1].seen_at, last_camera_id=rows[-1].camera_id,
                sightings=len(rows), passes=passes, snapshot_path=best[0], snapshot_score=best[1],
                updated_at=now, **_spot_values(spots[-1] if spots else None),
            )
        )

    # --- a pass that sees nothing ---------------------------------------------------------------------------------

    def record_clear_pass(
        self, case_id: str, camera_id: str, at: datetime, lat: float | None = None, lon: float | None = None,
        snapshot_path: str | None = None,
    ) -> bool:
        """A camera looked at an open case's place at ``at`` and found nothing of its category: a ``clear``
        sighting (with the picture it looked at) goes on the case's timeline, ``possibly_resolved_at`` is set,
        and the case moves to the operator's check (workflow SEEN_CLEAR) where its status allows. False (and
        nothing stored) when the case is finished or was seen at or after ``at``."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        actor = Actor(camera_id, Role.SYSTEM)
        now = utc_now()
        with write_transaction(self._engine) as conn:
            row = self._lock(conn, [case_id])[case_id]
            if not row.is_open or row.last_seen >= at:
                return False
            distance = None
            if lat is not None and lon is not None and row.lat is not None and row.lon is not None:
                distance = haversine_m(lat, lon, row.lat, row.lon)
            conn.execute(sa.insert(_SIGHTINGS).values(
                case_id=case_id, alert_id=None, camera_id=camera_id, seen_at=at, lat=lat, lon=lon,
                distance_m=distance, snapshot_path=snapshot_path, new_pass=True, kind="clear",
            ))
            values: dict[str, Any] = {"possibly_resolved_at": at, "updated_at": now}
            to_status = row.status
            try:
                check(row.status, Action.SEEN_CLEAR, actor)
            except WorkflowError:
                pass  # already waiting for the check (or deferred): the pass is on the timeline all the same
            else:
                to_status = Status.HANDLED.value
                values.update(status=to_status, feedback_note=CLEAR_NOTE, feedback_photo=snapshot_path)
                if row.handled_at is None:
                    values["handled_at"] = now
            conn.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(**values))
            audit.record(conn, case_id, Action.SEEN_CLEAR.value, actor, now, row.status, to_status, CLEAR_NOTE,
                         {"camera_id": camera_id, "passed_at": at, "snapshot": snapshot_path})
        log.info("case %s seen clear by %s at %s (%s -> %s)", case_id, camera_id, at.isoformat(), row.status,
                 to_status)
        return True
