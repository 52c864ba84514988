"""Pure rules that turn one camera's tracked frames into issue events: no I/O, the clock is passed in.

Every rule has the same shape (see ``Rule``): ``(state, tracked, now, rules) -> (new_state, events)``, with a
frozen per-camera state, so rules are tested from plain lists and a hand-set clock, and the caller keeps one
state per camera and rule (``vision.ruleset.CameraRules``). This module holds the shape, the shared track
helpers and ``dwell_rule`` (the walking skeleton's: a person in view long enough raises exactly one event; a
demo rule, off by default). The street rules live beside it: ``vision.vagrant``, ``vision.stall`` and
``vision.classes`` (a custom model's own issue classes).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import numpy as np

from gridwatch.settings import RulesSettings
from gridwatch.types import Detections, IssueEvent, Phase, TrackedFrame

PERSON = "person"
# A track missing from a few frames (occlusion, a missed detection) is still the same stay.
MAX_GAP = timedelta(seconds=1.5)
# Memory of a track is kept this long after it was last seen, so a track that returns after a longer gap
# starts a new stay but is not reported a second time.
FORGET_AFTER = timedelta(seconds=30)

StateT = TypeVar("StateT")


class Rule(Protocol[StateT]):
    """What every rule looks like to the pipeline."""

    def __call__(
        self, state: StateT, tracked: TrackedFrame, now: datetime, rules: RulesSettings
    ) -> tuple[StateT, list[IssueEvent]]: ...


@dataclass(frozen=True, slots=True)
class Sighting:
    """One track's detection in the current frame, as the rules need it."""

    track_id: int
    confidence: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class TrackMemory:
    """What a rule remembers about one track: its current stay and whether it was reported."""

    first_seen: datetime  # start of the current continuous stay
    last_seen: datetime
    best_confidence: float
    event_id: str | None = None  # set once the track raised its event (later phases reuse it)

    @property
    def alerted(self) -> bool:
        return self.event_id is not None


def sightings(dets: Detections, class_name: str, min_box_height: float) -> list[Sighting]:
    """Tracked detections of one class whose boxes are at least ``min_box_height`` pixels tall."""
    heights = dets.xyxy[:, 3] - dets.xyxy[:, 1]
    names = np.asarray(dets.class_name, dtype=object)
    keep = (names == class_name) & (dets.track_id >= 0) & (heights >= min_box_height)
    out: dict[int, Sighting] = {}
    for i in np.flatnonzero(keep):
        tid = int(dets.track_id[i])
        conf = float(dets.confidence[i])
        # A tracker gives one box per id; should two share one, the surer detection stands for the track.
        if tid not in out or conf > out[tid].confidence:
            bbox = tuple(float(v) for v in dets.xyxy[i])
            out[tid] = Sighting(tid, conf, (bbox[0], bbox[1], bbox[2], bbox[3]))
    return list(out.values())


def track_presence(
    tracks: Mapping[int, TrackMemory], seen: Iterable[Sighting], now: datetime
) -> dict[int, TrackMemory]:
    """Advance track memory by one frame: extend stays of tracks seen again, start new ones, forget old ones."""
    out: dict[int, TrackMemory] = {}
    seen_ids: set[int] = set()
    for s in seen:
        seen_ids.add(s.track_id)
        prev = tracks.get(s.track_id)
        if prev is not None and now - prev.last_seen <= MAX_GAP:
            out[s.track_id] = replace(
                prev, last_seen=now, best_confidence=max(prev.best_confidence, s.confidence)
            )
        elif prev is not None:
            # Back after a long gap: a new stay, but a reported track keeps its event and is not re-reported.
            out[s.track_id] = replace(prev, first_seen=now, last_seen=now, best_confidence=s.confidence)
        else:
            out[s.track_id] = TrackMemory(first_seen=now, last_seen=now, best_confidence=s.confidence)
    for tid, mem in tracks.items():
        if tid not in seen_ids and now - mem.last_seen <= FORGET_AFTER:
            out[tid] = mem
    return out


@dataclass(frozen=True)
class DwellState:
    """The dwell rule's memory of one camera's person tracks (replaced, never mutated)."""

    camera_id: str | None = None
    tracks: Mapping[int, TrackMemory] = field(default_factory=dict)


def dwell_rule(
    state: DwellState, tracked: TrackedFrame, now: datetime, rules: RulesSettings
) -> tuple[DwellState, list[IssueEvent]]:
    """A person track in view continuously for ``rules.dwell_seconds`` raises one NEW event, once per track."""
    frame = tracked.frame
    if state.camera_id is not None and state.camera_id != frame.camera_id:
        # Track ids are per camera; mixing cameras in one state would merge strangers' tracks.
        raise ValueError(f"dwell state of camera {state.camera_id!r} was given a frame of {frame.camera_id!r}")
    seen = sightings(tracked.detections, PERSON, rules.min_box_height)
    tracks = track_presence(state.tracks, seen, now)
    dwell = timedelta(seconds=rules.dwell_seconds)
    events: list[IssueEvent] = []
    for s in seen:
        mem = tracks[s.track_id]
        if mem.alerted or now - mem.first_seen < dwell:
            continue
        event = IssueEvent(
            event_id=uuid.uuid4().hex,
            phase=Phase.NEW,
            camera_id=frame.camera_id,
            category=rules.dwell_category,
            track_id=s.track_id,
            first_seen=mem.first_seen,
            last_seen=now,
            confidence=mem.best_confidence,
            bbox=s.bbox,
            fix=frame.fix,
            snapshot=frame.image,
        )
        tracks[s.track_id] = replace(mem, event_id=event.event_id)
        events.append(event)
    return DwellState(camera_id=frame.camera_id, tracks=tracks), events
