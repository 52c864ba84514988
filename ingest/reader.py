"""One camera's RTSP stream -> the newest decoded frame, with its capture time and GPS fix.

A ``CameraReader`` runs a decode thread (PyAV) and a small watchdog thread (both ``gridwatch.loop.ThreadPart``,
sharing one stop event):

* The decode thread demuxes every packet, gives each to the optional ``packets`` sink (the recorder's
  rolling buffer: stream copy, no second connection), and decodes either every frame (``ingest.decode =
  "all"``; H.264 cannot skip frames others depend on) or keyframes only (``"keyframes"``, ~5x cheaper, see
  BENCHMARKS.md). It converts to a BGR ndarray only the frames it hands to vision, at most ``ingest.detect_fps`` per
  second. The handed frame replaces the previous one: ``latest()`` always answers the newest frame, never
  a backlog.
* ``captured_at`` is the frame's own timestamp mapped to the wall clock (``ingest.clock.StreamClock``),
  never later than its arrival: seconds of video that a mobile network delivers in one burst keep their
  real, older times, and the frames of such a backlog are not handed to vision (only fresh ones are).
  When the reader falls more than ``CATCH_UP_S`` behind (a burst, or a CPU too busy to decode every
  frame) it decodes keyframes only until it has caught up, so a lag never grows.
* Counters in ``CameraState``: ``frames`` = frames received from the stream since ``start()``; ``fps`` =
  frames received per second over the last 2 s (the camera's real rate); ``dropped`` = frames handed over
  for vision that were replaced by a newer one before anyone took them with ``latest()`` — i.e. vision
  falling behind. The frames skipped on purpose to honour ``detect_fps`` are not counted as dropped.
* ``seq`` numbers the handed-over frames, increasing across reconnects, so ``latest(after_seq)`` works
  for the lifetime of the reader.
* States: STARTING -> ONLINE (a picture decoded) -> STALLED (connected, but no frame for
  ``ingest.stall_seconds``, or frames arrive but none decodes for ``DECODE_STALL_FACTOR`` times that) ->
  OFFLINE (opening the stream failed or it ended) -> ONLINE again. A stall makes the reader reconnect. It
  reconnects for ever with exponential backoff capped at ``ingest.reconnect_max_seconds``; nothing a camera
  does raises out of the reader. ``on_state`` is called on every status change and at least once a second
  in any status, from the reader's threads (keep it quick). While the camera's server refuses connections,
  its port is probed every ``ingest.probe.PROBE_EVERY_S`` and the stream is opened the moment it
  accepts again, so a camera whose server returns is back within about a second plus the open, whatever
  the backoff had grown to.

URLs are only ever logged masked (``camera.url.masked``); FFmpeg's own error texts, which embed the full
URL, are never logged or stored as they are.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Protocol, Self, cast

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.video.stream import VideoStream

from geo.routes import GpsSource
from gridwatch.loop import ThreadPart
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import CameraState, CameraStatus, Frame, GpsFix
from ingest.clock import RESET_AFTER_S, StreamClock
from ingest.pictures import whole_pictures
from ingest.probe import await_source

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
STABLE_SESSION_S = 10.0  # a connection that lasted this long resets the reconnect backoff
FPS_WINDOW_S = 2.0
STATE_EVERY_S = 1.0
WATCH_EVERY_S = 0.25
CALLBACK_ERROR_EVERY_S = 30.0
MAX_BAD_PACKETS = 100  # this many undecodable packets in a row: reconnect
DECODE_STALL_FACTOR = 4  # frames arrive but no picture decodes for this many stall_seconds: reconnect
BACKLOG_S = 0.5  # a decoded frame captured longer ago than this is part of a backlog burst: not handed over
CATCH_UP_S = 1.0  # further behind than this: decode keyframes only until the reader has caught up
STARVE_S = 3.0  # no frame handed over for this long: a frame up to CATCH_UP_S old will do (a slower network)

# H.264 cameras send their codec parameters in the SDP, so FFmpeg's default probe (it waits for ~20 frames
# to guess the frame rate) only delays the first frame (1.2 s at 25 fps, 2.7 s at 10 fps) and then delivers
# the probed frames as one stale burst. A 0.1 s probe opens in ~0.3 s with ~0.1 s of backlog.
FAST_OPEN_OPTIONS = {"analyzeduration": "100000"}


def configure_decoder(stream: VideoStream, ingest: IngestSettings) -> None:
    """Threads and shortcuts of a video stream's decoder, from the settings (before its first packet)."""
    if ingest.decode == "keyframes":
        # Frame threads hold back as many pictures as there are threads: 80 ms when every frame is decoded,
        # but seconds when only keyframes are. Keyframes alone decode on slice threads, without delay.
        stream.thread_type = "SLICE"
    elif ingest.decode_threads == 1:
        stream.thread_type = "NONE"
    else:
        stream.thread_type = "AUTO"
        if ingest.decode_threads > 1:  # else FFmpeg picks (cores + 1)
            stream.thread_count = ingest.decode_threads
    if ingest.skip_deblocking:
        stream.codec_context.options = {**stream.codec_context.options, "skip_loop_filter": "all"}


class PacketSink(Protocol):
    """Receives every compressed video packet of the reader's connection (``ingest.recorder.PacketBuffer``)."""

    def begin(self, stream: VideoStream) -> None:
        """A new connection: its packets follow (codec parameters may differ from the last one)."""

    def packet(self, packet: av.Packet, wall: float) -> None:
        """One packet and its capture time (epoch seconds); called on the reader's thread, so be quick."""

    def end(self) -> None:
        """The connection is gone."""


class _Watchdog(ThreadPart):
    """The reader's second thread: its state every ``WATCH_EVERY_S``, and stalls turned into reconnects."""

    def __init__(self, reader: CameraReader) -> None:
        super().__init__(f"reader-watch-{reader.camera.id}", stop_event=reader.stop_event)
        self._reader = reader

    def _left_busy(self, timeout: float) -> None:
        self._reader.left_busy(self.thread_name, timeout)

    def _run(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            try:
                self._reader.tick(time.monotonic())
            except Exception:  # noqa: BLE001 - the watchdog must outlive any bug in a tick
                log.exception("%s: state watchdog failed", self._reader.where)


class CameraReader(ThreadPart):
    """Reads one camera in the background (the decode thread); ``latest()`` gives the newest frame for vision."""

    def __init__(
        self,
        camera: CameraSettings,
        ingest: IngestSettings,
        gps: GpsSource | None = None,
        on_state: Callable[[CameraState], None] | None = None,
        packets: PacketSink | None = None,
    ) -> None:
        super().__init__(f"reader-{camera.id}")
        self.camera = camera
        self.ingest = ingest
        self._gps = gps
        self._on_state = on_state
        self._packets = packets
        self._where = f"camera {camera.id} ({camera.url.masked})"
        self._reconnect = threading.Event()  # set by the watchdog: drop this connection and open a new one
        self._cond = threading.Condition()  # guards the newest frame and the counters below
        self._emit_lock = threading.Lock()  # keeps on_state calls in order across both threads
        self._latest: Frame | None = None
        self._latest_taken = True
        self._seq = -1
        self._state = CameraState(
            camera_id=camera.id, name=camera.name, status=CameraStatus.STARTING,
            fps=0.0, frames=0, dropped=0, last_frame_at=None,
        )
        self._last_frame_mono: float | None = None  # last packet received
        self._last_picture_mono: float | None = None  # last picture decoded
        self._recent: collections.deque[float] = collections.deque()
        self._last_emit_mono = 0.0
        self._last_callback_error = -CALLBACK_ERROR_EVERY_S
        self._last_gps_error = -CALLBACK_ERROR_EVERY_S
        self._last_sink_error = -CALLBACK_ERROR_EVERY_S
        self._skipped = 0  # frames not decoded to catch up with a backlog
        self._next_handover = 0.0
        self._watchdog = _Watchdog(self)

    # ---- public API -------------------------------------------------------------------------------------

    @property
    def stop_event(self) -> threading.Event:
        """Set on ``stop``: the watchdog shares it, so both threads end together."""
        return self._stop

    @property
    def where(self) -> str:
        """The camera as logs name it (its URL masked)."""
        return self._where

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{self._where}: reader already started")
        self._emit(self.state())  # subscribers learn about the camera before its first frame
        super().start()
        self._watchdog.start()
        log.info("%s: reader started (transport %s, %.1f fps to vision)",
                 self._where, self.ingest.rtsp_transport, self.ingest.detect_fps)
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop both threads within one ``timeout``; a decode blocked in a network read ends within
        ``ingest.stall_seconds``. Returns whether both have ended."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        decoder_ended = super().stop(timeout)
        # Never a 0 s wait: that only asks (ThreadPart.stop), and the watchdog has just been asked.
        return self._watchdog.stop(max(1e-3, deadline - time.monotonic())) and decoder_ended

    def left_busy(self, thread_name: str, timeout: float) -> None:
        """Said when one of the reader's threads outlives ``stop``'s wait (a decode blocked in a network read)."""
        log.warning("%s: thread %s still busy after %.1f s (blocked in a network read); left to exit",
                    self._where, thread_name, timeout)

    def _left_busy(self, timeout: float) -> None:
        self.left_busy(self.thread_name, timeout)

    def latest(self, after_seq: int = -1) -> Frame | None:
        """The newest handed-over frame if its seq is greater than ``after_seq``, else None (never a backlog)."""
        with self._cond:
            frame = self._latest
            if frame is None or frame.seq <= after_seq:
                return None
            self._latest_taken = True
            return frame

    def wait_latest(self, after_seq: int = -1, timeout: float = 1.0) -> Frame | None:
        """Like ``latest()`` but waits up to ``timeout`` seconds for a frame newer than ``after_seq``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._latest is None or self._latest.seq <= after_seq) and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self.latest(after_seq)

    def state(self) -> CameraState:
        with self._cond:
            return self._snapshot(time.monotonic())

    @property
    def skipped(self) -> int:
        """Frames left undecoded to catch up after a burst or while the CPU could not keep up."""
        return self._skipped

    @property
    def alive(self) -> bool:
        """True while the decode thread runs (it only ends on ``stop()``)."""
        return self.running

    def rename(self, name: str) -> None:
        """Change the name operators see, without touching the connection."""
        with self._emit_lock:
            with self._cond:
                self.camera = self.camera.model_copy(update={"name": name})
                self._state = replace(self._state, name=name)
                state = self._snapshot(time.monotonic())
            self._emit(state)

    # ---- state ------------------------------------------------------------------------------------------

    def _snapshot(self, now: float) -> CameraState:
        """Current state with a fresh fps (caller holds ``_cond``)."""
        while self._recent and now - self._recent[0] > FPS_WINDOW_S:
            self._recent.popleft()
        fps = 0.0
        if self._state.status is CameraStatus.ONLINE and len(self._recent) >= 2:
            span = self._recent[-1] - self._recent[0]
            fps = (len(self._recent) - 1) / span if span > 0 else 0.0
        self._state = replace(self._state, fps=round(fps, 2))
        return self._state

    def _emit(self, state: CameraState) -> None:
        if self._on_state is None or self._stop.is_set():
            return  # a stopped reader (a removed camera) must not publish itself back onto the wall
        try:
            self._on_state(state)
        except Exception:  # noqa: BLE001 - a broken subscriber must not stop the camera
            now = time.monotonic()
            if now - self._last_callback_error >= CALLBACK_ERROR_EVERY_S:
                self._last_callback_error = now
                log.exception("%s: on_state callback failed (repeats muted for %.0f s)",
                              self._where, CALLBACK_ERROR_EVERY_S)

    def _transition(self, status: CameraStatus, error: str | None) -> CameraState | None:
        """Apply a status change (caller holds ``_emit_lock`` and ``_cond``); the new state, or None if same."""
        if self._state.status is status and self._state.error == error:
            return None
        previous = self._state.status
        self._state = replace(self._state, status=status, error=error)
        if status is not CameraStatus.ONLINE:
            self._recent.clear()
        self._last_emit_mono = time.monotonic()
        if previous is not status:
            level = logging.INFO if status is CameraStatus.ONLINE else logging.WARNING
            log.log(level, "%s: %s -> %s%s", self._where, previous.value, status.value,
                    f" ({error})" if error else "")
        return self._snapshot(self._last_emit_mono)

    def _set_status(self, status: CameraStatus, error: str | None = None) -> None:
        with self._emit_lock:
            with self._cond:
                state = self._transition(status, error)
            if state is not None:
                self._emit(state)

    def tick(self, now: float) -> None:
        """Periodic state (every STATE_EVERY_S, in any status); also turns a silent stream into STALLED (checked
        and set atomically)."""
        with self._emit_lock:
            with self._cond:
                picture = self._last_picture_mono
                stall = self.ingest.stall_seconds
                state: CameraState | None
                last = self._last_frame_mono
                if picture is not None and now - picture > DECODE_STALL_FACTOR * stall:
                    # Connected, but no picture for long: garbage or undecodable data. Start over.
                    self._last_picture_mono = None
                    self._reconnect.set()
                    state = self._transition(
                        CameraStatus.STALLED, f"no picture decoded for {DECODE_STALL_FACTOR * stall:g} s"
                    )
                elif self._state.status is CameraStatus.ONLINE and last is not None and now - last > stall:
                    state = self._transition(CameraStatus.STALLED, self._stall_error())
                    self._reconnect.set()
                elif now - self._last_emit_mono >= STATE_EVERY_S:
                    # Also while offline or stalled: the wall keeps showing why (the published state expires).
                    self._last_emit_mono = now
                    state = self._snapshot(now)
                else:
                    return
            if state is not None:
                self._emit(state)

    def _stall_error(self) -> str:
        # One fixed text: the watchdog and a read timeout report the same stall without a second emit.
        return f"no frame for over {self.ingest.stall_seconds:g} s"

    # ---- decoding ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            got_frames = False
            began = time.monotonic()
            try:
                got_frames = self._session()
            except Exception as exc:  # noqa: BLE001 - one camera's bug must never kill the process
                log.error("%s: reader failed: %s: %s; reconnecting", self._where, type(exc).__name__,
                          self._safe(str(exc)), exc_info=not isinstance(exc, av.error.FFmpegError))
                self._set_status(CameraStatus.OFFLINE, f"reader error: {type(exc).__name__}")
            if self._stop.is_set():
                break
            if got_frames and time.monotonic() - began >= STABLE_SESSION_S:
                backoff = FIRST_BACKOFF_S  # a flapping camera (a picture, then gone) must not be hammered
            delay = min(backoff, self.ingest.reconnect_max_seconds)
            backoff = min(backoff * 2, self.ingest.reconnect_max_seconds)
            log.debug("%s: reconnecting in %.1f s", self._where, delay)
            if await_source(self.camera.url.get_secret_value(), delay, self._stop):
                log.info("%s: the server listens again; connecting", self._where)
                backoff = FIRST_BACKOFF_S  # a server that has just come back may need a moment: retry soon
        log.info("%s: reader stopped", self._where)

    def _safe(self, text: str) -> str:
        """FFmpeg puts the raw URL (password included) into its messages; mask it."""
        return text.replace(self.camera.url.get_secret_value(), self.camera.url.masked)

    def _describe(self, exc: av.error.FFmpegError) -> str:
        if isinstance(exc, av.error.ExitError):
            return f"timed out after {self.ingest.open_timeout_seconds:.0f} s"
        reason = exc.strerror or type(exc).__name__
        return self._safe(f"{reason} (errno {exc.errno})" if exc.errno else reason)

    def _session(self) -> bool:
        """One connection: open, decode until it ends, fails, stalls or we stop. True if any picture decoded."""
        options = {"rtsp_transport": self.ingest.rtsp_transport, **FAST_OPEN_OPTIONS}
        self._reconnect.clear()
        try:
            container = av.open(
                self.camera.url.get_secret_value(), options=options,
                timeout=(self.ingest.open_timeout_seconds, self.ingest.stall_seconds),
            )
        except av.error.FFmpegError as exc:
            self._set_status(CameraStatus.OFFLINE, f"cannot open stream: {self._describe(exc)}")
            return False
        got_frames = False
        sink_open = False
        try:
            if not container.streams.video:
                self._set_status(CameraStatus.OFFLINE, "stream has no video track")
                return False
            stream = container.streams.video[0]
            keyframes_only = self.ingest.decode == "keyframes"
            configure_decoder(stream, self.ingest)
            time_base = stream.time_base or Fraction(1, 90000)
            # Reset only on jumps longer than any stall this connection may survive: that is a new timeline.
            clock = StreamClock(reset_after_s=max(RESET_AFTER_S, 2 * self.ingest.stall_seconds))
            log.info("%s: connected (%s %dx%d, decoding %s)", self._where, stream.codec_context.name,
                     stream.codec_context.width, stream.codec_context.height,
                     "keyframes only" if keyframes_only else "every frame")
            sink_open = self._sink_call("begin", stream)
            with self._cond:
                # The decode watchdog counts from the connection: it must deliver a picture in time.
                self._last_picture_mono = time.monotonic()
            bad_packets = 0
            catching_up = False
            # One packet per picture (``ingest.pictures``): a keyframe whose slices came apart is decoded once, whole.
            for packet in whole_pictures(container.demux(stream), stream.codec_context.name, self._where):
                if self._stop.is_set():
                    break
                if self._reconnect.is_set():
                    log.info("%s: watchdog asked for a new connection", self._where)
                    break
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream flush marker, not video
                arrival = time.time()
                ts = packet.pts if packet.pts is not None else packet.dts
                wall = clock.observe(float(ts * time_base), arrival) if ts is not None else arrival
                self._on_packet(wall)
                if sink_open:
                    self._sink_call("packet", packet, wall)
                if not packet.is_keyframe:
                    if keyframes_only:
                        continue
                    # Behind: skip to the next keyframe (a skipped frame spoils the rest of its GOP anyway).
                    catching_up = catching_up or arrival - wall > CATCH_UP_S
                    if catching_up:
                        self._skipped += 1
                        continue
                else:
                    catching_up = arrival - wall > CATCH_UP_S
                try:
                    frames = stream.decode(packet)  # a joined packet belongs to no stream of its own
                except av.error.InvalidDataError:
                    # A lost or damaged packet (UDP, a camera hiccup) spoils a picture, not the connection.
                    bad_packets += 1
                    if bad_packets > MAX_BAD_PACKETS:
                        raise
                    continue
                bad_packets = 0
                for frame in frames:
                    fts = frame.pts if frame.pts is not None else frame.dts
                    captured = clock.wall(float(fts * time_base)) if fts is not None else None
                    self._on_frame(frame, min(captured, arrival) if captured is not None else arrival, arrival)
                    got_frames = True
            else:
                if not self._stop.is_set():
                    self._set_status(CameraStatus.OFFLINE, "stream ended")
        except av.error.ExitError:
            # The read timed out after ingest.stall_seconds without data; the watchdog may have said so first.
            self._set_status(CameraStatus.STALLED, self._stall_error())
        except av.error.FFmpegError as exc:
            self._set_status(CameraStatus.OFFLINE, f"stream failed: {self._describe(exc)}")
        finally:
            with self._cond:
                self._last_picture_mono = None  # not connected: nothing to decode
            if sink_open:
                self._sink_call("end")
            container.close()
        return got_frames

    def _sink_call(self, method: str, *args: object) -> bool:
        """Feed the packet sink; a failing sink costs the recording, never the camera. True if it worked."""
        if self._packets is None:
            return False
        try:
            getattr(self._packets, method)(*args)
            return True
        except Exception:  # noqa: BLE001 - the recorder must not be able to stop the camera
            now = time.monotonic()
            if now - self._last_sink_error >= CALLBACK_ERROR_EVERY_S:
                self._last_sink_error = now
                log.exception("%s: packet sink %s() failed (repeats muted for %.0f s)", self._where, method,
                              CALLBACK_ERROR_EVERY_S)
            return method != "begin"

    def _fix(self, captured_at: datetime) -> GpsFix | None:
        if self._gps is None:
            return None
        try:
            return self._gps(captured_at)
        except Exception:  # noqa: BLE001 - a bad GPS source costs the fix, not the frame
            now = time.monotonic()
            if now - self._last_gps_error >= CALLBACK_ERROR_EVERY_S:
                self._last_gps_error = now
                log.exception("%s: GPS source failed (repeats muted for %.0f s)", self._where,
                              CALLBACK_ERROR_EVERY_S)
            return None

    def _on_packet(self, wall: float) -> None:
        """A frame arrived from the network: the camera is alive (decoded or not)."""
        now = time.monotonic()
        with self._cond:
            self._recent.append(now)
            self._last_frame_mono = now
            self._state = replace(self._state, frames=self._state.frames + 1,
                                  last_frame_at=datetime.fromtimestamp(wall, UTC))

    def _on_frame(self, frame: av.VideoFrame, wall: float, arrival: float) -> None:
        now = time.monotonic()
        captured_at = datetime.fromtimestamp(wall, UTC)
        # A frame of a backlog burst shows the past; a fresher one is right behind it in the same burst. But
        # when the network has just become slower for good, slightly old frames beat no frames at all.
        lag = arrival - wall
        fresh = lag <= BACKLOG_S or (lag <= CATCH_UP_S and now - self._next_handover > STARVE_S)
        hand_over = fresh and now >= self._next_handover
        if hand_over:
            period = 1.0 / self.ingest.detect_fps
            # Keep an even cadence on average, but never try to catch up after a pause.
            nxt = self._next_handover + period
            self._next_handover = nxt if nxt > now else now + period
            image = cast("npt.NDArray[np.uint8]", frame.to_ndarray(format="bgr24"))
            fix = self._fix(captured_at)
        with self._cond:
            self._last_picture_mono = now
            dropped = self._state.dropped
            if hand_over:
                if not self._latest_taken:
                    dropped += 1
                self._seq += 1
                self._latest = Frame(camera_id=self.camera.id, seq=self._seq, captured_at=captured_at,
                                     image=image, fix=fix)
                self._latest_taken = False
                self._cond.notify_all()
            self._state = replace(self._state, dropped=dropped)
            online = self._state.status is CameraStatus.ONLINE
        if not online:
            self._set_status(CameraStatus.ONLINE)
