"""The car's durable local queue (SQLite): what must reach the command centre survives a dead link and a reboot.

* ``outbox``: GPS fixes, crew reports and crew status changes waiting to be sent, oldest first. A sent item
  is deleted; one the command centre refused for good is kept as ``refused`` with the reason, so nothing a
  crew typed disappears silently.
* ``state``: small values shared by the agent and the ``python -m patrol`` commands (crew status, the last
  fix, which is the "current position" of a manual report).

The agent and the CLI are separate processes: WAL mode and a busy timeout let them share the file.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "patrol.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued',
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_kind_state ON outbox (kind, state, id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(RuntimeError):
    """The local queue cannot be opened or written (disk full, bad permissions); the message names the file."""


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    kind: str
    created: float
    payload: dict[str, Any]
    attempts: int


class CarStore:
    """``CarStore(state_dir)``: thread-safe; each process opens its own."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / DB_NAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the car's queue {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"car queue {self.path}: {exc}") from exc

    def put(self, kind: str, payload: dict[str, Any]) -> int:
        rows = self._run("INSERT INTO outbox (kind, created, payload) VALUES (?, ?, ?) RETURNING id",
                         (kind, time.time(), json.dumps(payload, separators=(",", ":"))))
        return int(rows[0][0])

    def take(self, kind: str, limit: int) -> list[Item]:
        """The oldest ``limit`` queued items of ``kind`` (they stay queued until ``ack``/``refuse``)."""
        rows = self._run("SELECT id, kind, created, payload, attempts FROM outbox WHERE kind = ? AND state = 'queued' "
                         "ORDER BY id LIMIT ?", (kind, limit))
        return [Item(int(r[0]), str(r[1]), float(r[2]), json.loads(r[3]), int(r[4])) for r in rows]

    def ack(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            self._run(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(ids))})", ids)

    def attempted(self, ids: Iterable[int], error: str) -> None:
        ids = list(ids)
        if ids:
            self._run(f"UPDATE outbox SET attempts = attempts + 1, error = ? WHERE id IN ({','.join('?' * len(ids))})",
                      [error, *ids])

    def refuse(self, ids: Iterable[int], error: str) -> None:
        ids = list(ids)
        if ids:
            self._run(f"UPDATE outbox SET state = 'refused', error = ? WHERE id IN ({','.join('?' * len(ids))})",
                      [error, *ids])

    def pending(self, kind: str) -> int:
        return int(self._run("SELECT count(*) FROM outbox WHERE kind = ? AND state = 'queued'", (kind,))[0][0])

    def refused(self, kind: str) -> list[tuple[int, str]]:
        rows = self._run("SELECT id, error FROM outbox WHERE kind = ? AND state = 'refused' ORDER BY id", (kind,))
        return [(int(r[0]), str(r[1])) for r in rows]

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        self._run("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  (key, json.dumps(value, separators=(",", ":"))))

    def get_state(self, key: str) -> dict[str, Any] | None:
        rows = self._run("SELECT value FROM state WHERE key = ?", (key,))
        return dict(json.loads(rows[0][0])) if rows else None
