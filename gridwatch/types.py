"""The small frozen types that cross stage boundaries: ingest -> vision -> alerts -> dashboard.

Every stage speaks these and nothing else; tests build them from plain lists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class GpsFix:
    """A vehicle position in WGS-84 at a wall-clock time (UTC, timezone-aware)."""

    lat: float
    lon: float
    time: datetime
    heading: float | None = None  # degrees clockwise from north
    speed: float | None = None  # metres per second


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded picture: BGR uint8 HxWx3, its capture time (UTC) and the car's position then."""

    camera_id: str
    seq: int
    captured_at: datetime
    image: npt.NDArray[np.uint8]
    fix: GpsFix | None = None


def _f32(a: object, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    arr = np.asarray(a, dtype=np.float32)
    return arr.reshape(shape) if arr.size == 0 else arr


@dataclass(frozen=True, eq=False)
class Detections:
    """N detections of one frame, as parallel numpy arrays (like supervision's ``Detections``).

    ``track_id`` is -1 where no tracker has assigned an id yet; ``keypoints`` (N, K, 3: x, y, conf) only
    for pose models.
    """

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int32]
    class_name: tuple[str, ...]
    track_id: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    keypoints: npt.NDArray[np.float32] | None = None
    # Confidence of the second, fall/lying model (vision.fall_model) per detection, 0 where it saw no lying
    # person; None when that model did not look at this frame.
    fall: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = len(self.confidence)
        if self.xyxy.shape != (n, 4) or len(self.class_id) != n or len(self.class_name) != n:
            raise ValueError(f"Detections arrays disagree in length: xyxy {self.xyxy.shape}, n={n}")
        if len(self.track_id) == 0 and n:
            object.__setattr__(self, "track_id", np.full(n, -1, dtype=np.int64))
        if len(self.track_id) != n:
            raise ValueError(f"track_id has {len(self.track_id)} entries for {n} detections")

    @classmethod
    def from_lists(
        cls,
        xyxy: list[list[float]] | list[tuple[float, float, float, float]],
        confidence: list[float],
        class_name: list[str],
        class_id: list[int] | None = None,
        track_id: list[int] | None = None,
        keypoints: list[list[list[float]]] | None = None,
    ) -> Detections:
        n = len(confidence)
        return cls(
            xyxy=_f32(xyxy, (0, 4)),
            confidence=_f32(confidence, (0,)),
            class_id=np.asarray(class_id if class_id is not None else [0] * n, dtype=np.int32),
            class_name=tuple(class_name),
            track_id=np.asarray(track_id if track_id is not None else [-1] * n, dtype=np.int64),
            keypoints=None if keypoints is None else np.asarray(keypoints, dtype=np.float32),
        )

    @classmethod
    def empty(cls) -> Detections:
        return cls.from_lists([], [], [])

    def __len__(self) -> int:
        return len(self.confidence)

    def __getitem__(self, mask: npt.NDArray[np.bool_] | list[int]) -> Detections:
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=np.int64)
        return Detections(
            xyxy=self.xyxy[idx].reshape(-1, 4),
            confidence=self.confidence[idx],
            class_id=self.class_id[idx],
            class_name=tuple(self.class_name[i] for i in idx),
            track_id=self.track_id[idx],
            keypoints=None if self.keypoints is None else self.keypoints[idx],
            fall=None if self.fall is None else self.fall[idx],
        )


@dataclass(frozen=True, eq=False)
class TrackedFrame:
    """What vision hands to the rules: a frame and its tracked detections."""

    frame: Frame
    detections: Detections


class Phase(StrEnum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True, slots=True)
class NearbyDetection:
    """Another detection of the frame near an issue's box (what the rule had around it)."""

    class_name: str
    confidence: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the pipeline saw when it decided an issue: the rule's features, pose keypoints, nearby detections.

    Stored with the alert and copied into an operator's verdict, so a verdict filter learns from exactly
    what the rule saw (``features``: name -> number, the same names for every event of one rule).
    """

    features: tuple[tuple[str, float], ...] = ()
    keypoints: tuple[tuple[float, float, float], ...] = ()  # COCO 17 (x, y, conf) of the person, if any
    nearby: tuple[NearbyDetection, ...] = ()

    def feature_map(self) -> dict[str, float]:
        return dict(self.features)


@dataclass(frozen=True, eq=False)
class IssueEvent:
    """A street issue found by a rule on one camera's track (one per issue, not one per frame)."""

    event_id: str
    phase: Phase
    camera_id: str
    category: str  # a code of gridwatch.categories, e.g. "0502"
    track_id: int
    first_seen: datetime
    last_seen: datetime
    confidence: float
    bbox: tuple[float, float, float, float]  # xyxy in the snapshot's pixels
    fix: GpsFix | None
    snapshot: npt.NDArray[np.uint8] | None = None  # the full BGR frame the event was decided on
    snapshot_at: datetime | None = None  # capture time of ``snapshot`` (to find it in a camera's main stream)
    evidence: Evidence | None = None  # what the rule saw in ``snapshot`` (verdicts and the verdict filter)


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored issue event: what the API lists and the wall shows. JSON-ready plain values only."""

    id: str
    camera_id: str
    category: str
    confidence: float
    detected_at: datetime
    lat: float | None
    lon: float | None
    grid_code: str | None
    snapshot_url: str | None
    bbox: tuple[float, float, float, float]
    track_id: int
    likely_real: float | None = None  # the verdict filter's calibrated score; None without a filter
    lane: str = "wall"  # "low": below learning.review_threshold, the desk's low-priority lane, not the wall


class CameraStatus(StrEnum):
    STARTING = "starting"
    ONLINE = "online"
    STALLED = "stalled"
    OFFLINE = "offline"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class CameraState:
    """A camera's health as its reader sees it; published to Redis and shown by the API and wall."""

    camera_id: str
    name: str
    status: CameraStatus
    fps: float
    frames: int
    dropped: int
    last_frame_at: datetime | None
    error: str | None = None
