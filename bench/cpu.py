"""Per-thread CPU accounting from /proc, to split a process's CPU into decode, inference and the rest.

Thread kinds in a GridWatch worker process:
* decode: the readers' Python threads (``reader-*``: demux, decode calls, BGR conversion) and FFmpeg's own
  frame threads (named ``av:h264:...`` by libavcodec);
* inference: time spent inside the model backend's forward call, both on the calling thread and on the
  unnamed native pool threads (OpenVINO/ONNX Runtime) during those calls;
* overhead: everything else — the worker's Python (Ultralytics pre/post-processing, tracking, pose crops,
  rules), the torch pool outside inference, the watchdogs.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, tuple[str, float]]:
    """tid -> (comm, CPU seconds) for every thread of this process."""
    out: dict[int, tuple[str, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of another process."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _python_threads() -> dict[int, str]:
    return {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}


@dataclass
class InferenceMeter:
    """Wraps model backends' ``forward`` to measure the CPU spent inside them.

    Inference CPU = the calling threads' own CPU during their calls + the unnamed native pool threads' CPU
    while at least one call is running (calls may overlap: the worker runs a batch's images in parallel).
    """

    caller: float = 0.0
    pool: float = 0.0
    calls: int = 0
    own: float = 0.0  # CPU this meter spends reading /proc (subtracted from overhead)
    _active: int = 0
    _pool_start: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _restore: list[tuple[Any, str, Any, bool]] = field(default_factory=list)

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            t1 = time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                t2 = time.thread_time()
                self._leave(t2 - t1)

        return timed

    def wrap(self, backend_cls: Any, name: str = "forward") -> None:
        """Wrap a backend class's method (every instance)."""
        original = getattr(backend_cls, name)
        setattr(backend_cls, name, self._timed(original))
        self._restore.append((backend_cls, name, original, False))

    def wrap_instance(self, obj: Any, name: str = "forward") -> None:
        """Wrap one object's method (e.g. one a Detector replaced on its backend instance)."""
        original = getattr(obj, name)
        setattr(obj, name, self._timed(original))
        self._restore.append((obj, name, original, True))

    def _enter(self) -> None:
        t0 = time.thread_time()
        with self._lock:
            self._active += 1
            if self._active == 1:
                self._pool_start = self._pool_cpu()
        self.own += time.thread_time() - t0

    def _leave(self, caller_cpu: float) -> None:
        t0 = time.thread_time()
        with self._lock:
            self.caller += caller_cpu
            self.calls += 1
            self._active -= 1
            if self._active == 0:
                self.pool += self._pool_cpu() - self._pool_start
        self.own += time.thread_time() - t0

    def unwrap(self) -> None:
        for target, name, original, _ in reversed(self._restore):
            setattr(target, name, original)
        self._restore.clear()

    @staticmethod
    def _pool_cpu() -> float:
        named = _python_threads()
        return sum(cpu for tid, (comm, cpu) in thread_cpu().items()
                   if tid not in named and not comm.startswith("av:"))

    def snapshot(self) -> tuple[float, float, float, int]:
        with self._lock:
            return self.caller, self.pool, self.own, self.calls


@dataclass
class CpuSplit:
    decode: float
    inference: float
    overhead: float
    total: float
    wall: float

    def percent_of_machine(self, value: float) -> float:
        return 100.0 * value / (self.wall * (os.cpu_count() or 1))


def split(before: tuple[dict[int, tuple[str, float]], tuple[float, float, float, int], float],
          after: tuple[dict[int, tuple[str, float]], tuple[float, float, float, int], float],
          is_decode: Callable[[str, str | None], bool]) -> CpuSplit:
    """CPU by kind between two ``(thread_cpu(), meter.snapshot(), time.monotonic())`` samples."""
    threads_a, meter_a, t_a = before
    threads_b, meter_b, t_b = after
    names = _python_threads()
    decode = total = 0.0
    for tid, (comm, cpu) in threads_b.items():
        delta = cpu - threads_a.get(tid, (comm, 0.0))[1]
        total += delta
        if is_decode(comm, names.get(tid)):
            decode += delta
    inference = (meter_b[0] - meter_a[0]) + (meter_b[1] - meter_a[1])
    own = meter_b[2] - meter_a[2]
    return CpuSplit(decode=decode, inference=inference, overhead=max(0.0, total - decode - inference - own),
                    total=total - own, wall=t_b - t_a)


def default_is_decode(comm: str, python_name: str | None) -> bool:
    return comm.startswith("av:") or (python_name is not None and python_name.startswith("reader-")
                                      and not python_name.startswith("reader-watch-"))
