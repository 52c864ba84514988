"""Logging set-up for every GridWatch process: one format, context in every line."""
from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("GRIDWATCH_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s",
    )
    # Chatty libraries: keep their warnings, drop their info lines.
    quiet: tuple[str, ...] = ("waitress", "websockets", "ultralytics", "werkzeug")
    quiet += ("alembic.runtime.migration", "alembic.runtime.plugins")
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
