"""Start and stop ``bench/timecode_rtsp.py`` (a live camera showing its capture time in pixels) from the venv.

    with TimecodeCamera(codec="h264") as cam:
        read(cam.url)

It answers an RTSP DESCRIBE before ``start()`` returns. ``TIMECODE_JS`` reads a frame's time code back in a page:
``readTimecode(video)`` -> the Unix ms the frame on screen was captured (null when the row is not there).
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

from demo.server import SYSTEM_PYTHON, rtsp_describe
from gridwatch.redis_server import free_port

SCRIPT = Path(__file__).with_name("timecode_rtsp.py")
MOUNT = "/timecode"

# Mirrors timecode_rtsp.draw: 32 cells of 20x40 px on a 640x360 frame; each cell's middle is sampled.
TIMECODE_JS = """
window.readTimecode = function (video) {
  var c = window._tcCanvas || (window._tcCanvas = document.createElement('canvas'));
  c.width = 640; c.height = 40;
  var ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(video, 0, 0, 640, 40, 0, 0, 640, 40);
  var px = ctx.getImageData(0, 0, 640, 40).data;
  var value = 0;
  for (var bit = 0; bit < 32; bit++) {
    var sum = 0;
    for (var dy = 14; dy < 26; dy += 4) {
      for (var dx = 6; dx < 14; dx += 4) { sum += px[((dy * 640) + bit * 20 + dx) * 4]; }
    }
    value = value * 2 + (sum / 6 > 127 ? 1 : 0);
  }
  // The low 32 bits of now's ms: put back the high bits (the frame is seconds old at most).
  var now = Date.now(), span = 4294967296;
  var t = Math.floor(now / span) * span + value;
  if (t > now + span / 2) { t -= span; }
  return Math.abs(now - t) < 60000 ? t : null;
};
"""


class TimecodeCamera:
    def __init__(self, codec: str = "h264", fps: int = 25, host: str = "127.0.0.1") -> None:
        self.codec, self.fps, self.host = codec, fps, host
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{MOUNT}"

    def start(self, timeout: float = 20.0) -> TimecodeCamera:
        self._proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port), "--host", self.host, "--codec", self.codec,
             "--fps", str(self.fps)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while rtsp_describe(self.host, self.port, MOUNT) is None:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self.stop()
                raise RuntimeError(f"time code camera did not start: {err[-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> TimecodeCamera:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
