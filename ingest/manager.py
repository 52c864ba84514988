"""Cameras managed at run time: one reader per enabled camera, started, stopped, restarted or renamed live.

``CameraManager.apply(configs)`` compares the wanted cameras with the running ones and touches only those
that changed: a new or re-enabled camera gets a reader; a removed or disabled one has its reader stopped
(its state says ``disabled``, or disappears when removed); a new URL or GPS source restarts that camera's
reader; a new name is applied to the running reader without reconnecting. Every other camera keeps
streaming. ``start()`` applies the registry and then follows it: a message on ``gridwatch.keys.CAMERAS_CHANNEL``
applies a change at once, and the registry file is also checked every ``poll_seconds`` (a change made
while Redis was down, or with the CLI against an embedded Redis, still arrives).

``runs(camera_id)`` (optional) limits this worker to the cameras it holds when several workers share them
(``gridwatch.leases``): a camera it does not hold is neither read nor marked disabled (its holder publishes
its state); ``request_reapply()`` asks the watcher thread to re-apply the registry after the held set changed.

``readers`` is a live, read-only mapping of camera id -> reader for the vision worker; ``version`` grows
with each applied change, and ``add_listener(fn)`` is told of each change (``Changes``).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import redis

from geo.routes import GpsSource, gps_source_for
from gridwatch import keys as gw_keys
from gridwatch.loop import ThreadPart
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import CameraState, CameraStatus
from ingest.reader import CameraReader
from ingest.recorder import Recorder
from ingest.registry import CameraRegistry, RegistryError
from ingest.stream_roles import reader_for

log = logging.getLogger(__name__)

POLL_S = 2.0
RESUBSCRIBE_S = 5.0
# A change of these needs a new connection / GPS source.
_READER_FIELDS = ("url", "detect_url", "gps_route", "lat", "lon")


@dataclass(frozen=True)
class Changes:
    """What one ``apply`` did, by camera id."""

    started: tuple[str, ...] = ()  # new or re-enabled
    stopped: tuple[str, ...] = ()  # disabled
    removed: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()  # new URL or GPS source
    renamed: tuple[str, ...] = ()
    reconfigured: tuple[str, ...] = ()  # other settings (vision zones ...): the reader is untouched

    def __bool__(self) -> bool:
        return any((self.started, self.stopped, self.removed, self.restarted, self.renamed, self.reconfigured))


class LiveReaders(Mapping[str, CameraReader]):
    """A read-only view of the running readers that follows every change (iteration uses a snapshot)."""

    def __init__(self, manager: CameraManager) -> None:
        self._manager = manager

    def __getitem__(self, camera_id: str) -> CameraReader:
        return self._manager._snapshot()[camera_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._manager._snapshot())

    def __len__(self) -> int:
        return len(self._manager._snapshot())


def forget_camera_state(client: redis.Redis, camera_id: str) -> None:
    """Remove a deleted camera's published state, so the wall and /api/cameras stop listing it."""
    try:
        pipe = client.pipeline()
        pipe.delete(gw_keys.camera_state(camera_id))
        pipe.delete(gw_keys.camera_preview(camera_id))
        pipe.srem(gw_keys.CAMERA_INDEX, camera_id)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("state of removed camera %s not cleared: %s", camera_id, exc)


@dataclass
class _Entry:
    config: CameraSettings
    reader: CameraReader | None = None


class CameraManager(ThreadPart):
    """Owns the camera readers of one worker process and keeps them in line with the camera registry."""

    def __init__(
        self,
        ingest: IngestSettings,
        registry: CameraRegistry | None = None,
        *,
        redis_client: redis.Redis | None = None,
        on_state: Callable[[CameraState], None] | None = None,
        on_removed: Callable[[str], None] | None = None,
        gps_for: Callable[[CameraSettings], GpsSource | None] = gps_source_for,
        recorder: Recorder | None = None,
        poll_seconds: float = POLL_S,
        runs: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__("camera-manager")
        self.ingest = ingest
        self.registry = registry
        self._redis = redis_client
        self._on_state = on_state
        self._on_removed = on_removed
        self._gps_for = gps_for
        self._recorder = recorder
        self.poll_seconds = poll_seconds
        self._runs = runs
        self._reapply = threading.Event()
        self._entries: dict[str, _Entry] = {}
        self._readers: dict[str, CameraReader] = {}  # replaced, never mutated: readers see a stable snapshot
        self._lock = threading.Lock()  # guards _readers swaps
        self._apply_lock = threading.Lock()  # one apply at a time (watcher, API thread, tests)
        self._listeners: list[Callable[[Changes], object]] = []
        self._seen_version = -1
        self.version = 0
        self.readers: Mapping[str, CameraReader] = LiveReaders(self)

    # ---- queries --------------------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, CameraReader]:
        with self._lock:
            return self._readers

    def configs(self) -> dict[str, CameraSettings]:
        """Every known camera's current config (disabled ones too), by id."""
        with self._apply_lock:
            return {cid: e.config for cid, e in self._entries.items()}

    def states(self) -> list[CameraState]:
        return [r.state() for r in self._snapshot().values()]

    def add_listener(self, listener: Callable[[Changes], object]) -> None:
        """``listener(changes)`` after each apply that changed something (called on the applying thread)."""
        self._listeners.append(listener)

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> CameraManager:
        """Apply the registry and follow it on the ``camera-manager`` thread; without a registry, no thread."""
        if self.registry is not None:
            self.reload()
            super().start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop following the registry and stop every reader (in parallel)."""
        ended = super().stop(timeout)
        with self._apply_lock:
            entries = list(self._entries.values())
            self._entries.clear()
            with self._lock:
                self._readers = {}
        threads = [self._stop_reader_async(e) for e in entries if e.reader is not None]
        for t in threads:
            t.join(timeout)
        return ended

    def request_reapply(self) -> None:
        """Re-apply the registry soon on the watcher thread (never blocks the caller on reader start/stop)."""
        self._reapply.set()

    def _runnable(self, cam: CameraSettings) -> bool:
        return cam.enabled and (self._runs is None or self._runs(cam.id))

    def reload(self) -> Changes:
        """Apply the registry file as it is now."""
        if self.registry is None:
            raise RuntimeError("camera manager has no registry to reload")
        version = self.registry.version()
        changes = self.apply(self.registry.load())
        self._seen_version = max(version, self.registry.version())
        return changes

    # ---- applying -------------------------------------------------------------------------------------

    def apply(self, configs: Sequence[CameraSettings]) -> Changes:
        """Make the running readers match ``configs`` (all cameras, enabled or not); only changes are touched."""
        wanted: dict[str, CameraSettings] = {}
        for cam in configs:
            if cam.id in wanted:
                log.error("camera id %s is listed twice; the first entry is used", cam.id)
                continue
            wanted[cam.id] = cam
        started: list[str] = []
        stopped: list[str] = []
        removed: list[str] = []
        restarted: list[str] = []
        renamed: list[str] = []
        reconfigured: list[str] = []
        with self._apply_lock:
            for cid in [c for c in self._entries if c not in wanted]:
                entry = self._entries.pop(cid)
                if entry.reader is not None:
                    self._stop_reader(entry)
                if self._recorder is not None:
                    self._recorder.drop(cid)
                if self._on_removed is not None:
                    self._on_removed(cid)
                removed.append(cid)
            for cid, cam in wanted.items():
                known = self._entries.get(cid)
                runnable = self._runnable(cam)
                if known is None:
                    entry = self._entries[cid] = _Entry(cam)
                    if runnable:
                        self._start_reader(entry)
                        started.append(cid)
                    elif not cam.enabled:
                        self._publish_disabled(cam)
                    continue
                entry = known
                old = entry.config
                if old == cam and (entry.reader is not None) == runnable:
                    continue
                entry.config = cam
                if not runnable:
                    if entry.reader is not None:
                        self._stop_reader(entry)
                        if self._recorder is not None and cam.enabled:
                            self._recorder.drop(cid)  # handed to another worker: its buffer is of no use here
                        stopped.append(cid)
                    if not cam.enabled:
                        self._publish_disabled(cam)
                elif entry.reader is None:
                    self._start_reader(entry)
                    started.append(cid)
                elif any(getattr(old, f) != getattr(cam, f) for f in _READER_FIELDS):
                    self._stop_reader(entry)  # first, so the old connection's packets never mix with the new
                    self._start_reader(entry)
                    restarted.append(cid)
                else:
                    if old.name != cam.name:
                        entry.reader.rename(cam.name)
                        renamed.append(cid)
                    if old.model_copy(update={"name": cam.name}) != cam:
                        reconfigured.append(cid)
            with self._lock:
                self._readers = {cid: e.reader for cid, e in self._entries.items() if e.reader is not None}
            changes = Changes(tuple(started), tuple(stopped), tuple(removed), tuple(restarted), tuple(renamed),
                              tuple(reconfigured))
            if changes:
                self.version += 1
        if changes:
            log.info("cameras changed (version %d): %s", self.version,
                     ", ".join(f"{k} {' '.join(v)}" for k, v in vars(changes).items() if v))
            for listener in list(self._listeners):
                try:
                    listener(changes)
                except Exception:  # noqa: BLE001 - a listener's bug must not stop camera management
                    log.exception("camera change listener failed")
        return changes

    def _start_reader(self, entry: _Entry) -> None:
        cam = entry.config
        gps: GpsSource | None = None
        try:
            gps = self._gps_for(cam)
        except (KeyError, ValueError) as exc:
            log.error("camera %s: no GPS (%s); frames go without a position", cam.id, exc)
        packets = self._recorder.buffer(cam.id) if self._recorder is not None else None
        # A camera with a detection sub-stream gets a DualStreamReader: its buffer records the main stream.
        entry.reader = reader_for(cam, self.ingest, gps=gps, on_state=self._on_state, packets=packets).start()

    def _stop_reader(self, entry: _Entry) -> None:
        """Stop and forget the entry's reader; waits a bounded time (a blocked network read ends by itself)."""
        reader, entry.reader = entry.reader, None
        if reader is not None:
            reader.stop(timeout=min(5.0, self.ingest.stall_seconds + 1))

    def _stop_reader_async(self, entry: _Entry) -> threading.Thread:
        # A one-shot helper (stop one reader), not a long-running part: a plain thread.
        t = threading.Thread(target=self._stop_reader, args=(entry,), name=f"stop-{entry.config.id}", daemon=True)
        t.start()
        return t

    def _publish_disabled(self, cam: CameraSettings) -> None:
        if self._on_state is None:
            return
        state = CameraState(camera_id=cam.id, name=cam.name, status=CameraStatus.DISABLED, fps=0.0, frames=0,
                            dropped=0, last_frame_at=None)
        try:
            self._on_state(state)
        except Exception:  # noqa: BLE001 - a broken subscriber must not stop camera management
            log.exception("on_state failed for disabled camera %s", cam.id)

    # ---- following the registry -----------------------------------------------------------------------

    def _subscribe(self) -> redis.client.PubSub | None:
        if self._redis is None:
            return None
        try:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(gw_keys.CAMERAS_CHANNEL)
            return pubsub
        except redis.RedisError as exc:
            log.warning("camera changes: cannot subscribe to %s (%s); polling the registry file",
                        gw_keys.CAMERAS_CHANNEL, exc)
            return None

    def _run(self) -> None:
        pubsub = self._subscribe()
        last_poll = time.monotonic()
        last_subscribe = last_poll
        while not self._stop.is_set():
            announced = False
            if self._reapply.is_set():
                self._reapply.clear()
                announced = True
            elif pubsub is not None:
                try:
                    msg = pubsub.get_message(timeout=min(self.poll_seconds, 1.0))
                    announced = msg is not None and msg.get("type") == "message"
                    if announced:
                        log.debug("camera change announced: %s", json.loads(msg["data"]))
                except (redis.RedisError, ValueError) as exc:
                    log.warning("camera changes: subscription lost (%s); polling the registry file", exc)
                    pubsub.close()
                    pubsub = None
            else:
                self._stop.wait(min(self.poll_seconds, 1.0))
                if self._redis is not None and time.monotonic() - last_subscribe > RESUBSCRIBE_S:
                    last_subscribe = time.monotonic()
                    pubsub = self._subscribe()
            now = time.monotonic()
            if not announced and now - last_poll < self.poll_seconds:
                continue
            last_poll = now
            try:
                if announced or (self.registry is not None and self.registry.version() != self._seen_version):
                    self.reload()
            except (RegistryError, OSError) as exc:
                log.error("camera registry not applied: %s", exc)
            except Exception:  # noqa: BLE001 - keep following the registry whatever one change did
                log.exception("applying the camera registry failed")
        if pubsub is not None:
            pubsub.close()
