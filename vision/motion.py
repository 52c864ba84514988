"""How fast a track moves in the picture, in its own box heights per second (so near and far people compare)."""
from __future__ import annotations

from datetime import datetime, timedelta

Box = tuple[float, float, float, float]
# (time, centre x, centre y, box height)
PathPoint = tuple[datetime, float, float, float]

# Speed is measured over about this long: shorter is jittery, longer is slow to notice someone leaving.
SPEED_WINDOW = timedelta(seconds=1.0)


def extend(path: tuple[PathPoint, ...], now: datetime, bbox: Box) -> tuple[PathPoint, ...]:
    """The path with this sighting appended and points older than needed for the speed dropped."""
    point = (now, (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, bbox[3] - bbox[1])
    kept = tuple(p for p in path if now - p[0] <= SPEED_WINDOW * 2)
    return (*kept, point)


def speed(path: tuple[PathPoint, ...]) -> float | None:
    """Box heights per second between the oldest point within the window and the newest; None if too short."""
    if len(path) < 2:
        return None
    newest = path[-1]
    oldest = next((p for p in path if newest[0] - p[0] <= SPEED_WINDOW), path[-2])
    if oldest is newest:
        oldest = path[-2]
    dt = (newest[0] - oldest[0]).total_seconds()
    if dt <= 0:
        return None
    height = max(1.0, (newest[3] + oldest[3]) / 2)
    dist = ((newest[1] - oldest[1]) ** 2 + (newest[2] - oldest[2]) ** 2) ** 0.5
    return dist / height / dt
