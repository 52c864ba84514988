"""Start and stop ``demo/rtsp_server.py`` (a GStreamer RTSP server looping a clip) from the venv side.

The server needs Debian's ``/usr/bin/python3`` because GStreamer's ``gi`` bindings live there, not in the
venv; this module only spawns it and checks that the stream really answers (an RTSP DESCRIBE that returns
an SDP with a video track) before handing out its URL.
"""
from __future__ import annotations

import collections
import logging
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from gridwatch.loop import LinePump
from gridwatch.redis_server import free_port

log = logging.getLogger(__name__)
_server_log = logging.getLogger("demo.rtsp_server")  # the server's own lines, re-logged as its module

SYSTEM_PYTHON = os.environ.get("GRIDWATCH_GST_PYTHON", "/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
EXIT_PORT_IN_USE = 3  # rtsp_server.py's status when it cannot listen
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}
_LOG_LINE = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$")


class RtspServerError(RuntimeError):
    """The RTSP test server could not start or does not answer; the message carries its last log lines."""


def rtsp_describe(host: str, port: int, path: str, timeout: float = 3.0) -> str | None:
    """Send one RTSP DESCRIBE; return the SDP on ``200 OK``, None on any other answer or no answer."""
    url = f"rtsp://{host}:{port}{path}"
    request = f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: gridwatch\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            if not lines[0].startswith("RTSP/1.0 200"):
                return None
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            while len(body) < length:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                body += chunk
            return body.decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return None


class RtspTestServer:
    """``with RtspTestServer(clip) as srv: read(srv.url)`` — a real RTSP server looping ``video`` forever.

    ``width`` downscales wider clips (default 1280, i.e. 1080p is served as 720p); ``port=None`` (or 0)
    picks a free loopback port. ``epoch`` (Unix time) plays the clip on the wall clock, a lap starting at
    ``epoch`` + k clip lengths, instead of from each reader's start. A clip that must be re-encoded is
    transcoded once and cached (in
    ``$GRIDWATCH_RTSP_CACHE``, default ``<tmp>/gridwatch-rtsp-cache``), so only the first start is slower.
    ``sub_mount`` also serves the clip scaled to ``sub_width`` there (a detection sub-stream, ``sub_url``), on
    the same timeline as the main mount.
    """

    def __init__(
        self,
        video: Path,
        port: int | None = None,
        mount: str = "/demo",
        width: int | None = 1280,
        *,
        fps: float | None = None,
        epoch: float | None = None,
        host: str = "127.0.0.1",
        python: str = SYSTEM_PYTHON,
        sub_mount: str | None = None,
        sub_width: int = 640,
    ) -> None:
        if not mount.startswith("/"):
            raise ValueError(f"RTSP mount must start with '/': {mount!r}")
        if sub_mount is not None and (not sub_mount.startswith("/") or sub_mount == mount):
            raise ValueError(f"RTSP sub-stream mount must start with '/' and differ from {mount!r}: {sub_mount!r}")
        self.sub_mount = sub_mount
        self.sub_width = sub_width
        self.video = Path(video)
        self.mount = mount
        self.width = width
        self.fps = fps
        self.epoch = epoch  # Unix time a lap starts at: the clip plays on the wall clock (the demo lap)
        self.host = host
        self.python = python
        self._auto_port = not port  # None or 0: a free loopback port, chosen here so the URL is known
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None  # exit status of the last server process, once stopped
        self._log_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._log_thread: LinePump | None = None

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{self.mount}"

    @property
    def sub_url(self) -> str:
        """The scaled detection sub-stream (only with ``sub_mount``)."""
        if self.sub_mount is None:
            raise ValueError("this RTSP test server serves no sub-stream (no sub_mount)")
        return f"rtsp://{self.host}:{self.port}{self.sub_mount}"

    @property
    def pid(self) -> int | None:
        """The server process id while it runs (tests pause it with SIGSTOP to simulate a silent camera)."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        cmd = [self.python, str(SERVER_SCRIPT), "--file", str(self.video), "--port", str(self.port),
               "--mount", self.mount, "--host", self.host, "--exit-with-parent"]
        if self.width is not None:
            cmd += ["--width", str(self.width)]
        if self.fps is not None:
            cmd += ["--fps", str(self.fps)]
        if self.sub_mount is not None:
            cmd += ["--sub-mount", self.sub_mount, "--sub-width", str(self.sub_width)]
        if self.epoch is not None:
            cmd += ["--epoch", repr(self.epoch)]
        return cmd

    def _log_line(self, line: str) -> None:
        """Re-log a line of the server's stderr under its module's logger, keeping the tail for error messages."""
        if not line:
            return
        self._log_tail.append(line)
        m = _LOG_LINE.match(line)
        level = _LEVELS.get(m.group(1), logging.INFO) if m else logging.DEBUG
        _server_log.log(level, "[port %d] %s", self.port, m.group(2) if m else line)

    def _spawn(self) -> subprocess.Popen[bytes]:
        if not self.video.is_file():
            raise RtspServerError(f"video for the RTSP test server not found: {self.video}")
        if not Path(self.python).exists():
            raise RtspServerError(
                f"{self.python} not found: the RTSP server needs Debian's python3 with python3-gi and "
                "gir1.2-gst-rtsp-server-1.0 (set GRIDWATCH_GST_PYTHON to use another interpreter)"
            )
        self._log_tail.clear()
        # Its own process group: Ctrl-C in a terminal reaches GridWatch only, which stops this server in order
        # (after the readers of its stream), instead of every process of the group dying at once.
        proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, process_group=0)
        assert proc.stderr is not None
        self._log_thread = LinePump(f"rtsp-server-log-{self.port}", proc.stderr, self._log_line).start()
        return proc

    def _tail(self) -> str:
        if self._log_thread is not None:
            self._log_thread.wait(1)  # let the last lines of an exited server arrive
        return "\n".join(self._log_tail) or "(no output)"

    def start(self, timeout: float = 15.0) -> RtspTestServer:
        """Spawn the server and return once a DESCRIBE of the stream succeeds; raise RtspServerError if not."""
        if self.running:
            return self
        attempts = 3 if self._auto_port else 1
        for attempt in range(1, attempts + 1):
            self._proc = self._spawn()
            deadline = time.monotonic() + timeout
            while True:
                code = self._proc.poll()
                if code is not None:
                    self._proc = None
                    if code == EXIT_PORT_IN_USE and attempt < attempts:
                        log.info("port %d was taken meanwhile; retrying on another", self.port)
                        self.port = free_port()
                        break
                    raise RtspServerError(
                        f"RTSP test server for {self.video} exited with status {code}:\n{self._tail()}"
                    )
                mounts = (self.mount,) if self.sub_mount is None else (self.mount, self.sub_mount)
                if all(rtsp_describe(self.host, self.port, m, timeout=min(3.0, timeout)) is not None for m in mounts):
                    log.info("RTSP test server ready at %s (serving %s)", self.url, self.video.name)
                    return self
                if time.monotonic() > deadline:
                    self.stop()
                    raise RtspServerError(
                        f"RTSP test server at {self.url} did not answer within {timeout:.0f} s:\n{self._tail()}"
                    )
                time.sleep(0.1)
        raise RtspServerError(f"RTSP test server found no free port after {attempts} attempts")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("RTSP test server on port %d ignored SIGTERM; killing it", self.port)
                proc.kill()
                proc.wait()
        if proc is not None:
            self.returncode = proc.returncode
        if self._log_thread is not None:
            self._log_thread.stop(2)
            self._log_thread = None
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()

    def __enter__(self) -> RtspTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
