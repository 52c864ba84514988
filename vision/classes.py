"""The class rule: a custom model's own issue classes (``vision.class_categories``), e.g. ``vendor_cart`` ->
0501, ``stall_tent`` -> 0503, ``lying_person`` -> 0502. A track of such a class seen in ``class_min_frames``
frames is one issue (new / update / end), so a model trained on these classes needs no code.

Pure, same shape as every rule: ``class_rule(state, tracked, now, rules) -> (state, events)``; the class map
and the camera travel in the state (``ClassState.for_view``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from gridwatch.settings import RulesSettings
from gridwatch.types import GpsFix, IssueEvent, TrackedFrame
from vision import issues as iss
from vision.rules import FORGET_AFTER, MAX_GAP
from vision.zones import CameraView

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True, eq=False)
class ClassTrack:
    first_seen: datetime
    last_seen: datetime
    frames: int
    best: iss.Snapshot
    fix: GpsFix | None
    issue_id: str | None = None


@dataclass(frozen=True, eq=False)
class ClassState:
    class_map: Mapping[str, str] = field(default_factory=dict)  # class name -> category code
    view: CameraView | None = None
    tracks: Mapping[int, ClassTrack] = field(default_factory=dict)
    issues: Mapping[str, iss.Issue] = field(default_factory=dict)

    @classmethod
    def for_view(cls, view: CameraView, class_map: Mapping[str, str]) -> ClassState:
        return cls(class_map=dict(class_map), view=view)


def class_rule(
    state: ClassState, tracked: TrackedFrame, now: datetime, rules: RulesSettings
) -> tuple[ClassState, list[IssueEvent]]:
    frame, dets = tracked.frame, tracked.detections
    view = state.view if state.view is not None else CameraView(camera_id=frame.camera_id)
    if view.camera_id != frame.camera_id:
        raise ValueError(f"class state of camera {view.camera_id!r} was given a frame of {frame.camera_id!r}")
    tracks: dict[int, ClassTrack] = {}
    issues = dict(state.issues)
    events: list[IssueEvent] = []
    for i in range(len(dets)):
        category = state.class_map.get(dets.class_name[i])
        tid = int(dets.track_id[i])
        if category is None or tid < 0 or tid in tracks:
            continue
        box: Box = tuple(float(v) for v in dets.xyxy[i])  # type: ignore[assignment]
        shot = iss.snapshot(float(dets.confidence[i]), box, frame.image, frame.fix, now)
        prev = state.tracks.get(tid)
        if prev is None or now - prev.last_seen > MAX_GAP:
            track = ClassTrack(first_seen=now, last_seen=now, frames=1, best=shot, fix=frame.fix,
                               issue_id=prev.issue_id if prev else None)
        else:
            track = replace(prev, last_seen=now, frames=prev.frames + 1, best=iss.better(prev.best, shot))
        if track.issue_id is not None and track.issue_id in issues:
            issues[track.issue_id] = iss.observe(issues[track.issue_id], now, box, shot)
        elif track.frames >= rules.class_min_frames:
            found = iss.match_issue(issues, category, box, frame.fix, now, rules.patrol_place_radius_m)
            if found is not None:
                issues[found.event_id] = iss.observe(found, now, box, track.best)
                track = replace(track, issue_id=found.event_id)
            else:
                issue, event = iss.open_issue(view.camera_id, category, tid, track.first_seen, now, track.best,
                                              box, track.fix)
                issues[issue.event_id] = issue
                events.append(event)
                track = replace(track, issue_id=issue.event_id)
        tracks[tid] = track
    for tid, mem in state.tracks.items():
        if tid not in tracks and now - mem.last_seen <= FORGET_AFTER:
            tracks[tid] = mem
    issues, lifecycle = iss.step_issues(issues, now, rules)
    events.extend(lifecycle)
    return ClassState(class_map=state.class_map, view=view, tracks=tracks, issues=issues), events


def finish_classes(state: ClassState) -> tuple[ClassState, list[IssueEvent]]:
    return replace(state, issues={}), iss.end_all(state.issues)
