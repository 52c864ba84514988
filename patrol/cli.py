"""``python -m patrol``: run the car's agent, show or set the crew's status, file a report by hand.

    python -m patrol run --config car.toml
    python -m patrol status --config car.toml [--set on_patrol|paused|off_duty] [--json]
    python -m patrol report --config car.toml --category 0503 --note "stall on the pavement" [--photo p.jpg]
    python -m patrol fetch --car http://car:8090 --start 2026-11-24T08:00+08:00 --end ... --out DIR   (centre)

``status`` and ``report`` work whether or not the agent is running: they write the car's local queue,
which the running agent sends (at once if the link is up, later if not).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gridwatch.categories import CATEGORIES
from gridwatch.lifecycle import stop_on_signals
from gridwatch.logs import setup_logging
from gridwatch.protocol import CrewStatus
from patrol import crew
from patrol.settings import PatrolSettings, PatrolSettingsError, load_patrol_settings
from patrol.store import CarStore, StoreError

log = logging.getLogger("patrol")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def cmd_run(settings: PatrolSettings, _args: argparse.Namespace) -> int:
    from patrol.agent import PatrolAgent

    stop = stop_on_signals(log)
    agent = PatrolAgent(settings).start()
    if agent.api is not None:
        _out(f"patrol agent of {settings.vehicle_id} running; health: {agent.api.url}/api/health")
    try:
        stop.wait()
    finally:
        agent.stop()
    return 0


def _live_health(settings: PatrolSettings) -> dict[str, Any] | None:
    api = settings.segments_api
    if not api.enabled or api.port == 0:
        return None
    host = "127.0.0.1" if api.host in ("0.0.0.0", "", "::") else api.host
    try:
        with urllib.request.urlopen(f"http://{host}:{api.port}/api/health", timeout=3) as resp:
            return dict(json.loads(resp.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def cmd_status(settings: PatrolSettings, args: argparse.Namespace) -> int:
    store = CarStore(settings.state_dir)
    try:
        if args.set:
            crew.set_status(store, settings, args.set)
        health = _live_health(settings)
        if health is None:
            health = {"vehicle_id": settings.vehicle_id, "running": False,
                      "crew_status": crew.current_status(store),
                      "queued": {k: store.pending(k) for k in ("fix", crew.REPORT_KIND, crew.STATUS_KIND)}}
    finally:
        store.close()
    if args.json:
        _out(json.dumps(health, indent=2))
        return 0
    _out(f"vehicle {health['vehicle_id']}: agent {'running' if health.get('running') else 'NOT running'}; "
         f"crew {health['crew_status']['status']}")
    for cam in health.get("cameras", []):
        _out(f"  camera {cam['camera_id']}: live {cam['live']} ({cam['live_mode']}), "
             f"{'recording' if cam['recording'] else 'NOT recording'}, {cam['segments_written']} segments")
    for name, up in health.get("uplink", {}).items():
        link = {True: "up", False: "DOWN", None: "not tried"}[up["link_up"]]
        _out(f"  {name}: link {link}, {up['pending']} queued, {up['sent']} sent, {up['refused']} refused")
    if "queued" in health:
        _out("  queued: " + ", ".join(f"{k} {v}" for k, v in health["queued"].items()))
    seg = health.get("segments")
    if seg:
        _out(f"  segments: {seg['bytes'] / 1e6:.1f} of {seg['cap_bytes'] / 1e6:.1f} MB, {seg['dropped']} dropped "
             "by the disk cap")
    return 0


def cmd_report(settings: PatrolSettings, args: argparse.Namespace) -> int:
    store = CarStore(settings.state_dir)
    try:
        report = crew.file_report(store, settings, args.category, args.note, args.photo, args.lat, args.lon)
    finally:
        store.close()
    where = "no position" if report["lat"] is None else f"at {report['lat']:.5f}, {report['lon']:.5f}"
    _out(f"report {report['report_id']} queued ({args.category} {CATEGORIES[args.category].name_en}, {where})")
    return 0


Command = Callable[[PatrolSettings, argparse.Namespace], int]


def cmd_fetch(args: argparse.Namespace) -> int:
    """At the command centre: download what a car recorded while its link was down (no car settings needed)."""
    from patrol.fetch import FetchError, fetch_segments

    try:
        got = fetch_segments(args.car, args.out, start=args.start, end=args.end, camera=args.camera,
                             token=args.token)
    except FetchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    _out(f"{got.listed} segments in the range: {len(got.downloaded)} fetched, {got.kept} already here"
         + (f"; {got.dropped_on_car} deleted on the car by its disk cap (the replay may have holes)"
            if got.dropped_on_car else ""))
    for path in got.downloaded:
        _out(f"  {path}")
    return 0


def _iso(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone, e.g. {text}+08:00")
    return t


def _runner(cmd: Command) -> Callable[[argparse.Namespace], int]:
    """The command with the car's settings loaded; a settings or report error is one line and status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return cmd(load_patrol_settings(args.config), args)
        except (PatrolSettingsError, crew.ReportError, StoreError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return run


def add_commands(parser: argparse.ArgumentParser) -> None:
    """run / status / report under ``parser`` (``python -m patrol`` or ``gridwatch patrol``)."""
    sub = parser.add_subparsers(dest="patrol_command", required=True)

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--config", "-c", type=Path, required=True, help="the car's TOML settings file")
        return sp

    with_config(sub.add_parser("run", help="run the agent until Ctrl-C / SIGTERM")).set_defaults(
        func=_runner(cmd_run))
    st = with_config(sub.add_parser("status", help="show the agent's health; --set changes the crew status"))
    st.add_argument("--set", choices=[c.value for c in CrewStatus], help="mark the crew's status")
    st.add_argument("--json", action="store_true", help="print the full health as JSON")
    st.set_defaults(func=_runner(cmd_status))
    rp = with_config(sub.add_parser("report", help="file a report by hand (sent when the link allows)"))
    rp.add_argument("--category", required=True, choices=sorted(CATEGORIES), help="issue category code")
    rp.add_argument("--note", default="", help="what the crew saw")
    rp.add_argument("--photo", type=Path, help="a photo to attach")
    rp.add_argument("--lat", type=float, help="latitude (default: the car's last GPS fix)")
    rp.add_argument("--lon", type=float, help="longitude (default: the car's last GPS fix)")
    rp.set_defaults(func=_runner(cmd_report))
    ft = sub.add_parser("fetch", help="(command centre) download the segments a car recorded during a link gap")
    ft.add_argument("--car", required=True, help="the car's segment server, e.g. http://10.8.0.17:8090")
    ft.add_argument("--out", type=Path, required=True, help="folder to put them in (one subfolder per camera)")
    ft.add_argument("--start", type=_iso, help="from (ISO 8601 with zone)")
    ft.add_argument("--end", type=_iso, help="to (ISO 8601 with zone)")
    ft.add_argument("--camera", help="only this camera of the car")
    ft.add_argument("--token", help="the car's segments_api.token, if it has one")
    ft.set_defaults(func=cmd_fetch)


def register(sub: Any) -> None:
    """``gridwatch patrol ...``: call with the ``gridwatch`` parser's subparsers (as ingest.cameras_cli does)."""
    add_commands(sub.add_parser("patrol", help="the patrol car's agent: run, status, report; fetch a car's segments"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m patrol", description="GridWatch patrol car agent")
    add_commands(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    return int(args.func(args))
