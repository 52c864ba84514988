"""The grid map: validated GeoJSON import and point-in-grid lookup.

A map has three levels: sub-district offices (1), communities (2) and grids (3). Each feature names its
``parent`` one level up. Coordinates are GeoJSON [lon, lat] WGS-84. A file is checked completely before
anything is returned, so a bad file is never half-imported.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry import shape

from geo.codes import code_problems

log = logging.getLogger(__name__)

LEVELS = (1, 2, 3)
LEVEL_NAMES = {1: "sub-district office", 2: "community", 3: "grid"}
MAX_CODE, MAX_NAME, MAX_LEADER = 32, 200, 100  # the sizes of the grids table's columns
MAX_STAFF = 50  # names in one grid's "staff" property
_STAFF_SEPARATORS = re.compile(r"[,，、;；]")
_MAX_LISTED = 25  # problems spelled out in one error message; a wholly wrong file would drown the useful ones


class GridError(ValueError):
    """A grid map is invalid; ``problems`` names each offending feature (index and code) and what is wrong."""

    def __init__(self, origin: str, problems: Sequence[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems[:_MAX_LISTED])
        more = len(self.problems) - _MAX_LISTED
        if more > 0:
            listed += f"\n  ... and {more} more"
        n = len(self.problems)
        super().__init__(f"invalid grid map {origin}: {n} problem{'s' if n != 1 else ''}:\n{listed}")


@dataclass(frozen=True)
class GridFeature:
    """One polygon of the map; ``geometry`` is the GeoJSON geometry object (Polygon or MultiPolygon)."""

    code: str
    name: str
    level: int
    parent: str | None
    leader: str | None
    geometry: dict[str, Any]
    staff: tuple[str, ...] = ()  # the grid's staff (网格员) besides its leader, from the "staff" property


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two grids of one level that share area (a map drawing error, reported but not refused)."""

    level: int
    first: str
    second: str
    area_m2: float


Progress = Callable[[int, int], None]  # (done, total): called while a large map is read


@dataclass(frozen=True, slots=True)
class GridRef:
    """Where a point lies: the grid and its parents' codes, nearest first (community, then office)."""

    code: str
    name: str
    level: int
    parents: tuple[str, ...]


def _label(index: int, code: object) -> str:
    return f"feature #{index} (code {code!r})" if isinstance(code, str) and code else f"feature #{index} (no code)"


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _ring_problems(ring: object, where: str) -> list[str]:
    if not isinstance(ring, list) or len(ring) < 4:
        n = len(ring) if isinstance(ring, list) else 0
        return [f"{where} needs at least 4 positions (a closed triangle), has {n}"]
    for k, pos in enumerate(ring):
        if not isinstance(pos, list | tuple) or len(pos) < 2 or not all(_is_number(c) for c in pos):
            return [f"{where} position {k} is not [lon, lat] numbers: {pos!r}"]
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return [f"{where} position {k} is not finite: {pos!r}"]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return [f"{where} position {k} {pos!r} is outside WGS-84 (GeoJSON order is [lon, lat])"]
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return [f"{where} is not closed: first position {ring[0]!r} differs from last {ring[-1]!r}"]
    return []


def geometry_problems(geometry: object) -> list[str]:
    """What is wrong with a GeoJSON geometry as a grid polygon (empty list: nothing)."""
    if not isinstance(geometry, Mapping):
        return ["geometry is missing (a Polygon or MultiPolygon is required)"]
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            return ["MultiPolygon has no polygons"]
        polygons = coords
    else:
        return [f"geometry type {kind!r} is not a Polygon or MultiPolygon"]
    problems: list[str] = []
    for p, rings in enumerate(polygons):
        prefix = f"polygon {p} " if kind == "MultiPolygon" else ""
        if not isinstance(rings, list) or not rings:
            problems.append(f"{prefix}has no rings")
            continue
        for r, ring in enumerate(rings):
            problems += _ring_problems(ring, f"{prefix}{'outer ring' if r == 0 else f'hole {r}'}")
    if problems:
        return problems
    geom = shape(geometry)
    if not geom.is_valid:
        return [f"geometry is not a valid polygon: {shapely.is_valid_reason(geom)}"]
    if geom.area == 0:
        return ["geometry has zero area"]
    return []


def _property_problems(code: object, name: object, level: object, parent: object, leader: object) -> list[str]:
    """What is wrong with a feature's properties; the limits are the database columns' sizes."""
    problems: list[str] = []
    if not isinstance(code, str) or not code or len(code) > MAX_CODE or any(c.isspace() for c in code):
        problems.append(f"'code' must be a string of 1..{MAX_CODE} characters without spaces, got {code!r}")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        problems.append(f"'name' must be printable text of 1..{MAX_NAME} characters, got {name!r}")
    if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
        problems.append(f"'level' must be 1, 2 or 3, got {level!r}")
    if parent is not None and (not isinstance(parent, str) or not parent):
        problems.append(f"'parent' must be a code string or null, got {parent!r}")
    if leader is not None and (not isinstance(leader, str) or len(leader) > MAX_LEADER or not leader.isprintable()):
        problems.append(f"'leader' must be printable text of at most {MAX_LEADER} characters or null, got {leader!r}")
    if not problems and isinstance(code, str) and isinstance(level, int):
        # National style: 6-digit division code + 3 digits per level below it (9 / 12 / 15 digits).
        problems += code_problems(code, level, parent)
    return problems


def parse_staff(raw: object) -> tuple[tuple[str, ...], list[str]]:
    """A "staff" property: a list of names, or one text with names separated by , ， 、 ; or ；."""
    if raw is None:
        return (), []
    items = _STAFF_SEPARATORS.split(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(n, str) for n in items):
        return (), [f"'staff' must be a list of names or a text of names separated by commas, got {raw!r}"]
    names = tuple(dict.fromkeys(n.strip() for n in items if n.strip()))
    bad = [n for n in names if len(n) > MAX_LEADER or not n.isprintable()]
    if bad:
        return (), [f"'staff' names must be printable text of at most {MAX_LEADER} characters, got {bad[0]!r}"]
    if len(names) > MAX_STAFF:
        return (), [f"'staff' lists {len(names)} names; at most {MAX_STAFF}"]
    return names, []


def _parse_feature(index: int, raw: object) -> tuple[GridFeature | None, str | None, list[str]]:
    """A GridFeature from one GeoJSON feature (None if its properties are unusable), its code and its problems."""
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        return None, None, [f"feature #{index}: not a GeoJSON Feature object"]
    props = raw.get("properties")
    if not isinstance(props, Mapping):
        return None, None, [f"feature #{index} (no code): properties are missing"]
    code, name, level = props.get("code"), props.get("name"), props.get("level")
    parent, leader = props.get("parent"), props.get("leader")
    label = _label(index, code)
    geometry = raw.get("geometry")
    staff, staff_problems = parse_staff(props.get("staff"))
    problems = [f"{label}: {p}" for p in _property_problems(code, name, level, parent, leader) + staff_problems]
    known_code = code if isinstance(code, str) and code else None
    if problems:
        return None, known_code, problems + [f"{label}: {p}" for p in geometry_problems(geometry)]
    # Properties are fine: the feature takes part in the hierarchy checks even when its geometry is bad.
    feature = GridFeature(
        code=str(code),
        name=str(name).strip(),
        level=int(level),  # type: ignore[arg-type]  # checked above
        parent=parent,  # type: ignore[arg-type]  # checked above
        leader=(leader.strip() or None) if isinstance(leader, str) else None,
        staff=staff,
        # A private plain copy: callers may mutate their dict.
        geometry=json.loads(json.dumps(geometry)) if isinstance(geometry, Mapping) else {},
    )
    return feature, known_code, [f"{label}: {p}" for p in geometry_problems(geometry)]


def _hierarchy_problems(
    features: Sequence[tuple[int, GridFeature]], all_codes: Sequence[tuple[int, str]]
) -> list[str]:
    problems: list[str] = []
    first_index: dict[str, int] = {}
    for i, code in all_codes:
        if code in first_index:
            problems.append(f"{_label(i, code)}: duplicate code, already used by feature #{first_index[code]}")
        else:
            first_index[code] = i
    level_of = {f.code: f.level for _, f in features}
    for i, f in features:
        label = _label(i, f.code)
        if f.level == 1:
            if f.parent is not None:
                problems.append(f"{label}: a level-1 {LEVEL_NAMES[1]} has no parent, got parent {f.parent!r}")
            continue
        want = f.level - 1
        if f.parent is None:
            problems.append(f"{label}: a level-{f.level} {LEVEL_NAMES[f.level]} needs a level-{want} parent")
        elif f.parent not in first_index:
            problems.append(f"{label}: parent {f.parent!r} is not in the map")
        elif f.parent in level_of and level_of[f.parent] != want:
            problems.append(
                f"{label}: parent {f.parent!r} is level {level_of[f.parent]}, a level-{f.level} "
                f"{LEVEL_NAMES[f.level]} needs a level-{want} parent"
            )
    return problems


def validate_features(features: Sequence[GridFeature], origin: str = "(features)") -> None:
    """Raise GridError unless the features form a valid map (geometry, unique codes, parents one level up)."""
    problems: list[str] = []
    for i, f in enumerate(features):
        label = _label(i, f.code)
        problems += [f"{label}: {p}" for p in _property_problems(f.code, f.name, f.level, f.parent, f.leader)]
        problems += [f"{label}: {p}" for p in parse_staff(list(f.staff))[1]]
        problems += [f"{label}: {p}" for p in geometry_problems(f.geometry)]
    indexed = list(enumerate(features))
    problems += _hierarchy_problems(indexed, [(i, f.code) for i, f in indexed])
    if problems:
        raise GridError(origin, problems)


def _read(source: str | Path | Mapping[str, Any]) -> tuple[object, str]:
    if isinstance(source, Mapping):
        return source, "(GeoJSON object)"
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GridError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(str(path), [f"cannot read the file: {exc}"]) from None
    try:
        return json.loads(text), str(path)
    except json.JSONDecodeError as exc:
        raise GridError(str(path), [f"not valid JSON: {exc}"]) from None


def load_geojson(source: str | Path | Mapping[str, Any], progress: Progress | None = None) -> list[GridFeature]:
    """Every feature of a grid-map FeatureCollection, or GridError listing every problem found.

    ``progress(done, total)`` is told how far the check of the features is (a progress bar for big maps)."""
    doc, origin = _read(source)
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        kind = doc.get("type") if isinstance(doc, Mapping) else type(doc).__name__
        raise GridError(origin, [f"the top level must be a GeoJSON FeatureCollection, got {kind!r}"])
    raw_features = doc.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        raise GridError(origin, ["the FeatureCollection has no features"])
    problems: list[str] = []
    parsed: list[tuple[int, GridFeature]] = []
    codes: list[tuple[int, str]] = []
    total = len(raw_features)
    step = max(1, total // 200)
    for i, raw in enumerate(raw_features):
        if progress is not None and i % step == 0:
            progress(i, total)
        feature, code, errs = _parse_feature(i, raw)
        problems += errs
        if code is not None:
            codes.append((i, code))
        if feature is not None:
            parsed.append((i, feature))
    if progress is not None:
        progress(total, total)
    problems += _hierarchy_problems(parsed, codes)
    if problems:
        raise GridError(origin, problems)
    return [f for _, f in parsed]


_M_PER_DEGREE = 111_320.0


def overlaps(features: Sequence[GridFeature], min_area_m2: float = 1.0) -> list[Overlap]:
    """Pairs of same-level grids whose areas overlap by at least ``min_area_m2`` (shared borders do not count),
    largest first. Children lie inside their parents, so only one level is compared with itself."""
    found: list[Overlap] = []
    for level in LEVELS:
        feats = [f for f in features if f.level == level]
        if len(feats) < 2:
            continue
        geoms = [shape(f.geometry) for f in feats]
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i >= j:
                continue
            shared = geoms[i].intersection(geoms[j])
            if shared.is_empty or shared.area <= 0:
                continue
            lat = shared.centroid.y
            area_m2 = shared.area * _M_PER_DEGREE**2 * math.cos(math.radians(lat))
            if area_m2 >= min_area_m2:
                found.append(Overlap(level, feats[i].code, feats[j].code, round(area_m2, 1)))
    return sorted(found, key=lambda o: (-o.area_m2, o.first, o.second))


Ring = tuple[tuple[float, ...], tuple[float, ...]]  # xs, ys of a closed ring (last == first)
_PURE_PYTHON_MAX_VERTICES = 256  # beyond this shapely's C test is faster than a Python loop
_MAX_BUCKETS_PER_POLYGON = 4096  # a polygon spanning more buckets is checked for every point instead


def _ring(coords: Sequence[Sequence[float]]) -> Ring:
    return tuple(float(c[0]) for c in coords), tuple(float(c[1]) for c in coords)


def _ring_covers(ring: Ring, x: float, y: float) -> tuple[bool, bool]:
    """(on the ring's boundary, strictly inside it) for point (x, y), by ray casting."""
    xs, ys = ring
    inside = False
    x1, y1 = xs[0], ys[0]
    for k in range(1, len(xs)):
        x2, y2 = xs[k], ys[k]
        if (y1 > y) != (y2 > y):
            cross = (x2 - x1) * (y - y1) / (y2 - y1) + x1
            if x == cross:
                return True, False
            if x < cross:
                inside = not inside
        elif y == y1 and (x == x1 or (y == y2 and (x1 <= x <= x2 or x2 <= x <= x1))):
            return True, False  # on a vertex or a horizontal edge
        x1, y1 = x2, y2
    return False, inside


def _polygon_covers(rings: Sequence[Ring], x: float, y: float) -> bool:
    on_edge, inside = _ring_covers(rings[0], x, y)
    if on_edge:
        return True
    if not inside:
        return False
    for hole in rings[1:]:
        on_hole_edge, in_hole = _ring_covers(hole, x, y)
        if on_hole_edge:
            return True
        if in_hole:
            return False
    return True


class Locator(Protocol):
    """Point -> leaf grid: a ``GridIndex``, or a ``GridRouter`` (which follows a map replaced at run time)."""

    def locate(self, lat: float, lon: float) -> GridRef | None: ...

    def name_of(self, code: str) -> str | None:
        """The grid's name in the current map (None: not in it)."""
        ...


class GridIndex:
    """Point -> grid lookup over the map's leaf polygons (the level-3 grids; an undivided community counts too).

    A uniform bucket grid (cells about one typical grid wide) narrows a point to the few polygons whose boxes
    hold it; an exact test then decides, counting the boundary as inside ("covers"). A point on a shared edge
    belongs to the grid with the smallest code, so the answer never flickers. Pure Python on plain floats:
    a shapely Point alone costs more than the whole lookup.
    """

    def __init__(self, features: Iterable[GridFeature]) -> None:
        feats = list(features)
        by_code = {f.code: f for f in feats}
        has_children = {f.parent for f in feats if f.parent is not None}
        leaves = sorted((f for f in feats if f.code not in has_children), key=lambda f: (-f.level, f.code))
        self._refs = [GridRef(f.code, f.name, f.level, self._parents(f, by_code)) for f in leaves]
        self._names = {f.code: f.name for f in feats}
        shapes = [shape(f.geometry) for f in leaves]
        self._shapes = np.array(shapes, dtype=object)
        shapely.prepare(self._shapes)
        self._boxes = [tuple(float(v) for v in g.bounds) for g in shapes]
        # Each polygon as rings of plain floats, or None where it is big enough for shapely's C test.
        self._rings: list[list[list[Ring]] | None] = []
        for f in leaves:
            polys = [f.geometry["coordinates"]] if f.geometry["type"] == "Polygon" else f.geometry["coordinates"]
            rings = [[_ring(r) for r in poly] for poly in polys]
            small = sum(len(r[0]) for poly in rings for r in poly) <= _PURE_PYTHON_MAX_VERTICES
            self._rings.append(rings if small else None)
        self._build_buckets()
        log.debug("grid index over %d leaf polygons of %d features", len(leaves), len(feats))

    def _build_buckets(self) -> None:
        boxes = self._boxes
        if not boxes:
            self._cell, self._x0, self._y0 = 1.0, 0.0, 0.0
            self._buckets: dict[tuple[int, int], tuple[int, ...]] = {}
            self._large: tuple[int, ...] = ()
            return
        sizes = sorted(max(b[2] - b[0], b[3] - b[1]) for b in boxes)
        self._cell = max(sizes[len(sizes) // 2], 1e-6)
        self._x0 = min(b[0] for b in boxes)
        self._y0 = min(b[1] for b in boxes)
        buckets: dict[tuple[int, int], list[int]] = {}
        large: list[int] = []
        for i, (x1, y1, x2, y2) in enumerate(boxes):  # in priority order, so every bucket list is too
            i1, i2 = self._bucket(x1, self._x0), self._bucket(x2, self._x0)
            j1, j2 = self._bucket(y1, self._y0), self._bucket(y2, self._y0)
            if (i2 - i1 + 1) * (j2 - j1 + 1) > _MAX_BUCKETS_PER_POLYGON:
                large.append(i)
                continue
            for bi in range(i1, i2 + 1):
                for bj in range(j1, j2 + 1):
                    buckets.setdefault((bi, bj), []).append(i)
        self._buckets = {k: tuple(v) for k, v in buckets.items()}
        self._large = tuple(large)

    def _bucket(self, v: float, origin: float) -> int:
        return math.floor((v - origin) / self._cell)

    @staticmethod
    def _parents(feature: GridFeature, by_code: Mapping[str, GridFeature]) -> tuple[str, ...]:
        chain: list[str] = []
        parent = feature.parent
        while parent is not None and parent in by_code and parent not in chain and len(chain) < len(LEVELS):
            chain.append(parent)
            parent = by_code[parent].parent
        return tuple(chain)

    def __len__(self) -> int:
        return len(self._refs)

    def name_of(self, code: str) -> str | None:
        return self._names.get(code)

    def _covers(self, i: int, x: float, y: float) -> bool:
        x1, y1, x2, y2 = self._boxes[i]
        if x < x1 or x > x2 or y < y1 or y > y2:
            return False
        rings = self._rings[i]
        if rings is None:
            return bool(shapely.intersects_xy(self._shapes[i], x, y))  # for a point, intersects == covers
        for poly in rings:
            if _polygon_covers(poly, x, y):
                return True
        return False

    def locate(self, lat: float, lon: float) -> GridRef | None:
        """The grid holding WGS-84 point (lat, lon), or None outside every grid."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        cell = self._cell
        key = (math.floor((lon - self._x0) / cell), math.floor((lat - self._y0) / cell))
        found: int | None = None
        for i in self._buckets.get(key, ()):
            if self._covers(i, lon, lat):
                found = i
                break
        for i in self._large:
            if (found is None or i < found) and self._covers(i, lon, lat):
                found = i
                break
        return None if found is None else self._refs[found]
