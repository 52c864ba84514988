"""Every long-running part runs on gridwatch/loop.py's thread base (ThreadPart, Periodic, LinePump).

A ``Thread(`` written anywhere else must be on the allow-list below with its reason; an entry whose file no longer
starts a thread fails too, so the list stays true and only shrinks.
"""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The shipped source (bench's load generators are not parts: they start client threads on purpose).
PACKAGES = ("centre", "gridwatch", "geo", "ingest", "vision", "alerts", "dashboard", "patrol", "fleet", "demo")
BASE = "gridwatch/loop.py"

ALLOWED = {
    "dashboard/admin_queries.py": "a one-off grid import job that ends by itself: nothing stops it, nothing loops",
    "ingest/manager.py": "a one-shot helper that stops one reader without blocking the manager",
    "demo/rtsp_server.py": "runs under the system Python (GStreamer's bindings) and imports nothing of ours",
}


def _thread_calls(path: Path) -> list[int]:
    """Lines that call ``Thread(`` (``threading.Thread(`` or an imported ``Thread``), comments and strings aside."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
              if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    return [t.start[0] for t, after in zip(tokens, tokens[1:], strict=False)
            if t.type == tokenize.NAME and t.string == "Thread" and after.string == "("]


def _files_starting_threads() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if lines := _thread_calls(path):
                found[path.relative_to(ROOT).as_posix()] = lines
    return found


def test_every_long_running_part_is_on_the_thread_base() -> None:
    assert all((ROOT / package / "__init__.py").is_file() for package in PACKAGES)
    found = _files_starting_threads()
    assert BASE in found, "the scan no longer finds the base's own thread"
    outside = {f"{name}:{lines}" for name, lines in found.items() if name != BASE and name not in ALLOWED}
    assert not outside, f"put these threads on gridwatch.loop.ThreadPart (or allow-list them with a reason): {outside}"


def test_the_allow_list_stays_true() -> None:
    stale = set(ALLOWED) - set(_files_starting_threads())
    assert not stale, f"these files start no thread any more: remove them from ALLOWED: {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('"""threading.Thread( in a docstring"""\nimport threading\nfrom threading import Thread\n'
                      "t = threading.Thread(target=print)  # threading.Thread(\nu = Thread (target=print)\n"
                      "class P(ThreadPart): ...\nv = MyThread(target=print)\n", encoding="utf-8")
    assert _thread_calls(source) == [4, 5]
