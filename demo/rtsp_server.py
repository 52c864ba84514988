#!/usr/bin/python3
"""Serve a video file as an endless live H.264 RTSP stream (demo camera and test fixture).

Run with Debian's ``/usr/bin/python3`` (it has the GStreamer ``gi`` bindings; the project venv does not)::

    /usr/bin/python3 demo/rtsp_server.py --file clip.mp4 --port 8554 --mount /demo --width 1280

How it loops without breaking readers: the clip's H.264 access units are loaded into memory once and a
feeder thread per RTSP media pushes them into an ``appsrc`` in real time, adding one clip length to every
timestamp on each lap, so RTP timestamps only ever grow and PyAV/ffmpeg readers never see a jump back.
Steady state is pure stream copy, so serving costs almost no CPU. When the file cannot be stream-copied
(not H.264, wider than ``--width``, another ``--fps`` wanted, or keyframes more than 2 s apart) it is
transcoded ONCE at start to H.264 with a keyframe every second and cached on disk, then served by copy.

``--sub-mount /demo_sub --sub-width 640`` serves the same clip a second time, scaled (a camera's detection
sub-stream beside its main stream). Then every media of the server plays on ONE shared timeline (clip time is
a function of the system clock, like a real camera's two encoders): a reader of either mount sees the same
picture at the same moment, so a box found on the sub-stream lands on the same scene in the main stream.

All output goes through ``logging`` to stderr. SIGTERM / SIGINT stop the server cleanly (exit status 0).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstPbutils", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstApp, GstPbutils, GstRtspServer  # noqa: E402, F401 - GstApp adds appsink methods

log = logging.getLogger("gridwatch.rtsp_server")

SECOND = Gst.SECOND
MAX_KEYFRAME_GAP_NS = 2 * SECOND  # new readers must get a picture within 2 s
FEED_LEAD_NS = SECOND // 20  # push each unit this early so the payloader never waits
REBASE_AFTER_NS = SECOND // 2  # further behind than this (media was blocked): shift the timeline forward
CACHE_VERSION = "1"  # bump when the transcode recipe changes


class ClipError(RuntimeError):
    """The clip cannot be read, decoded or transcoded; the message names the file and the cause."""


@dataclass(frozen=True)
class AccessUnit:
    """One H.264 access unit (byte-stream, SPS/PPS before every IDR) with times relative to the clip start."""

    pts: int
    dts: int
    keyframe: bool
    data: bytes


@dataclass(frozen=True)
class Clip:
    units: tuple[AccessUnit, ...]
    period: int  # ns: one lap, the offset added to every timestamp on each loop
    width: int
    height: int
    fps: Fraction

    @property
    def caps(self) -> str:
        return (
            "video/x-h264,stream-format=byte-stream,alignment=au,"
            f"width={self.width},height={self.height},framerate={self.fps.numerator}/{self.fps.denominator}"
        )

    def max_keyframe_gap(self) -> int:
        keys = [u.pts for u in self.units if u.keyframe]
        if not keys:
            return self.period
        gaps = [b - a for a, b in itertools.pairwise(keys)]
        gaps.append(self.period - keys[-1] + keys[0])  # the gap across the loop point counts too
        return max(gaps)


@dataclass(frozen=True)
class SourceInfo:
    codec: str
    width: int
    height: int
    fps: Fraction


def probe(path: Path) -> SourceInfo:
    """Codec, size and frame rate of the file's first video stream."""
    try:
        info = GstPbutils.Discoverer.new(15 * SECOND).discover_uri(path.resolve().as_uri())
    except GLib.Error as exc:
        raise ClipError(f"cannot read video file {path}: {exc.message}") from None
    streams = info.get_video_streams()
    if not streams:
        raise ClipError(f"video file {path} has no video stream")
    v = streams[0]
    caps = v.get_caps()
    codec = caps.get_structure(0).get_name() if caps is not None and caps.get_size() else "unknown"
    num, den = v.get_framerate_num(), v.get_framerate_denom()
    fps = Fraction(num, den) if num > 0 and den > 0 else Fraction(25)
    return SourceInfo(codec=codec, width=v.get_width(), height=v.get_height(), fps=fps)


def _run_pipeline(pipeline: Gst.Pipeline, what: str, timeout_s: float) -> None:
    """Play ``pipeline`` to EOS; raise ClipError with GStreamer's message on error or timeout."""
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        msg = bus.timed_pop_filtered(int(timeout_s * SECOND), Gst.MessageType.ERROR | Gst.MessageType.EOS)
        if msg is None:
            raise ClipError(f"{what}: no end of stream within {timeout_s:.0f} s")
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            raise ClipError(f"{what}: {err.message} ({debug})")
    finally:
        pipeline.set_state(Gst.State.NULL)


def _parse(description: str) -> Gst.Pipeline:
    try:
        return Gst.parse_launch(description)
    except GLib.Error as exc:
        raise ClipError(f"GStreamer cannot build the pipeline ({exc.message}): {description}") from None


def load_h264(path: Path) -> Clip:
    """Demux the file's H.264 stream into memory, without decoding it."""
    pipeline = _parse(
        "filesrc name=in ! parsebin "
        "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
        "! appsink name=sink sync=false max-buffers=0 emit-signals=false"
    )
    pipeline.get_by_name("in").set_property("location", str(path))
    sink = pipeline.get_by_name("sink")
    samples: list[Gst.Sample] = []
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while True:
            sample = sink.try_pull_sample(5 * SECOND)
            if sample is not None:
                samples.append(sample)
                continue
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                err, debug = msg.parse_error()
                raise ClipError(f"cannot demux H.264 from {path}: {err.message} ({debug})")
            if sink.is_eos():
                break
            raise ClipError(f"demuxing {path} stalled")
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not samples:
        raise ClipError(f"no H.264 frames in {path}")
    s = samples[0].get_caps().get_structure(0)
    _, num, den = s.get_fraction("framerate")
    fps = Fraction(num, den) if num > 0 and den > 0 else Fraction(25)
    frame_ns = int(SECOND / fps)
    raw: list[tuple[int, int, bool, bytes]] = []
    for i, sample in enumerate(samples):
        buf = sample.get_buffer()
        pts = buf.pts if buf.pts != Gst.CLOCK_TIME_NONE else i * frame_ns
        dts = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else pts
        keyframe = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
        raw.append((pts, dts, keyframe, buf.extract_dup(0, buf.get_size())))
    # Shift so decode time starts at 0 (B-frame files start with dts < pts).
    t0 = min(min(p, d) for p, d, _, _ in raw)
    units = tuple(AccessUnit(p - t0, d - t0, k, b) for p, d, k, b in raw)
    period = max(u.pts for u in units) + frame_ns - min(u.pts for u in units)
    return Clip(units, period, s.get_value("width"), s.get_value("height"), fps)


@contextlib.contextmanager
def _library_chatter_to_log() -> Iterator[None]:
    """Encoder libraries (OpenH264) write to fd 2 directly; route that through logging at DEBUG instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("encoder: %s", line.strip())


def _encoder_description(gop: int, bitrate: int) -> str:
    if Gst.ElementFactory.find("x264enc") is not None:
        return (f"x264enc speed-preset=faster tune=zerolatency key-int-max={gop} bframes=0 "
                f"bitrate={bitrate // 1000}")
    if Gst.ElementFactory.find("openh264enc") is not None:
        return f"openh264enc gop-size={gop} bitrate={bitrate} rate-control=bitrate complexity=high"
    raise ClipError("no H.264 encoder in GStreamer: install gstreamer1.0-plugins-bad (openh264enc) or -ugly")


def output_size(src: SourceInfo, width: int | None) -> tuple[int, int]:
    """Downscale only, keeping the aspect ratio; H.264 wants even sizes."""
    if width is None or src.width <= width:
        return src.width - src.width % 2, src.height - src.height % 2
    height = round(src.height * width / src.width)
    return width - width % 2, height - height % 2


def transcode(path: Path, src: SourceInfo, size: tuple[int, int], fps: Fraction, cache_dir: Path) -> Path:
    """Re-encode once to H.264 (keyframe every second, no B-frames) into a cached MP4; return its path."""
    st = path.stat()
    key = hashlib.sha256(
        f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{size}|{fps}".encode()
    ).hexdigest()[:20]
    out = cache_dir / f"{path.stem}-{size[0]}x{size[1]}-{key}.mp4"
    if out.exists():
        log.info("using cached transcode %s", out)
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    gop = max(1, round(fps))
    bitrate = max(500_000, min(8_000_000, int(size[0] * size[1] * float(fps) * 0.1)))
    rate, rate_caps = ("videorate ! ", f",framerate={fps.numerator}/{fps.denominator}") if fps != src.fps else ("", "")
    tmp = out.with_suffix(f".{os.getpid()}.part")
    pipeline = _parse(
        f"filesrc name=in ! decodebin ! videoconvert ! videoscale ! {rate}"
        f"video/x-raw,format=I420,width={size[0]},height={size[1]}{rate_caps} "
        f"! {_encoder_description(gop, bitrate)} ! h264parse ! mp4mux ! filesink name=out"
    )
    pipeline.get_by_name("in").set_property("location", str(path))
    pipeline.get_by_name("out").set_property("location", str(tmp))
    log.info("transcoding %s (%dx%d) to %dx%d at %s fps, keyframe every %d frames; once, then cached",
             path, src.width, src.height, size[0], size[1], fps, gop)
    try:
        with _library_chatter_to_log():
            _run_pipeline(pipeline, f"transcoding {path}", timeout_s=3600)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def prepare_clip(path: Path, width: int | None, fps: float | None, cache_dir: Path) -> Clip:
    if not path.is_file():
        raise ClipError(f"video file not found: {path}")
    src = probe(path)
    size = output_size(src, width)
    want_fps = Fraction(fps).limit_denominator(1001) if fps else src.fps
    if src.codec == "video/x-h264" and size == (src.width, src.height) and want_fps == src.fps:
        clip = load_h264(path)
        if clip.max_keyframe_gap() <= MAX_KEYFRAME_GAP_NS:
            log.info("serving %s by stream copy: %dx%d %s fps, %d frames, %.2f s per loop",
                     path, clip.width, clip.height, clip.fps, len(clip.units), clip.period / SECOND)
            return clip
        log.info("%s has keyframes %.1f s apart (> 2 s): re-encoding", path, clip.max_keyframe_gap() / SECOND)
    clip = load_h264(transcode(path, src, size, want_fps, cache_dir))
    log.info("serving %s transcoded: %dx%d %s fps, %d frames, %.2f s per loop",
             path, clip.width, clip.height, clip.fps, len(clip.units), clip.period / SECOND)
    return clip


class LoopFeeder:
    """Pushes a clip into one media's appsrc forever, paced to the pipeline clock, timestamps always growing."""

    # Not on gridwatch.loop.ThreadPart: this file runs under the system Python (GStreamer's bindings) as a
    # script of its own, which imports nothing of ours.
    def __init__(self, clip: Clip, appsrc: Gst.Element, name: str, epoch: int | None = None) -> None:
        """``epoch``: absolute clock time (ns) of clip time 0 on a timeline shared with other media; None =
        each media starts its own timeline at its first keyframe (one mount)."""
        self._clip = clip
        self._src = appsrc
        self._epoch = epoch
        self._stop = threading.Event()
        target = self._run if epoch is None else self._run_aligned
        self._thread = threading.Thread(target=target, name=f"feeder-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(2)

    def _running_time(self) -> int | None:
        clock = self._src.get_clock()
        if clock is None:  # not PLAYING yet
            return None
        return int(clock.get_time() - self._src.get_base_time())

    def _run(self) -> None:
        units = self._clip.units
        base: int | None = None  # running time that clip time 0 of lap 0 maps to
        lap = 0
        i = 0
        pushed = 0
        last_pts = -1
        frame_ns = int(SECOND / self._clip.fps)
        max_ahead = max(SECOND, 3 * frame_ns) + FEED_LEAD_NS
        while not self._stop.is_set():
            now = self._running_time()
            if now is None:
                self._stop.wait(0.01)
                continue
            if base is None:
                base = now + FEED_LEAD_NS
            unit = units[i]
            offset = base + lap * self._clip.period
            due = offset + unit.dts
            if due - now > max_ahead:
                # Running time stood still (the media was paused) or went back: pull the timeline to now,
                # but never behind what was already pushed, so timestamps still only grow.
                base = max(base - (due - now - FEED_LEAD_NS), last_pts + 1 - lap * self._clip.period - unit.dts)
                log.debug("running time went back; timeline pulled in")
                continue
            if due - now > FEED_LEAD_NS:
                # Short waits: a pause of the media shows up as running time standing still.
                self._stop.wait(min(due - now - FEED_LEAD_NS, SECOND // 10) / SECOND)
                continue
            if now - due > REBASE_AFTER_NS:
                # The media held us back (preroll before PLAY, a slow client): carry on from now instead of
                # bursting the backlog; shifting forward keeps every timestamp increasing.
                log.debug("feeder held for %.2f s; timeline moved forward", (now - due) / SECOND)
                base += now - due
                offset = base + lap * self._clip.period
            buf = Gst.Buffer.new_wrapped(unit.data)
            buf.pts = offset + unit.pts
            buf.dts = offset + unit.dts
            buf.duration = frame_ns
            if not unit.keyframe:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            ret = self._src.emit("push-buffer", buf)
            if ret == Gst.FlowReturn.FLUSHING:
                self._stop.wait(0.05)  # going down or not started; the media's 'unprepared' stops us
                continue
            if ret != Gst.FlowReturn.OK:
                log.warning("appsrc refused a buffer (%s); stopping this media's feeder", ret.value_nick)
                return
            pushed += 1
            last_pts = max(last_pts, buf.pts)
            i += 1
            if i == len(units):
                i = 0
                lap += 1
                log.debug("loop %d done after %d frames", lap, pushed)


    def _next_keyframe(self, at: int) -> tuple[int, int]:
        """(unit index, lap) of the first keyframe due at or after absolute clock time ``at`` (shared timeline)."""
        assert self._epoch is not None
        period = self._clip.period
        lap, pos = divmod(max(0, at - self._epoch), period)
        for i, unit in enumerate(self._clip.units):
            if unit.keyframe and unit.dts >= pos:
                return i, lap
        first = next((i for i, u in enumerate(self._clip.units) if u.keyframe), 0)
        return first, lap + 1

    def _run_aligned(self) -> None:
        """Like ``_run``, but clip time follows the shared timeline: a unit is due at ``epoch + lap * period +
        dts`` of the absolute clock. A reader joins at the next keyframe; a feeder held back (preroll, a
        stopped process) skips ahead to the next keyframe on time instead of shifting its timeline."""
        assert self._epoch is not None
        units, period = self._clip.units, self._clip.period
        frame_ns = int(SECOND / self._clip.fps)
        position: tuple[int, int] | None = None
        last_dts = -1
        while not self._stop.is_set():
            clock = self._src.get_clock()
            if clock is None:  # not PLAYING yet
                self._stop.wait(0.01)
                continue
            now = clock.get_time()
            if position is None:
                position = self._next_keyframe(now)
            i, lap = position
            unit = units[i]
            due = self._epoch + lap * period + unit.dts
            if now - due > REBASE_AFTER_NS:
                position = self._next_keyframe(now)
                log.debug("feeder held for %.2f s; skipped to the next keyframe", (now - due) / SECOND)
                continue
            if due - now > FEED_LEAD_NS:
                self._stop.wait(min(due - now - FEED_LEAD_NS, SECOND // 10) / SECOND)
                continue
            base_time = self._src.get_base_time()
            dts = due - base_time
            if dts <= last_dts:  # the media was paused and resumed (a new base time): never go back
                position = self._next_keyframe(now + frame_ns)
                continue
            buf = Gst.Buffer.new_wrapped(unit.data)
            buf.dts = dts
            buf.pts = dts + unit.pts - unit.dts
            buf.duration = frame_ns
            if not unit.keyframe:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            ret = self._src.emit("push-buffer", buf)
            if ret == Gst.FlowReturn.FLUSHING:
                self._stop.wait(0.05)
                continue
            if ret != Gst.FlowReturn.OK:
                log.warning("appsrc refused a buffer (%s); stopping this media's feeder", ret.value_nick)
                return
            last_dts = dts
            position = (i + 1, lap) if i + 1 < len(units) else (0, lap + 1)


class LoopingServer:
    """An RTSP server that plays ``clip`` as a live stream at ``mount`` (its own pipeline per reader), and each
    of ``more`` (mount -> clip: e.g. a scaled copy) at its mount, all on one shared timeline."""

    def __init__(self, clip: Clip, host: str, port: int, mount: str, more: dict[str, Clip] | None = None,
                 epoch: int | None = None) -> None:
        self._feeders: set[LoopFeeder] = set()
        self._media_ids = itertools.count(1)
        self._lock = threading.Lock()
        # With several mounts, clip time 0 is one instant of the (system) clock every media pipeline runs on.
        # ``epoch`` (clock ns) puts clip time 0 of the shared timeline there (--epoch: on the wall clock).
        self._epoch = epoch if epoch is not None else Gst.SystemClock.obtain().get_time() if more else None
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        for path, served in {mount: clip, **(more or {})}.items():
            self._add_mount(path, served)

    def _add_mount(self, mount: str, clip: Clip) -> None:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            # A tiny blocking queue: while the media is held (preroll before PLAY) the feeder waits instead of
            # piling up frames that would then reach the reader as one burst.
            "( appsrc name=src is-live=true format=time do-timestamp=false block=true max-buffers=2 max-bytes=0 "
            f'caps="{clip.caps}" ! rtph264pay name=pay0 pt=96 config-interval=-1 )'
        )
        # Not shared: a shared media that is being torn down after its last reader left answers the next
        # reader with 503 for a moment. Separate media cost one cheap copy-feeder each, and every reader
        # starts on a keyframe.
        factory.set_shared(False)
        factory.connect("media-configure", self._on_media_configure, clip)
        self.server.get_mount_points().add_factory(mount, factory)

    def _on_media_configure(self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia,
                            clip: Clip) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder = LoopFeeder(clip, appsrc, name=f"media{next(self._media_ids)}", epoch=self._epoch)
        with self._lock:
            self._feeders.add(feeder)
        # The feeder travels as signal user data: PyGObject wrappers of one media are not stable dict keys.
        media.connect("unprepared", self._on_unprepared, feeder)
        feeder.start()
        log.info("client media prepared; feeding the loop (%d media live)", len(self._feeders))

    def _on_unprepared(self, _media: GstRtspServer.RTSPMedia, feeder: LoopFeeder) -> None:
        feeder.stop()
        with self._lock:
            self._feeders.discard(feeder)
        log.info("media released; feeder stopped (%d media live)", len(self._feeders))

    def attach(self) -> None:
        if self.server.attach(None) == 0:
            raise OSError(f"cannot listen on {self.server.get_address()}:{self.server.get_service()} "
                          "(port in use or not permitted)")

    def stop(self) -> None:
        with self._lock:
            feeders = list(self._feeders)
            self._feeders.clear()
        for f in feeders:
            f.stop()


def wall_epoch_on_clock(epoch_unix_ns: int, period: int) -> int:
    """The pipelines' clock time of a lap start given in Unix time (a lap starts every ``period`` from it): the
    clip then plays on the wall clock, in step with a schedule made from the same epoch (the demo car's GPS)."""
    clock_now = Gst.SystemClock.obtain().get_time()
    at = epoch_unix_ns - (time.time_ns() - clock_now)
    if at > clock_now:  # an epoch still to come: the lap that started before it
        at -= -(-(at - clock_now) // period) * period
    return at


def default_cache_dir() -> Path:
    return Path(os.environ.get("GRIDWATCH_RTSP_CACHE", Path(tempfile.gettempdir()) / "gridwatch-rtsp-cache"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve a video file as an endless H.264 RTSP stream.")
    p.add_argument("--file", type=Path, required=True, help="video file to loop")
    p.add_argument("--port", type=int, default=8554, help="RTSP port (default 8554)")
    p.add_argument("--mount", default="/demo", help="mount path (default /demo)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--width", type=int, default=None, help="downscale to this width if the file is wider")
    p.add_argument("--fps", type=float, default=None, help="frame rate to serve (default: the file's)")
    p.add_argument("--sub-mount", default=None, help="also serve a scaled copy here (a detection sub-stream)")
    p.add_argument("--sub-width", type=int, default=640, help="width of the --sub-mount copy (default 640)")
    p.add_argument("--cache-dir", type=Path, default=None, help="where transcoded copies are kept")
    p.add_argument("--epoch", type=float, default=None,
                   help="Unix time at which a lap of the clip starts: play it on the wall clock from there")
    p.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process is gone")
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    if not args.mount.startswith("/"):
        p.error(f"--mount must start with '/': {args.mount!r}")
    if args.width is not None and args.width < 16:
        p.error(f"--width too small: {args.width}")
    if args.sub_mount is not None and (not args.sub_mount.startswith("/") or args.sub_mount == args.mount):
        p.error(f"--sub-mount must start with '/' and differ from --mount: {args.sub_mount!r}")
    if args.sub_width < 16:
        p.error(f"--sub-width too small: {args.sub_width}")
    if args.fps is not None and not 0 < args.fps <= 120:
        p.error(f"--fps out of range: {args.fps}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Gst.init(None)
    try:
        clip = prepare_clip(args.file, args.width, args.fps, args.cache_dir or default_cache_dir())
        more: dict[str, Clip] = {}
        if args.sub_mount is not None:
            # Same frame rate as the main clip, so both have the same frames and the same loop length.
            sub = prepare_clip(args.file, args.sub_width, float(clip.fps), args.cache_dir or default_cache_dir())
            if sub.period != clip.period:
                log.warning("sub-stream loop %.3f s differs from the main stream's %.3f s: they drift apart",
                            sub.period / SECOND, clip.period / SECOND)
            more[args.sub_mount] = sub
    except ClipError as exc:
        log.error("%s", exc)
        return 2
    except Exception:  # noqa: BLE001 - say what broke through logging, not a bare traceback
        log.exception("cannot prepare %s", args.file)
        return 2
    epoch = None if args.epoch is None else wall_epoch_on_clock(round(args.epoch * SECOND), clip.period)
    server = LoopingServer(clip, args.host, args.port, args.mount, more, epoch)
    try:
        server.attach()
    except OSError as exc:
        log.error("%s", exc)
        return 3
    loop = GLib.MainLoop()

    def quit_loop(*_: object) -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, quit_loop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, quit_loop)
    if args.exit_with_parent:
        parent = os.getppid()

        def check_parent() -> bool:
            if os.getppid() != parent:  # re-parented: whoever started us is gone
                log.warning("parent process %d is gone; stopping", parent)
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add_seconds(1, check_parent)
    for mount in (args.mount, *more):
        log.info("serving rtsp://%s:%d%s", args.host, args.port, mount)
    loop.run()
    server.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
