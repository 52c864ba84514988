"""Patrol vehicles as the command centre sees them: link state, today's tracks, street coverage, names."""
from __future__ import annotations

from pydantic import Field

from gridwatch.settings.base import Strict


class FleetSettings(Strict):
    """Patrol vehicles as the command centre sees them: link state, today's track and street coverage."""

    link_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="A vehicle is offline when nothing (GPS, crew status, report, video frame) arrived for this long.",
    )
    track_point_seconds: float = Field(
        default=5.0, gt=0, le=300,
        description="Today's track keeps one GPS point per this many seconds per vehicle (the wall's polyline).",
    )
    coverage_cell_m: float = Field(
        default=50.0, ge=5, le=1000,
        description="Street coverage is counted in square cells of this size (metres) that a vehicle drove through.",
    )
    coverage_max_gap_seconds: float = Field(
        default=60.0, gt=0, le=3600,
        description="Two GPS fixes further apart in time than this are not joined: the street between is not "
        "counted as covered, nor drawn.",
    )
    keep_days: int = Field(default=7, ge=1, le=366, description="Days of tracks and coverage kept in Redis.")
    names: dict[str, str] = Field(
        default_factory=dict, description="Vehicle id -> name shown on the wall (e.g. its plate); unset = the id."
    )
