"""Learning from operators' verdicts: the verdict filter, its review threshold, training and nightly runs."""
from __future__ import annotations

from pydantic import Field

from gridwatch.settings.base import Strict


class LearningSettings(Strict):
    enabled: bool = Field(
        default=True,
        description="Score new camera alerts with the verdict filter trained by `gridwatch learn` (no effect until "
        "one is trained) and send those below review_threshold to the desk's low-priority lane instead of the wall.",
    )
    review_threshold: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="An alert whose calibrated 'likely real' score is below this goes to the desk's low-priority "
        "lane (never dropped, counted, one key promotes it to the wall). 0.1: on the held-apart verdicts of "
        "bench/learn_eval.py it kept 87% of false alarms off the wall and moved no true alert; 0.2 moved some.",
    )
    holdout_fraction: float = Field(
        default=0.25, gt=0.0, lt=1.0,
        description="Share of each category's confirmed and of its rejected verdicts held apart from training to "
        "judge a new filter against the one in use.",
    )
    min_per_class: int = Field(
        default=10, ge=2,
        description="A category's filter is trained only with at least this many confirmed and this many rejected "
        "verdicts.",
    )
    max_verdicts: int = Field(
        default=50_000, ge=10, description="A category's filter learns from at most this many newest verdicts."
    )
    reload_seconds: float = Field(
        default=3.0, gt=0.0,
        description="How often running workers look for a newly trained filter (they take it within this time).",
    )
    nightly_at: str | None = Field(
        default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time (HH:MM in locale.timezone, e.g. '03:00') at which the alerts process (gridwatch "
        "run / gridwatch alerts) runs gridwatch learn by itself every day; with several alerts processes one "
        "learns (a Redis lease per night). Unset: never by itself (the command and the admin page still do).",
    )
