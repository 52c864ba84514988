"""Stream roles: a camera with a detection sub-stream (``detect_url``) beside its main stream (``url``).

Decoding is what costs a worker its CPU, and a 640x360 sub-stream decodes ~4x cheaper than a 720p main
stream. So for such a camera:

* ``DualStreamReader`` is a ``CameraReader`` of the detection stream: vision gets its (small) frames, and the
  camera's state on the wall is that connection's state.
* Beside it a ``MainStreamTap`` holds a second connection to the main stream and only demuxes it: every
  packet goes, by stream copy, to the camera's packet buffer (``ingest.recorder.PacketBuffer``), so alert
  clips are cut from the main stream at full resolution, never decoded.
* ``decode_at(buffer, t)`` decodes the main stream's picture captured at ``t`` on demand: the GOP from its
  keyframe up to that frame (one GOP of 720p is ~25 frames, tens of milliseconds, paid once per alert).

Both connections stamp their packets with capture times from their own stream timestamps
(``ingest.clock.StreamClock``), so a detection-stream frame and the main-stream picture of the same moment
share one time; ``ingest.main_snapshots`` uses that to give an alert a sharp snapshot and a box in the main
stream's pixels.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import cast

import av
import av.error
import numpy as np
import numpy.typing as npt

from geo.routes import GpsSource
from gridwatch.loop import ThreadPart
from gridwatch.settings import CameraSettings, IngestSettings
from gridwatch.types import CameraState
from ingest.clock import RESET_AFTER_S, StreamClock
from ingest.pictures import whole_pictures
from ingest.probe import await_source
from ingest.reader import FAST_OPEN_OPTIONS, FIRST_BACKOFF_S, STABLE_SESSION_S, CameraReader, PacketSink
from ingest.recorder import ClipError, PacketBuffer

log = logging.getLogger(__name__)

# Without a recorder (recording disabled) the tap keeps this much of the main stream for snapshots only.
SNAPSHOT_BUFFER_S = 4.0
HALF_FRAME_S = 0.02  # a main-stream picture up to this much after the wanted time is still "that" picture


class MainStreamTap(ThreadPart):
    """A packet-only connection to a camera's main stream, feeding ``packets``; reconnects for ever."""

    def __init__(self, camera: CameraSettings, ingest: IngestSettings, packets: PacketSink) -> None:
        super().__init__(f"reader-main-{camera.id}")
        self.camera = camera
        self.ingest = ingest
        self.packets = packets
        self._where = f"camera {camera.id} main stream ({camera.url.masked})"
        self.size: tuple[int, int] | None = None  # the main stream's width and height, once connected
        self.connected = False
        self.packets_seen = 0

    def request_stop(self) -> None:
        """Start winding down now; ``stop()`` waits for it (a demux blocked in a network read ends within
        ``ingest.stall_seconds``)."""
        self._stop.set()

    def _left_busy(self, timeout: float) -> None:
        log.warning("%s: still in a network read after %.1f s; left to exit", self._where, timeout)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            began = time.monotonic()
            got = False
            try:
                got = self._session()
            except av.error.FFmpegError as exc:
                # FFmpeg's text embeds the URL (password included): name the failure by its type only.
                log.warning("%s: %s; reconnecting", self._where, type(exc).__name__)
            except Exception:  # noqa: BLE001 - the main stream's bug must never stop the camera's detection
                log.exception("%s: tap failed; reconnecting", self._where)
            self.connected = False
            if self._stop.is_set():
                break
            if got and time.monotonic() - began >= STABLE_SESSION_S:
                backoff = FIRST_BACKOFF_S
            delay = min(backoff, self.ingest.reconnect_max_seconds)
            backoff = min(backoff * 2, self.ingest.reconnect_max_seconds)
            # As the detection reader does: a server that comes back is connected at once, not after the backoff.
            if await_source(self.camera.url.get_secret_value(), delay, self._stop):
                backoff = FIRST_BACKOFF_S

    def _session(self) -> bool:
        """One connection: demux until it ends, fails or we stop. True if any packet arrived."""
        options = {"rtsp_transport": self.ingest.rtsp_transport, **FAST_OPEN_OPTIONS}
        container = av.open(self.camera.url.get_secret_value(), options=options,
                            timeout=(self.ingest.open_timeout_seconds, self.ingest.stall_seconds))
        got = False
        try:
            if not container.streams.video:
                log.warning("%s: no video track", self._where)
                return False
            stream = container.streams.video[0]
            time_base = stream.time_base or Fraction(1, 90000)
            clock = StreamClock(reset_after_s=max(RESET_AFTER_S, 2 * self.ingest.stall_seconds))
            self.size = (stream.codec_context.width, stream.codec_context.height)
            self.packets.begin(stream)
            self.connected = True
            log.info("%s: connected (%s %dx%d, stream copy only)", self._where, stream.codec_context.name,
                     *self.size)
            try:
                for packet in whole_pictures(container.demux(stream), stream.codec_context.name, self._where):
                    if self._stop.is_set():
                        break
                    if packet.size == 0:
                        continue
                    arrival = time.time()
                    ts = packet.pts if packet.pts is not None else packet.dts
                    wall = clock.observe(float(ts * time_base), arrival) if ts is not None else arrival
                    self.packets.packet(packet, wall)
                    self.packets_seen += 1
                    got = True
            finally:
                self.packets.end()
        finally:
            container.close()
        return got


class DualStreamReader(CameraReader):
    """The reader of a camera with ``detect_url``: decodes the detection stream, stream-copies the main one.

    ``packets`` (the recorder's buffer) receives the MAIN stream; without one the tap keeps a short buffer of
    its own for snapshots (``main_buffer``). ``config`` is the camera as configured; ``camera`` (what the
    base reader reads) names the detection stream as its ``url``.
    """

    def __init__(
        self,
        camera: CameraSettings,
        ingest: IngestSettings,
        gps: GpsSource | None = None,
        on_state: Callable[[CameraState], None] | None = None,
        packets: PacketBuffer | None = None,
    ) -> None:
        if camera.detect_url is None:
            raise ValueError(f"camera {camera.id} has no detect_url: use CameraReader")
        super().__init__(camera.model_copy(update={"url": camera.detect_url}), ingest, gps=gps, on_state=on_state)
        self.config = camera
        self.main_buffer = packets if packets is not None else PacketBuffer(camera.id, SNAPSHOT_BUFFER_S)
        self.main = MainStreamTap(camera, ingest, self.main_buffer)

    def start(self) -> DualStreamReader:
        self.main.start()
        super().start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        self.main.request_stop()  # both connections wind down at once
        ended = super().stop(timeout)
        return self.main.stop(timeout) and ended

    def rename(self, name: str) -> None:
        self.config = self.config.model_copy(update={"name": name})
        super().rename(name)


def reader_for(
    camera: CameraSettings,
    ingest: IngestSettings,
    gps: GpsSource | None = None,
    on_state: Callable[[CameraState], None] | None = None,
    packets: PacketBuffer | None = None,
) -> CameraReader:
    """The right reader for a camera: ``DualStreamReader`` with a ``detect_url``, else a plain ``CameraReader``."""
    if camera.detect_url is not None:
        return DualStreamReader(camera, ingest, gps=gps, on_state=on_state, packets=packets)
    return CameraReader(camera, ingest, gps=gps, on_state=on_state, packets=packets)


def decode_at(buffer: PacketBuffer, at: float) -> npt.NDArray[np.uint8]:
    """The buffered picture captured at ``at`` (epoch seconds) as BGR, decoding its GOP up to it.

    Raises ``ClipError`` when the buffer holds no video at that time or nothing decodes.
    """
    segment, packets = buffer.select(at, at + HALF_FRAME_S)
    codec = cast(av.VideoCodecContext, av.CodecContext.create(segment.codec, "r"))
    template = segment.template.codec_context
    if template.extradata:
        codec.extradata = template.extradata  # SPS/PPS from the SDP: the keyframe may not repeat them
    codec.thread_type = "NONE"  # one picture wanted: no frame threads holding pictures back
    last: av.VideoFrame | None = None
    try:
        for p in packets:
            for frame in codec.decode(av.Packet(p.data)):
                last = cast(av.VideoFrame, frame)
        for frame in codec.decode(None):
            last = cast(av.VideoFrame, frame)
    except av.error.FFmpegError as exc:
        if last is None:
            raise ClipError(f"camera {buffer.camera_id}: main stream does not decode: {type(exc).__name__}") from exc
    if last is None:
        raise ClipError(f"camera {buffer.camera_id}: no main-stream picture decoded at {at:.3f}")
    return cast(npt.NDArray[np.uint8], last.to_ndarray(format="bgr24"))
