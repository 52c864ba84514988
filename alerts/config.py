"""Settings of the case workflow: the ``cases`` section of the one settings tree (gridwatch.settings)."""
from __future__ import annotations

from gridwatch.settings import CaseSettings

__all__ = ["CaseSettings"]
