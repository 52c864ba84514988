"""Map a stream's own timestamps (pts) to wall-clock time, so bursts and decoder delay do not fake freshness.

A packet's arrival time is its capture time plus a network delay that is never negative and usually small,
but jumps up when the mobile network stalls and then delivers seconds of video at once. ``arrival - pts``
is therefore smallest for the packets that travelled fastest; its minimum over a sliding window is the best
estimate of the stream's offset to the wall clock. ``wall(pts) = pts + offset`` then gives every packet (and
every decoded frame, however long the decoder held it) the time it was really captured, give or take the
network's fastest delivery.

The window adapts to a slowly drifting camera clock or a lasting change of route; a jump of the stream's
timestamps (a camera restart inside one connection) resets it.
"""
from __future__ import annotations

import collections

WINDOW_S = 10.0
RESET_AFTER_S = 10.0  # further off than any stall the reader waits out: the stream's clock jumped, start over


class StreamClock:
    """``observe(pts_seconds, arrival)`` per packet -> that packet's wall-clock capture time (epoch seconds)."""

    def __init__(self, window_s: float = WINDOW_S, reset_after_s: float = RESET_AFTER_S) -> None:
        self._window = window_s
        self._reset_after = reset_after_s
        # (arrival, offset) with offsets increasing from front to back: the front is the window's minimum.
        self._mins: collections.deque[tuple[float, float]] = collections.deque()

    @property
    def offset(self) -> float | None:
        """Wall time minus stream time; None before the first packet."""
        return self._mins[0][1] if self._mins else None

    def reset(self) -> None:
        self._mins.clear()

    def observe(self, pts_seconds: float, arrival: float) -> float:
        offset = arrival - pts_seconds
        current = self.offset
        if current is not None and abs(offset - current) > self._reset_after:
            self._mins.clear()
        while self._mins and self._mins[-1][1] >= offset:
            self._mins.pop()
        self._mins.append((arrival, offset))
        while arrival - self._mins[0][0] > self._window and len(self._mins) > 1:
            self._mins.popleft()
        return pts_seconds + self._mins[0][1]

    def wall(self, pts_seconds: float) -> float | None:
        """The wall time of stream time ``pts_seconds`` on the current mapping (None before any packet)."""
        current = self.offset
        return None if current is None else pts_seconds + current
