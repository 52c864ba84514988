"""The rules enabled in the settings, for one camera: one state per rule, one call per tracked frame."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gridwatch.settings import RulesSettings
from gridwatch.types import IssueEvent, TrackedFrame
from vision.classes import ClassState, class_rule, finish_classes
from vision.rules import DwellState, dwell_rule
from vision.stall import StallState, finish_stall, stall_rule
from vision.vagrant import VagrantState, finish_vagrant, vagrant_rule
from vision.zones import CameraView


class CameraRules:
    """Runs the enabled rules on one camera's tracked frames and keeps their states."""

    def __init__(self, view: CameraView, rules: RulesSettings, class_map: Mapping[str, str] | None = None) -> None:
        self.view = view
        self.rules = rules
        self._states: dict[str, Any] = {}
        for name in dict.fromkeys(rules.enabled):
            if name == "vagrant":
                self._states[name] = VagrantState.for_view(view)
            elif name == "stall":
                self._states[name] = StallState.for_view(view)
            elif name == "classes" and class_map:
                self._states[name] = ClassState.for_view(view, class_map)
            elif name == "dwell":
                self._states[name] = DwellState()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._states)

    def reported_persons(self) -> set[int]:
        """Person tracks already reported as vagrants: their posture needs no more pose estimates."""
        state = self._states.get("vagrant")
        if not isinstance(state, VagrantState):
            return set()
        return {tid for tid, t in state.tracks.items() if t.issue_id is not None and t.issue_id in state.issues}

    def seen(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(category, latest box) of every issue open on this camera now: what the camera still sees. A pass
        that holds none of a case's category while its place is in view saw that place clear (alerts.clearance)."""
        out: list[tuple[str, tuple[float, float, float, float]]] = []
        for state in self._states.values():
            for issue in getattr(state, "issues", {}).values():
                out.append((issue.category, issue.region))
        return out

    def step(self, tracked: TrackedFrame, now: datetime) -> list[IssueEvent]:
        events: list[IssueEvent] = []
        for name, state in self._states.items():
            if name == "vagrant":
                self._states[name], out = vagrant_rule(state, tracked, now, self.rules)
            elif name == "stall":
                self._states[name], out = stall_rule(state, tracked, now, self.rules)
            elif name == "classes":
                self._states[name], out = class_rule(state, tracked, now, self.rules)
            else:
                self._states[name], out = dwell_rule(state, tracked, now, self.rules)
            events.extend(out)
        return events

    def finish(self) -> list[IssueEvent]:
        """END events for every open issue; the rules start afresh afterwards."""
        events: list[IssueEvent] = []
        for name, state in self._states.items():
            if name == "vagrant":
                self._states[name], out = finish_vagrant(state)
            elif name == "stall":
                self._states[name], out = finish_stall(state)
            elif name == "classes":
                self._states[name], out = finish_classes(state)
            else:
                out = []
            events.extend(out)
        return events
