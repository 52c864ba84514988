"""A private redis-server for the embedded defaults and the tests: started on a free loopback port, stopped on exit.

``EmbeddedRedis()`` (the tests) keeps everything in memory. ``gridwatch run`` passes ``data_dir`` and
``supervise=True``: the server then keeps its data in an append-only file there (``appendfsync everysec``; an
acknowledged write is in the file before the reply, so only a machine crash can lose its last second) and a
supervisor thread restarts it on the same port within about a second if it dies, replaying the file. Clients
(redis-py) reconnect on their next command; the vehicles' tracks, coverage, camera registry and the alert
stream's consumer group survive both a crash and a restart of ``gridwatch run``.
"""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis

from gridwatch.loop import ThreadPart

log = logging.getLogger(__name__)

RESTART_EVERY_S = 0.5  # a server that will not start again is retried this often (the port may still be held)


class RedisServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis(ThreadPart):
    """``with EmbeddedRedis() as r: r.url`` — a real redis-server process (in memory unless ``data_dir``); the
    thread is its supervisor, only with ``supervise``."""

    def __init__(self, port: int | None = None, binary: str | None = None, *, data_dir: Path | None = None,
                 supervise: bool = False) -> None:
        super().__init__("redis-supervisor")
        self.port = port or free_port()
        self.binary = binary or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.data_dir = data_dir
        self.supervise = supervise
        self.restarts = 0  # times the supervisor brought a dead server back
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()  # one start at a time (the supervisor's and stop's)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The running server's process id (tests kill it to see it come back)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _command(self, folder: str) -> list[str]:
        if self.data_dir is not None:
            persistence = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        else:
            persistence = ["--save", "", "--appendonly", "no"]
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *persistence, "--dir", folder,
                "--daemonize", "no", "--loglevel", "warning"]

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        if not Path(self.binary).exists():
            raise RedisServerError(
                f"redis-server not found at {self.binary}: install Debian's redis-server or set redis_url"
            )
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        elif self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="gridwatch-redis-")
        self._stop.clear()  # before the spawn: the supervisor's stop event also tells a dying server from a stop
        with self._lock:
            self._spawn(timeout)
        log.info("started private redis-server on %s%s", self.url,
                 f" (append-only file in {self.data_dir})" if self.data_dir is not None else "")
        if self.supervise and self._thread is None:
            super().start()
        return self

    def _spawn(self, timeout: float) -> None:
        """Start the process and wait until it answers (caller holds ``_lock``)."""
        folder = str(self.data_dir) if self.data_dir is not None else self._dir.name  # type: ignore[union-attr]
        self._proc = proc = subprocess.Popen(
            self._command(folder), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            # Its own process group: Ctrl-C in a terminal reaches GridWatch only, which closes its clients first.
            process_group=0,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()  # answers once the append-only file is loaded
                    if self.data_dir is None or self._aof_settled(client):
                        return
                    time.sleep(0.05)
                    continue
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if proc.poll() is not None:
                        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                        raise RedisServerError(f"redis-server exited at start: {err.strip()}") from None
                    if time.monotonic() > deadline:
                        self._terminate(proc)
                        raise RedisServerError(f"redis-server did not answer on port {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    @staticmethod
    def _aof_settled(client: redis.Redis) -> bool:
        """The first start in an empty folder writes the append-only file's base in a child process; writes made
        meanwhile would be lost to a crash before it finishes, so the server is handed out only after it."""
        info = client.info("persistence")
        return not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled")

    def _run(self) -> None:
        """Supervisor: wait for the server to exit; unless stopping, start it again on the same port."""
        while not self._stop.is_set():
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()  # also reaps it: no zombie is left behind
            if self._stop.is_set():
                return
            log.error("private redis-server on port %d died (exit status %s); restarting it", self.port, code)
            if proc.stderr is not None:
                proc.stderr.close()
            while not self._stop.is_set():
                try:
                    with self._lock:
                        if self._stop.is_set():
                            return
                        self._spawn(timeout=10.0)
                        self.restarts += 1
                    log.warning("private redis-server restarted on port %d (restart %d)", self.port, self.restarts)
                    break
                except RedisServerError as exc:
                    log.error("private redis-server did not restart: %s; retrying", exc)
                    self._stop.wait(RESTART_EVERY_S)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stop.set()  # before the server ends: the supervisor must not take its exit for a crash
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                self._terminate(proc)
        ended = super().stop(timeout)  # the supervisor wakes from the server's exit
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        return ended

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
