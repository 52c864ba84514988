"""The vagrant rule (流浪乞讨): a person sitting or lying on the street, confirmed over several frames.

Pure, same shape as every rule: ``vagrant_rule(state, tracked, now, rules) -> (state, events)``. The camera's
context (moving or fixed, its zones) travels in the state, made once per camera with ``VagrantState.for_view``.

* Posture per frame from pose keypoints when the pipeline attached them, else from the box
  (``vision.posture``): sitting means on the ground; a person on a bench, chair or wall (feet a shin below the
  hips, or hips inside a detected bench/chair box) and a person sitting on a lawn (a picnicker) are SEATED and
  never a vagrant's posture; lying counts anywhere. With ``vision.fall_model`` set, a person the fall model saw
  lying (``vision.fall``: a confident, lying-shaped Fall box) is lying where pose is unsure or says upright,
  including a person the detector missed and the fall model added. Confirmed when ``posture_min_frames`` of
  the track's last ``posture_window`` frames show a configured posture and the person is not walking.
* Fixed camera: confirmed, with the feet inside a vagrant zone, for ``vagrant_dwell_seconds``.
* Patrol car: the car passes in seconds, so confirmed and seen sitting/lying in ``patrol_min_frames`` frames
  taken at one place (all GPS fixes within ``patrol_place_radius_m``); the frames before the posture was
  confirmed count too.
* One issue per person: NEW once, UPDATE when a better snapshot is seen (rate-limited), END when gone; a track
  re-found under a new id at the same place or spot joins the open issue instead of raising another.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from gridwatch.settings import RulesSettings
from gridwatch.types import GpsFix, IssueEvent, TrackedFrame
from vision import issues as iss
from vision.evidence import vagrant_evidence
from vision.motion import PathPoint, extend, speed
from vision.posture import SEAT_CLASSES, Posture, classify, ground_posture, with_fall_signal
from vision.rules import FORGET_AFTER, MAX_GAP, PERSON
from vision.zones import CameraView, in_image_zone, one_place

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True, eq=False)
class PersonTrack:
    """What the rule remembers of one person track."""

    first_seen: datetime  # start of the current continuous stay
    last_seen: datetime
    postures: tuple[Posture, ...] = ()
    path: tuple[PathPoint, ...] = ()
    ground_since: datetime | None = None  # start of the current confirmed stay (fixed camera)
    ground_last: datetime | None = None
    ground_fixes: tuple[GpsFix | None, ...] = ()  # one per confirmed frame (patrol car)
    best: iss.Snapshot | None = None  # best view while sitting/lying, before the issue opens
    issue_id: str | None = None


@dataclass(frozen=True, eq=False)
class VagrantState:
    """One camera's vagrant memory (replaced, never mutated)."""

    view: CameraView | None = None  # None: a fixed camera watching everywhere, id taken from the frames
    tracks: Mapping[int, PersonTrack] = field(default_factory=dict)
    issues: Mapping[str, iss.Issue] = field(default_factory=dict)

    @classmethod
    def for_view(cls, view: CameraView) -> VagrantState:
        return cls(view=view)


def _check_camera(view: CameraView | None, camera_id: str) -> CameraView:
    if view is None:
        return CameraView(camera_id=camera_id)
    if view.camera_id != camera_id:
        # Track ids are per camera; mixing cameras in one state would merge strangers' tracks.
        raise ValueError(f"vagrant state of camera {view.camera_id!r} was given a frame of {camera_id!r}")
    return view


def vagrant_rule(
    state: VagrantState, tracked: TrackedFrame, now: datetime, rules: RulesSettings
) -> tuple[VagrantState, list[IssueEvent]]:
    frame, dets = tracked.frame, tracked.detections
    view = _check_camera(state.view, frame.camera_id)
    height, width = frame.image.shape[:2]
    wanted = {Posture(p) for p in view.postures_for(rules)}
    tracks: dict[int, PersonTrack] = {}
    issues = dict(state.issues)
    events: list[IssueEvent] = []
    # A lying person is wide and low: the size test takes the box's longer side, so lying counts near and far.
    sizes = np.maximum(dets.xyxy[:, 3] - dets.xyxy[:, 1], dets.xyxy[:, 2] - dets.xyxy[:, 0])
    seats = [tuple(float(v) for v in dets.xyxy[i]) for i in range(len(dets)) if dets.class_name[i] in SEAT_CLASSES]
    for i in range(len(dets)):
        tid = int(dets.track_id[i])
        if dets.class_name[i] != PERSON or tid < 0 or sizes[i] < rules.min_box_height or tid in tracks:
            continue
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
        box: Box = (x1, y1, x2, y2)
        conf = float(dets.confidence[i])
        prev = state.tracks.get(tid)
        if prev is None or now - prev.last_seen > MAX_GAP:
            prev = PersonTrack(first_seen=now, last_seen=now, issue_id=prev.issue_id if prev else None)
        path = extend(prev.path, now, box)
        keypoints = None if dets.keypoints is None else dets.keypoints[i]
        if keypoints is not None and not np.any(keypoints[:, 2] > 0):
            keypoints = None  # the pipeline fills persons without a pose with zeros
        v = None if view.mobile else speed(path)
        posture = classify(box, keypoints, v, (width, height), walking_speed=rules.still_max_speed)
        posture = with_fall_signal(posture, 0.0 if dets.fall is None else float(dets.fall[i]))
        posture = ground_posture(posture, box, frame.image, seats)  # type: ignore[arg-type]
        postures = (*prev.postures, posture)[-rules.posture_window:]
        # Someone moving across a fixed camera's view is not sitting or lying, whatever their box looks like.
        moving = v is not None and v >= rules.still_max_speed
        confirmed = not moving and sum(p in wanted for p in postures) >= rules.posture_min_frames
        view_now = None
        if posture in wanted:
            seen = vagrant_evidence(dets, i, box, conf, [p.value for p in postures],
                                    0.0 if dets.fall is None else float(dets.fall[i]), v, view.mobile,
                                    (width, height))
            view_now = iss.snapshot(conf, box, frame.image, frame.fix, now, seen)
        track = replace(prev, last_seen=now, postures=postures, path=path,
                        best=prev.best if view_now is None else iss.better(prev.best, view_now))

        if track.issue_id is not None and track.issue_id in issues:
            issues[track.issue_id] = iss.observe(issues[track.issue_id], now, box, view_now)
            tracks[tid] = track
            continue
        track = replace(track, issue_id=None)
        due = False
        if view.mobile:
            # Every sitting/lying frame counts towards the place, including those before the posture is
            # confirmed: a car passes in seconds, and a loaded worker sees only a few frames of it.
            if posture in wanted:
                fixes = (*track.ground_fixes, frame.fix)
                if not one_place(fixes, rules.patrol_place_radius_m):
                    fixes = (frame.fix,)  # the car has moved on: count afresh from here
                track = replace(track, ground_fixes=fixes)
            due = confirmed and len(track.ground_fixes) >= rules.patrol_min_frames
        elif confirmed and in_image_zone(view.vagrant_zones, (x1 + x2) / 2, y2, width, height):
            fresh = track.ground_last is None or now - track.ground_last > MAX_GAP
            since = now if fresh or track.ground_since is None else track.ground_since
            track = replace(track, ground_since=since, ground_last=now)
            due = now - since >= timedelta(seconds=view.dwell_seconds(rules))
        if due and track.best is not None:
            best = track.best
            found = iss.match_issue(issues, rules.vagrant_category, box, frame.fix, now, rules.patrol_place_radius_m)
            if found is not None:
                issues[found.event_id] = iss.observe(found, now, box, best)
                track = replace(track, issue_id=found.event_id)
            else:
                first = track.ground_since or track.first_seen
                issue, event = iss.open_issue(view.camera_id, rules.vagrant_category, tid, first, now,
                                              best, box, frame.fix)
                issues[issue.event_id] = issue
                events.append(event)
                track = replace(track, issue_id=issue.event_id)
        tracks[tid] = track
    for tid, mem in state.tracks.items():
        if tid not in tracks and now - mem.last_seen <= FORGET_AFTER:
            tracks[tid] = mem
    issues, lifecycle = iss.step_issues(issues, now, rules)
    events.extend(lifecycle)
    return VagrantState(view=view, tracks=tracks, issues=issues), events


def finish_vagrant(state: VagrantState) -> tuple[VagrantState, list[IssueEvent]]:
    """End every open issue (the stream or file is over)."""
    return replace(state, issues={}), iss.end_all(state.issues)
