"""How many camera frames share one model input: as few as the CPU allows, as many as keeping up needs.

Stacking frames (``vision.stacking``) buys throughput with resolution. A worker with CPU to spare should see
every frame at full size; one that falls behind should shrink frames rather than miss them, because a missed
frame is a gap in every camera's tracks and a late alert. The controller watches what the worker reports
after each batch (frames analysed, frames missed, time spent working) and steps the number of frames per input
up when frames are missed and back down once the predicted load at the larger size leaves headroom. It is a
pure object with the clock passed in; the worker owns it and the detector obeys it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vision.stacking import FRAMES_PER_INPUT


@dataclass
class StackController:
    """Frames per model input, stepped through ``allowed`` by observed misses and busy time."""

    allowed: tuple[int, ...] = FRAMES_PER_INPUT
    window_s: float = 2.0  # decisions are made on this much history
    calm_s: float = 10.0  # after a change, the size is held this long before stepping back down
    miss_ratio: float = 0.05  # more of the window's frames missed than this: step up
    headroom: float = 0.7  # step down only if the busy fraction, scaled to the larger frames, stays below this
    level: int = 0
    _window_start: float | None = field(default=None, repr=False)
    _changed_at: float = field(default=float("-inf"), repr=False)
    _processed: int = field(default=0, repr=False)
    _missed: int = field(default=0, repr=False)
    _busy_s: float = field(default=0.0, repr=False)

    @classmethod
    def up_to(cls, most: int) -> StackController:
        """A controller that never puts more than ``most`` frames in one input (1 = never stacks)."""
        return cls(allowed=tuple(k for k in FRAMES_PER_INPUT if k <= most))

    @property
    def frames_per_input(self) -> int:
        return self.allowed[self.level]

    def observe(self, now: float, processed: int, missed: int, busy_s: float) -> int:
        """Account one batch (``now`` in monotonic seconds); returns the frames per input for the next one."""
        if self._window_start is None:
            self._window_start = now - busy_s
        self._processed += processed
        self._missed += missed
        self._busy_s += busy_s
        elapsed = now - self._window_start
        if elapsed >= self.window_s:
            self._decide(now, elapsed)
            self._window_start, self._processed, self._missed, self._busy_s = now, 0, 0, 0.0
        return self.frames_per_input

    def _decide(self, now: float, elapsed: float) -> None:
        seen = self._processed + self._missed
        if seen and self._missed / seen > self.miss_ratio:
            if self.level + 1 < len(self.allowed):
                self.level += 1
                self._changed_at = now
            return
        if self._missed or self.level == 0 or now - self._changed_at < self.calm_s:
            return
        # Inference dominates: frames k to an input cost about 1/k each, so the busy time at the larger size
        # (fewer frames per input) grows by the ratio of the two.
        busy = self._busy_s / elapsed * self.allowed[self.level] / self.allowed[self.level - 1]
        if busy < self.headroom:
            self.level -= 1
            self._changed_at = now


def missed_frames(last_seqs: Sequence[int], seqs: Sequence[int]) -> int:
    """Frames handed over by readers but never analysed: the gaps between each camera's last and new seq."""
    return sum(max(0, new - last - 1) for last, new in zip(last_seqs, seqs, strict=True) if last >= 0)
