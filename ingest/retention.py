"""Retention of the media folder: delete clips and snapshots older than N days and the oldest above N GB.

``RetentionSweeper(folders, max_days, max_gb).start()`` sweeps at start and then every ``every_seconds``;
``sweep()`` runs one pass (tests, the CLI). Only files the recorder and the alert sink write (``.mp4``,
``.jpg``) are considered; unfinished ``.part`` files are left to their writer unless they are a day old.
Emptied date folders (``YYYY/MM/DD``) are removed too.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gridwatch.loop import Periodic

log = logging.getLogger(__name__)

MEDIA_SUFFIXES = (".mp4", ".jpg", ".jpeg")
STALE_PART_S = 86_400.0
DEFAULT_EVERY_S = 600.0
GB = 1024**3


@dataclass(frozen=True, slots=True)
class SweepResult:
    deleted: int
    freed_bytes: int
    kept: int
    kept_bytes: int


class RetentionSweeper(Periodic):
    """Keeps ``folders`` (e.g. ``media/clips`` and ``media/snapshots``) within the age and size limits."""

    def __init__(
        self,
        folders: Sequence[Path],
        max_days: float | None,
        max_gb: float | None,
        every_seconds: float = DEFAULT_EVERY_S,
    ) -> None:
        if max_days is not None and max_days <= 0:
            raise ValueError(f"retention days must be > 0 or unset, got {max_days}")
        if max_gb is not None and max_gb <= 0:
            raise ValueError(f"retention GB must be > 0 or unset, got {max_gb}")
        super().__init__("media-retention", every_seconds)
        self.folders = [Path(f) for f in folders]
        self.max_days = max_days
        self.max_bytes = None if max_gb is None else int(max_gb * GB)
        self.last: SweepResult | None = None

    def tick(self) -> None:
        self.sweep()

    def _files(self, now: float) -> list[tuple[float, int, Path]]:
        found: list[tuple[float, int, Path]] = []
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for root, _dirs, names in os.walk(folder):
                for name in names:
                    path = Path(root) / name
                    part = name.endswith(".part")
                    if not (part or name.lower().endswith(MEDIA_SUFFIXES)):
                        continue
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue  # deleted meanwhile
                    if part and now - st.st_mtime < STALE_PART_S:
                        continue  # being written
                    found.append((st.st_mtime, st.st_size, path))
        found.sort()
        return found

    def sweep(self, now: float | None = None) -> SweepResult:
        """One pass: delete what is too old, then the oldest until the total fits; the outcome."""
        now = time.time() if now is None else now
        files = self._files(now)
        total = sum(size for _, size, _ in files)
        cutoff = None if self.max_days is None else now - self.max_days * 86_400
        deleted = freed = 0
        keep_from = 0
        for i, (mtime, size, path) in enumerate(files):
            too_old = cutoff is not None and mtime < cutoff
            too_big = self.max_bytes is not None and total > self.max_bytes
            if not (too_old or too_big):
                keep_from = i
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("retention: cannot delete %s: %s", path, exc)
                keep_from = i
                break
            deleted += 1
            freed += size
            total -= size
            self._prune(path.parent)
        else:
            keep_from = len(files)
        kept = files[keep_from:]
        result = SweepResult(deleted, freed, len(kept), sum(s for _, s, _ in kept))
        if deleted:
            log.info("retention: deleted %d media files (%.1f MB); %d files (%.1f MB) kept", deleted,
                     freed / 2**20, result.kept, result.kept_bytes / 2**20)
        self.last = result
        return result

    def _prune(self, folder: Path) -> None:
        """Remove emptied date folders up to (not including) the swept folder itself."""
        while folder not in self.folders and any(root in folder.parents for root in self.folders):
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or gone)
            folder = folder.parent
