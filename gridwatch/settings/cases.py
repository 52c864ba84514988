"""Cases and how grids are judged: dedup and passes, routing, working-day deadlines, quieting and seen-clear
(cases), and the monthly 100-point grid assessment (assessment)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gridwatch.categories import CATEGORIES
from gridwatch.settings.base import Strict, check_zone


class CaseSettings(Strict):
    dedup_distance_m: float = Field(
        default=30.0, gt=0, le=1000,
        description="A sighting this close (metres) to an open case of the same category joins that case.",
    )
    pass_gap_s: float = Field(
        default=120.0, gt=0,
        description="A sighting after this long a gap, or by another camera, counts as a new pass.",
    )
    fallback_grid: str | None = Field(
        default=None,
        description="Grid code that gets cases outside every grid (属地兜底); unset = such cases stay unrouted.",
    )
    handling_working_days: int = Field(
        default=5, ge=1, le=60, description="Working days a dispatched case has to be closed."
    )
    handling_working_days_by_category: dict[str, int] = Field(
        default_factory=dict, description="Per-category overrides of handling_working_days, e.g. {'0503': 2}."
    )
    escalation_working_days: int = Field(
        default=7, ge=1, le=60, description="Working days the parent grid has for an escalated case."
    )
    timezone: str = Field(default="Asia/Shanghai", description="Zone in which working days are counted.")
    holidays_dir: Path | None = Field(
        default=None,
        description="Extra folder of holiday files (YYYY.json) an admin adds; they replace built-in years.",
    )
    suppress_days: float = Field(
        default=7.0, ge=0, le=365,
        description="After an operator rejects a false alarm, new sightings of that category at that place are "
        "kept (attached to the rejected case and counted) but raise nothing for this many days; 0 = never quiet.",
    )
    clear_after_seconds: float = Field(
        default=600.0, gt=0,
        description="A fixed camera that watched an open case's spot this long without seeing its problem "
        "records a 'seen clear' pass and moves the case to the operator's check.",
    )
    clear_range_m: float = Field(
        default=40.0, gt=0, le=500,
        description="A patrol camera within this distance of an open case's place, facing it, has looked at it.",
    )
    clear_min_frames: int = Field(
        default=3, ge=1,
        description="Analysed frames with the place in view a pass needs before 'nothing there' counts as seen clear.",
    )

    @field_validator("handling_working_days_by_category")
    @classmethod
    def _known_categories(cls, v: dict[str, int]) -> dict[str, int]:
        for code, days in v.items():
            if code not in CATEGORIES:
                raise ValueError(f"unknown category code {code!r}; known: {', '.join(CATEGORIES)}")
            if not 1 <= days <= 60:
                raise ValueError(f"handling days for {code} must be 1..60, got {days}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_zone(v)

    def handling_days(self, category: str) -> int:
        return self.handling_working_days_by_category.get(category, self.handling_working_days)


_SUM_EPS = 1e-9


class DailyWorkRules(Strict):
    weight: float = Field(default=40, ge=0, le=100, description="Points of the daily-work part.")
    collection_points: float = Field(default=20, ge=0, description="Points for finding problems.")
    collection_target: int = Field(default=10, ge=1, description="Valid problems a grid finds a month for full marks.")
    response_points: float = Field(default=20, ge=0, description="Points for starting dispatched cases in time.")
    response_within_hours: float = Field(default=4, gt=0, description="In time = started this soon after dispatch.")

    @model_validator(mode="after")
    def _adds_up(self) -> DailyWorkRules:
        _check_sum("daily_work", self.weight, self.collection_points + self.response_points)
        return self


class EquipmentRules(Strict):
    weight: float = Field(default=10, ge=0, le=100, description="Points of the equipment part.")
    full_at: float = Field(default=0.95, gt=0, le=1, description="Camera online ratio for full marks.")
    zero_at: float = Field(default=0.5, ge=0, lt=1, description="Online ratio at or below which the part scores 0.")
    unmeasured_points: float = Field(default=10, ge=0, description="Points for a grid without an online figure.")

    @model_validator(mode="after")
    def _ordered(self) -> EquipmentRules:
        if self.zero_at >= self.full_at:
            raise ValueError(f"equipment.zero_at ({self.zero_at}) must be below full_at ({self.full_at})")
        if self.unmeasured_points > self.weight + _SUM_EPS:
            raise ValueError(f"equipment.unmeasured_points ({self.unmeasured_points}) exceeds weight {self.weight}")
        return self


class ResultRules(Strict):
    weight: float = Field(default=50, ge=0, le=100, description="Points of the results part.")
    closure_points: float = Field(default=20, ge=0, description="Points × closure rate.")
    on_time_points: float = Field(default=20, ge=0, description="Points × on-time closure rate.")
    rework_points: float = Field(default=10, ge=0, description="Points × (1 - rework rate).")
    overdue_penalty: float = Field(default=2, ge=0, description="Points off per overdue case.")
    full_when_nothing_due: bool = Field(
        default=True, description="A rate with nothing to measure scores full marks (else zero)."
    )

    @model_validator(mode="after")
    def _adds_up(self) -> ResultRules:
        _check_sum("results", self.weight, self.closure_points + self.on_time_points + self.rework_points)
        return self


class AssessmentRules(Strict):
    """The monthly grid assessment; meant to become ``Settings.assessment``."""

    daily_work: DailyWorkRules = Field(default_factory=DailyWorkRules, description="Daily work (日常工作).")
    equipment: EquipmentRules = Field(default_factory=EquipmentRules, description="Equipment (设备).")
    results: ResultRules = Field(default_factory=ResultRules, description="Results (工作成效).")

    @model_validator(mode="after")
    def _hundred(self) -> AssessmentRules:
        _check_sum("the assessment", 100, self.daily_work.weight + self.equipment.weight + self.results.weight)
        return self


def _check_sum(part: str, weight: float, total: float) -> None:
    if abs(weight - total) > _SUM_EPS:
        raise ValueError(f"{part}: the sub-rules' points add up to {total:g}, not to its weight {weight:g}")
