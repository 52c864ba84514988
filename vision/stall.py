"""The stall rule (illegal stall / mobile vendor): stall-like objects grouped with people who stay put, in a
no-vending area.

Pure, same shape as every rule: ``stall_rule(state, tracked, now, rules) -> (state, events)``; the camera's
context travels in the state (``StallState.for_view``).

* Stall objects are detections of ``rules.stall_classes`` (COCO: umbrella, dining table, chair, suitcase,
  handbag, backpack). A bag carried by someone (its box mostly inside that person's box) is not goods.
* A group needs one key object (``stall_key_classes``: umbrella, dining table) — without it, bags and
  chairs around sitting people are their belongings (the vagrant rule's business), not a stall.
* A group is one or more persons who stay put (moving slower than ``still_max_speed``; on a moving camera
  every person qualifies, the GPS place test below does that job) with at least ``stall_min_objects`` objects
  within ``stall_group_distance`` of their height.
* Inside a no-vending area: the group's foot point in an image zone (fixed camera), the car's GPS fix in a
  map area (patrol car); unset zones mean everywhere.
* Fixed camera: the group stays ``stall_seconds``; patrol car: it is seen in ``patrol_min_frames`` frames at
  one place. Then one issue with new / update / end phases, as for vagrants.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from gridwatch.settings import RulesSettings
from gridwatch.types import GpsFix, IssueEvent, TrackedFrame
from vision import issues as iss
from vision.evidence import stall_evidence
from vision.motion import PathPoint, extend, speed
from vision.rules import FORGET_AFTER, MAX_GAP, PERSON
from vision.zones import CameraView, in_image_zone, in_map_area, one_place

Box = tuple[float, float, float, float]

# Bags are what pedestrians carry; only bags set down count as goods.
CARRIED_CLASSES = frozenset({"handbag", "backpack"})
CARRIED_INSIDE = 0.6  # fraction of the bag's box inside a person's box
# A group overlapping a candidate's region this much (or with its foot point inside it) is that candidate.
SAME_GROUP_IOU = 0.2


@dataclass(frozen=True, slots=True, eq=False)
class StallCandidate:
    """A group seen over several frames, not (yet) an issue, or the sightings of an open issue."""

    first_seen: datetime
    last_seen: datetime
    region: Box
    track_id: int
    fixes: tuple[GpsFix | None, ...] = ()
    best: iss.Snapshot | None = None
    issue_id: str | None = None


@dataclass(frozen=True, eq=False)
class StallState:
    view: CameraView | None = None
    paths: Mapping[int, tuple[PathPoint, ...]] = field(default_factory=dict)  # person tracks, for stillness
    candidates: Mapping[int, StallCandidate] = field(default_factory=dict)
    issues: Mapping[str, iss.Issue] = field(default_factory=dict)
    next_key: int = 1

    @classmethod
    def for_view(cls, view: CameraView) -> StallState:
        return cls(view=view)


@dataclass(frozen=True, slots=True)
class _Member:
    box: Box
    confidence: float
    track_id: int


def _gap(a: Box, b: Box) -> float:
    """Distance between two boxes' edges (0 when they overlap)."""
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float((dx * dx + dy * dy) ** 0.5)


def _inside_fraction(inner: Box, outer: Box) -> float:
    ix = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return ix * iy / area if area > 0 else 0.0


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def group_stalls(
    persons: list[_Member], objects: list[tuple[_Member, str]], all_persons: list[Box], rules: RulesSettings
) -> list[tuple[list[_Member], list[_Member]]]:
    """Groups of (persons, objects): persons who share objects are one stall."""
    kept = [(o, name) for o, name in objects if not (
        name in CARRIED_CLASSES and any(_inside_fraction(o.box, p) >= CARRIED_INSIDE for p in all_persons))]
    goods = [o for o, _ in kept]
    key_classes = set(rules.stall_key_classes)
    is_key = [not key_classes or name in key_classes for _, name in kept]
    parent = list(range(len(persons)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}  # object index -> a person index it belongs to
    for pi, p in enumerate(persons):
        reach = rules.stall_group_distance * (p.box[3] - p.box[1])
        for oi, o in enumerate(goods):
            if _gap(p.box, o.box) <= reach:
                if oi in owner:
                    parent[root(pi)] = root(owner[oi])
                else:
                    owner[oi] = pi
    groups: dict[int, tuple[list[_Member], list[_Member]]] = {}
    for pi, p in enumerate(persons):
        groups.setdefault(root(pi), ([], []))[0].append(p)
    has_key: set[int] = set()
    for oi, pi in owner.items():
        groups[root(pi)][1].append(goods[oi])
        if is_key[oi]:
            has_key.add(root(pi))
    return [g for r, g in groups.items() if len(g[1]) >= rules.stall_min_objects and r in has_key]


def stall_rule(
    state: StallState, tracked: TrackedFrame, now: datetime, rules: RulesSettings
) -> tuple[StallState, list[IssueEvent]]:
    frame, dets = tracked.frame, tracked.detections
    view = state.view if state.view is not None else CameraView(camera_id=frame.camera_id)
    if view.camera_id != frame.camera_id:
        raise ValueError(f"stall state of camera {view.camera_id!r} was given a frame of {frame.camera_id!r}")
    height, width = frame.image.shape[:2]
    stall_classes = set(rules.stall_classes)
    paths: dict[int, tuple[PathPoint, ...]] = {}
    still: list[_Member] = []
    person_boxes: list[Box] = []
    objects: list[tuple[_Member, str]] = []
    for i in range(len(dets)):
        box: Box = tuple(float(v) for v in dets.xyxy[i])  # type: ignore[assignment]
        member = _Member(box, float(dets.confidence[i]), int(dets.track_id[i]))
        name = dets.class_name[i]
        if name == PERSON:
            person_boxes.append(box)
            if member.track_id < 0 or box[3] - box[1] < rules.min_box_height or member.track_id in paths:
                continue
            old = state.paths.get(member.track_id, ())
            if old and now - old[-1][0] > MAX_GAP:
                old = ()
            paths[member.track_id] = extend(old, now, box)
            v = speed(paths[member.track_id])
            if view.mobile or (v is not None and v < rules.still_max_speed):
                still.append(member)
        elif name in stall_classes:
            objects.append((member, name))
    for tid, path in state.paths.items():
        if tid not in paths and now - path[-1][0] <= FORGET_AFTER:
            paths[tid] = path

    candidates = dict(state.candidates)
    issues = dict(state.issues)
    events: list[IssueEvent] = []
    next_key = state.next_key
    in_area = in_map_area(view.no_vending_areas, frame.fix) if view.mobile else True
    matched: set[int] = set()
    name_of = {id(m): name for m, name in objects}  # the goods' classes, for the group's evidence
    for persons, goods in group_stalls(still, objects, person_boxes, rules) if in_area else []:
        region = _union([m.box for m in persons + goods])
        foot_x, foot_y = (region[0] + region[2]) / 2, region[3]
        if not view.mobile and not in_image_zone(view.no_vending_zones, foot_x, foot_y, width, height):
            continue
        lead = max(persons, key=lambda m: m.confidence)
        conf = (lead.confidence + max(g.confidence for g in goods)) / 2
        seen = stall_evidence(dets, region, conf, len(persons), [name_of[id(g)] for g in goods], view.mobile,
                              (width, height))
        shot = iss.snapshot(conf, region, frame.image, frame.fix, now, seen)
        key = _match_candidate(candidates, region, foot_x, foot_y, now, rules, exclude=matched)
        if key is None:
            key, next_key = next_key, next_key + 1
            cand = StallCandidate(first_seen=now, last_seen=now, region=region, track_id=lead.track_id)
        else:
            cand = candidates[key]
        matched.add(key)
        fixes = (*cand.fixes, frame.fix)
        if view.mobile and not one_place(fixes, rules.patrol_place_radius_m):
            fixes = (frame.fix,)
        cand = replace(cand, last_seen=now, region=region, fixes=fixes, best=iss.better(cand.best, shot))
        if cand.issue_id is not None and cand.issue_id in issues:
            issues[cand.issue_id] = iss.observe(issues[cand.issue_id], now, region, shot)
        else:
            due = (len(fixes) >= rules.patrol_min_frames if view.mobile
                   else now - cand.first_seen >= timedelta(seconds=view.stall_seconds_for(rules)))
            if due and cand.best is not None:
                best = cand.best
                found = iss.match_issue(issues, rules.stall_category, region, frame.fix, now,
                                        rules.patrol_place_radius_m)
                if found is not None:
                    issues[found.event_id] = iss.observe(found, now, region, best)
                    cand = replace(cand, issue_id=found.event_id)
                else:
                    issue, event = iss.open_issue(view.camera_id, rules.stall_category, cand.track_id,
                                                  cand.first_seen, now, best, region, frame.fix)
                    issues[issue.event_id] = issue
                    events.append(event)
                    cand = replace(cand, issue_id=issue.event_id)
        candidates[key] = cand
    # A stall's objects flicker in and out of detection: a candidate survives gaps up to end_after_seconds.
    keep_for = timedelta(seconds=rules.end_after_seconds)
    candidates = {k: c for k, c in candidates.items() if now - c.last_seen <= keep_for}
    issues, lifecycle = iss.step_issues(issues, now, rules)
    events.extend(lifecycle)
    return StallState(view=view, paths=paths, candidates=candidates, issues=issues, next_key=next_key), events


def _match_candidate(
    candidates: Mapping[int, StallCandidate], region: Box, foot_x: float, foot_y: float, now: datetime,
    rules: RulesSettings, exclude: set[int],
) -> int | None:
    best_key, best_iou = None, 0.0
    for key, cand in candidates.items():
        if key in exclude or now - cand.last_seen > timedelta(seconds=rules.end_after_seconds):
            continue
        r = cand.region
        iou = iss.box_iou(region, r)
        inside = r[0] <= foot_x <= r[2] and r[1] <= foot_y <= r[3] + (r[3] - r[1]) * 0.1
        score = max(iou, SAME_GROUP_IOU if inside else 0.0)
        if score >= SAME_GROUP_IOU and score > best_iou:
            best_key, best_iou = key, score
    return best_key


def finish_stall(state: StallState) -> tuple[StallState, list[IssueEvent]]:
    """End every open issue (the stream or file is over)."""
    return replace(state, issues={}, candidates={}), iss.end_all(state.issues)
