"""Live video for the wall's tiles at the camera's own frame rate: fragmented MP4 over a websocket, no re-encoding.

Why this design (issue 17 asked to choose between MSE and WebRTC and measure; numbers in BENCHMARKS.md, "Live
video"):

* **fMP4 over a websocket into Media Source Extensions** (as go2rtc and Frigate do). The camera's H.264 packets are
  copied into one ``moof``+``mdat`` per frame (``dashboard.fmp4``): no decoder, no encoder, no codec library beyond
  the demuxer PyAV already brings, and it rides the same cookie + Origin checks as the push socket. WebRTC (aiortc)
  would need the packets re-packetised as RTP with SRTP/DTLS/ICE per viewer in Python (aiortc's H.264 path
  decodes and re-encodes unless patched), a lot of moving parts for a loopback/LAN wall. MSE's known weakness is
  latency (players buffer seconds); here each frame is sent the moment it arrives and the page keeps playback at
  the live edge (it seeks forward when it is behind), which is what brings the measured delay near WebRTC's.
* **One upstream connection per camera**, shared by all viewers, opened when the first viewer asks and closed
  ``LINGER_S`` after the last one left (a page flip back and forth does not reconnect the camera). A viewer joining
  a running relay gets the init segment and the frames since the last keyframe at once, so its first picture does
  not wait for the next keyframe.
* **A viewer that falls behind jumps to the live edge**: when its oldest unsent frame is older than ``MAX_LAG_S``
  (a slow network, a busy browser) its queue is emptied and it resumes at the next keyframe, never drifting.
* At city scale the compose deployment lets the wall take WebRTC straight from MediaMTX
  (``dashboard.live_source = "mediamtx"``, WHEP at ``dashboard.mediamtx_whep_url``): this server then serves no
  video bytes; ``/api/live`` only tells the page where to go.

Small tiles (the 9 and 16 layouts) ask for ``?stream=sub``: a camera with a detection sub-stream (``detect_url``, e.g.
640x360) is relayed from that one instead (its own shared upstream), a quarter of the pixels for the browser to
decode; a camera without one sends its main stream.

Protocol (``ws://<host>:<dashboard.live_port>/live/<camera id>[?stream=sub]``): a text message ``{"type": "stream",
"codec": "avc1.64001f", ...}`` announces a (new) stream, then binary messages ``[kind u8][media time f64][captured
f64]`` + payload: kind 0 = init segment, 1 = a fragment starting with a keyframe, 2 = any other fragment. ``media time``
is where the frame lies on the page's video timeline and ``captured`` its wall-clock capture time (Unix s), so the
page can draw a frame's detection boxes over the very frame and measure glass-to-glass latency. A text
``{"type": "error", ...}`` says why no video comes (the tile keeps its preview), and a text ``{"type": "boxes", "t":
capture time, "boxes": [[x1, y1, x2, y2, class, confidence], ...]}`` (0..1 of the frame) carries the detection boxes
vision found in the frame captured at ``t`` (``gridwatch.boxes``, forwarded from the worker's Redis pub/sub), drawn
by the page over that very frame.

The handshake is checked like the push socket's (``dashboard.auth.websocket``): the Origin must be this host
(``guard.origin_ok``), the cookies must carry a wall login (close 4401), the camera must exist (close 4404) and be
one the viewer's grid scope lets them watch (close 4403, as ``/video/<id>.jpg`` answers 403).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from dashboard import fmp4, lang
from dashboard.auth.websocket import CLOSE_FORBIDDEN, admitted
from dashboard.live_relay import CameraRelay, Piece
from dashboard.push import ANYONE, CLOSE_BAD_REQUEST, Authorize, Viewer
from gridwatch import boxes
from gridwatch.i18n import N_, translator
from gridwatch.settings import CameraSettings, Settings
from gridwatch.wsserver import WebsocketServerThread, page_host

log = logging.getLogger(__name__)

PATH_PREFIX = "/live/"
CONFIG_ROUTE = "/api/live"
CLOSE_UNKNOWN_CAMERA = 4404
SUB_SUFFIX = "@sub"  # upstreams() names a camera's detection sub-stream relay so
LINGER_S = 5.0  # keep a camera's upstream this long after its last viewer left
MAX_LAG_S = 1.0  # a viewer whose oldest unsent frame is older than this skips to the next keyframe
MAX_GOP_FRAMES = 300  # frames since the last keyframe kept for joiners (a camera with a 12 s GOP at 25 fps)
# Per-viewer kernel send buffer: small enough that a stalled browser shows up as backpressure (and so as lag,
# dropped to the live edge) within about a second of video, not after the megabytes TCP autotuning allows.
SOCKET_SNDBUF = 128 * 1024
KIND_INIT, KIND_KEY, KIND_DELTA = 0, 1, 2
_HEADER = struct.Struct(">Bdd")

CameraLookup = Callable[[str], CameraSettings | None]
# The tile's notice when the browser cannot play a camera's codec (the codec's name follows in brackets).
UNSUPPORTED_TEXT = N_("No live video: this browser cannot play the camera's codec; showing the preview")


class LiveServerError(RuntimeError):
    pass


def message(kind: int, media_time: float, captured: float, payload: bytes) -> bytes:
    return _HEADER.pack(kind, media_time, captured) + payload


def split_message(data: bytes) -> tuple[int, float, float, bytes]:
    """The inverse of :func:`message` (tests and the benchmark's client)."""
    kind, media_time, captured = _HEADER.unpack_from(data)
    return kind, media_time, captured, data[_HEADER.size:]


@dataclass(eq=False)
class _Viewer:
    ws: ServerConnection
    who: Viewer
    queue: collections.deque[tuple[float, str | bytes, bool]] = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    waiting_key: bool = True
    skipped: int = 0  # frames dropped to get back to the live edge

    def put(self, item: str | bytes, *, frame: bool = False) -> None:
        self.queue.append((time.monotonic(), item, frame))
        self.ready.set()

    def behind(self, now: float) -> bool:
        return any(frame for _, _, frame in self.queue) and now - self.queue[0][0] > MAX_LAG_S

    def drop_frames(self) -> None:
        kept = [entry for entry in self.queue if not entry[2]]
        self.skipped += len(self.queue) - len(kept)
        self.queue = collections.deque(kept)
        self.waiting_key = True


@dataclass(eq=False)
class _Channel:
    """One camera's relay and its viewers (loop thread only)."""

    camera_id: str
    key: str  # the camera id, with SUB_SUFFIX for its detection sub-stream
    relay: CameraRelay
    viewers: set[_Viewer] = field(default_factory=set)
    stream_text: str | None = None
    init: bytes | None = None
    gop: list[bytes] = field(default_factory=list)
    linger: asyncio.TimerHandle | None = None
    boxes: asyncio.Task[None] | None = None  # forwards the worker's detection boxes (gridwatch.boxes)

    def join(self, viewer: _Viewer) -> None:
        self.viewers.add(viewer)
        if self.stream_text is not None and self.init is not None:
            viewer.put(self.stream_text)
            viewer.put(self.init)
            for data in self.gop:
                viewer.put(data, frame=True)
            viewer.waiting_key = not self.gop

    def new_stream(self, init: fmp4.InitSegment, stream_text: str) -> None:
        self.stream_text = stream_text
        self.init = message(KIND_INIT, 0.0, time.time(), init.data)
        self.gop = []
        for viewer in self.viewers:
            viewer.drop_frames()
            viewer.put(stream_text)
            viewer.put(self.init)

    def piece(self, piece: Piece) -> None:
        data = message(KIND_KEY if piece.key else KIND_DELTA, piece.media_time, piece.captured, piece.data)
        if piece.key:
            self.gop = [data]
        elif self.gop and len(self.gop) < MAX_GOP_FRAMES:
            self.gop.append(data)
        now = time.monotonic()
        for viewer in self.viewers:
            if viewer.behind(now):
                viewer.drop_frames()
            if viewer.waiting_key and not piece.key:
                viewer.skipped += 1
                continue
            viewer.waiting_key = False
            viewer.put(data, frame=True)

    def boxes_text(self, text: str) -> None:
        for viewer in self.viewers:
            if not viewer.waiting_key:
                viewer.put(text)


class LiveServer(WebsocketServerThread):
    """``LiveServer(cameras).start()``; pages connect to ``ws://host:port/live/<camera id>``."""

    def __init__(
        self, cameras: CameraLookup, host: str = "127.0.0.1", port: int = 0, *,
        authorize: Authorize | None = None, rtsp_transport: str = "tcp", open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0, linger_s: float = LINGER_S, redis_url: str | None = None,
    ) -> None:
        """``authorize`` (None = everyone may watch) may be set later, before browsers connect; ``redis_url``: where
        the worker publishes detection boxes (None = video without the overlay)."""
        # No permessage-deflate: compressed video does not shrink, and zlib over every frame cost more CPU than
        # the whole relay (BENCHMARKS.md, "Live video").
        super().__init__(host, port, what="live video server", thread_name="gridwatch-live", error=LiveServerError,
                         max_size=4096, write_limit=SOCKET_SNDBUF, compression=None)
        self.authorize = authorize
        self._cameras = cameras
        self._relay_options: dict[str, Any] = {"rtsp_transport": rtsp_transport, "open_timeout_s": open_timeout_s,
                                               "read_timeout_s": read_timeout_s}
        self._linger_s = linger_s
        self._channels: dict[str, _Channel] = {}
        self._redis_url = redis_url
        self._redis: aioredis.Redis | None = None

    @property
    def url(self) -> str:
        """The socket's base URL as the page gets it (a wildcard host: the page puts in the one it used)."""
        return f"ws://{page_host(self._host)}:{self.port}{PATH_PREFIX}"

    def upstreams(self) -> dict[str, int]:
        """{camera id (+ SUB_SUFFIX for a sub-stream): viewers} of the upstream connections this server holds now."""
        return {cid: len(ch.viewers) for cid, ch in list(self._channels.items())}

    def connections(self, key: str) -> int:
        """Upstream connections opened by the current relay of ``key`` (as upstreams() names it; 0: none runs)."""
        channel = self._channels.get(key)
        return 0 if channel is None else channel.relay.connections

    def native_threads(self) -> list[int]:
        """OS thread ids of the server's loop and its relays now (the benchmark accounts their CPU)."""
        ids = [t.native_id for t in (self._thread,) if t is not None and t.native_id is not None]
        ids += [tid for ch in list(self._channels.values()) if (tid := ch.relay.native_id) is not None]
        return ids

    # --- inside the loop thread -------------------------------------------------------------------

    async def _setup(self) -> None:
        if self._redis_url is not None:
            self._redis = aioredis.Redis.from_url(self._redis_url)

    async def _on_stopping(self) -> None:
        for channel in list(self._channels.values()):
            self._close_channel(channel)

    async def _teardown(self) -> None:
        for channel in list(self._channels.values()):
            self._close_channel(channel)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _forward_boxes(self, channel: _Channel) -> None:
        """The worker's box sets of this camera -> its viewers, until the channel closes; Redis outages retried."""
        assert self._redis is not None
        backoff = 0.5
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(boxes.channel(channel.camera_id))
                    backoff = 0.5
                    async for msg in pubsub.listen():
                        data = msg.get("data")
                        if isinstance(data, bytes):
                            channel.boxes_text(data.decode())
            except redis.RedisError as exc:
                log.info("live %s: detection boxes unavailable (%s); retrying", channel.camera_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _close_channel(self, channel: _Channel) -> None:
        if channel.linger is not None:
            channel.linger.cancel()
        if channel.boxes is not None:
            channel.boxes.cancel()
        channel.relay.stop()
        if self._channels.get(channel.key) is channel:
            del self._channels[channel.key]
        log.info("live %s: upstream closed (no viewers)", channel.key)

    def _channel(self, camera: CameraSettings, sub: bool) -> _Channel:
        """The camera's channel: its detection sub-stream when asked and it has one (``detect_url``), else its
        main stream."""
        sub = sub and camera.detect_url is not None
        key = camera.id + (SUB_SUFFIX if sub else "")
        channel = self._channels.get(key)
        if channel is not None:
            if channel.linger is not None:
                channel.linger.cancel()
                channel.linger = None
            return channel
        loop = asyncio.get_running_loop()
        cid = camera.id

        def on_init(init: fmp4.InitSegment) -> None:
            text = json.dumps({"type": "stream", "camera": cid, "codec": init.codec,
                               "mime": f'video/mp4; codecs="{init.codec}"'})
            loop.call_soon_threadsafe(lambda: self._deliver(key, relay, lambda ch: ch.new_stream(init, text)))

        def on_piece(piece: Piece) -> None:
            loop.call_soon_threadsafe(lambda: self._deliver(key, relay, lambda ch: ch.piece(piece)))

        relay = CameraRelay(key, lambda: self._url_of(cid, sub), on_init, on_piece, **self._relay_options)
        channel = _Channel(cid, key, relay)
        self._channels[key] = channel
        if self._redis is not None:
            channel.boxes = asyncio.create_task(self._forward_boxes(channel), name=f"live-boxes-{key}")
        relay.start()
        log.info("live %s: upstream opened", key)
        return channel

    def _url_of(self, camera_id: str, sub: bool) -> str:
        camera = self._cameras(camera_id)
        if camera is None:
            raise LiveServerError(f"camera {camera_id!r} is gone")
        url = camera.detect_url if sub and camera.detect_url is not None else camera.url
        return url.get_secret_value()

    def _deliver(self, key: str, relay: CameraRelay, apply: Callable[[_Channel], None]) -> None:
        channel = self._channels.get(key)
        if channel is not None and channel.relay is relay:  # a relay being closed may still hand a last piece
            apply(channel)

    def _leave(self, channel: _Channel, viewer: _Viewer) -> None:
        channel.viewers.discard(viewer)
        if not channel.viewers and self._channels.get(channel.key) is channel:
            loop = asyncio.get_running_loop()
            channel.linger = loop.call_later(self._linger_s, lambda: self._close_if_idle(channel))

    def _close_if_idle(self, channel: _Channel) -> None:
        if not channel.viewers:
            self._close_channel(channel)

    async def _check(self, ws: ServerConnection) -> tuple[Viewer, CameraSettings, bool] | None:
        """(viewer, camera, whether the sub-stream was asked for), or None once the connection is closed."""
        request = ws.request
        parts = urlsplit(request.path if request is not None else "")
        path = parts.path
        if not path.startswith(PATH_PREFIX):
            await ws.close(CLOSE_BAD_REQUEST, f"unknown path; use {PATH_PREFIX}<camera id>")
            return None
        who = await admitted(ws, self.authorize, ANYONE, "live")
        if who is None:
            return None
        camera_id = unquote(path[len(PATH_PREFIX):])
        camera = await asyncio.to_thread(self._cameras, camera_id)
        if camera is None or not camera.enabled:
            await ws.close(CLOSE_UNKNOWN_CAMERA, "no such camera")
            return None
        if who.cameras is not None and camera.id not in who.cameras:
            # Grid scope: a grid's staff watch the cameras in their subtree, as /video/<id>.jpg serves them.
            await ws.close(CLOSE_FORBIDDEN, "this camera is outside your grid")
            return None
        return who, camera, parse_qs(parts.query).get("stream") == ["sub"]

    async def _handle(self, ws: ServerConnection) -> None:
        checked = await self._check(ws)
        if checked is None:
            return
        who, camera, sub = checked
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
        channel = self._channel(camera, sub)
        viewer = _Viewer(ws, who)
        channel.join(viewer)
        sender = asyncio.create_task(self._send(viewer), name=f"live-send-{camera.id}")
        try:
            await ws.wait_closed()
        finally:
            sender.cancel()
            self._leave(channel, viewer)
            if viewer.skipped:
                log.info("live %s: viewer %s skipped %d frames to stay live", camera.id, who.name, viewer.skipped)

    async def _send(self, viewer: _Viewer) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await viewer.ready.wait()
                while viewer.queue:
                    _, item, _ = viewer.queue.popleft()
                    await viewer.ws.send(item)
                viewer.ready.clear()


def page_config(settings: Settings, live_url: str | None) -> dict[str, Any]:
    """What the wall's live.js needs: where the video comes from (``live_url``: the live socket's, None when this
    dashboard runs none), how many tiles may play at once and its words in the page's language (in a request)."""
    board = settings.dashboard
    words = translator(lang.wall_language(settings.locale.language))
    config: dict[str, Any] = {"source": board.live_source, "maxTiles": board.live_tiles,
                              "texts": {"unsupported": words.gettext(UNSUPPORTED_TEXT)}}
    if board.live_source == "mediamtx":
        config["whep"] = board.mediamtx_whep_url
    elif live_url is not None:
        config["url"] = live_url
    else:
        config["maxTiles"] = 0
    return config


def registry_lookup(settings: Settings) -> CameraLookup:
    """Cameras by id from the run-time registry (``data_dir/cameras.json``), read at each viewer's handshake."""
    from ingest.registry import CameraRegistry, UnknownCamera

    registry = CameraRegistry.for_settings(settings)

    def lookup(camera_id: str) -> CameraSettings | None:
        try:
            return registry.get(camera_id)
        except UnknownCamera:
            return None

    return lookup
