"""``gridwatch cameras list|add|remove|disable|enable|rename``: edit the camera registry from a shell.

Hook into the main parser with ``register(subparsers, load_settings)``. Changes are written to
``<data_dir>/cameras.json`` and announced over Redis when ``redis_url`` is set; a running worker applies
them at once (or within its poll interval without Redis). Passwords in URLs are never printed.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import redis

from gridwatch.settings import Settings
from ingest.registry import CameraRegistry, ChangeHook, RegistryError, camera_view, redis_announcer

LoadSettings = Callable[[argparse.Namespace], Settings]


def _registry(settings: Settings) -> tuple[CameraRegistry, redis.Redis | None]:
    client: redis.Redis | None = None
    hook: ChangeHook | None = None
    if settings.redis_url is not None:
        client = redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=3,
                                      socket_connect_timeout=3)
        hook = redis_announcer(client)
    return CameraRegistry.for_settings(settings, hook), client


def _table(rows: list[dict[str, Any]]) -> str:
    cols = ("id", "name", "enabled", "url", "gps")
    lines = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace, settings: Settings) -> int:
    registry, client = _registry(settings)
    out = sys.stdout
    try:
        action = args.cameras_command
        if action == "list":
            rows = []
            for cam in registry.load():
                view = camera_view(cam)
                gps = cam.gps_route or (f"{cam.lat},{cam.lon}" if cam.lat is not None else "telemetry")
                rows.append({**view, "enabled": "yes" if cam.enabled else "no", "gps": gps})
            out.write(_table(rows) if rows else "no cameras\n")
        elif action == "add":
            fields: dict[str, Any] = {"id": args.id, "name": args.name or args.id, "url": args.url,
                                      "enabled": not args.disabled}
            if args.detect_url:
                fields["detect_url"] = args.detect_url
            if args.gps_route:
                fields["gps_route"] = args.gps_route
            if args.lat is not None or args.lon is not None:
                fields.update(lat=args.lat, lon=args.lon)
            cam = registry.add(fields)
            out.write(f"added camera {cam.id} ({cam.url.masked}){'' if cam.enabled else ', disabled'}\n")
        elif action == "remove":
            registry.remove(args.id)
            out.write(f"removed camera {args.id}\n")
        elif action in ("disable", "enable"):
            registry.set_enabled(args.id, action == "enable")
            out.write(f"camera {args.id} {action}d\n")
        elif action == "rename":
            cam = registry.rename(args.id, args.name)
            out.write(f"camera {cam.id} is now named {cam.name!r}\n")
        else:  # argparse makes the subcommand required; this names a programming error
            raise RegistryError(f"unknown cameras command {action!r}")
    except RegistryError as exc:
        sys.stderr.write(f"gridwatch cameras {args.cameras_command}: {exc}\n")
        return 2
    finally:
        if client is not None:
            client.close()
    return 0


def register(sub: Any, load: LoadSettings) -> argparse.ArgumentParser:
    """Add ``cameras`` and its subcommands to ``sub`` (the main parser's ``add_subparsers()``)."""
    cams = sub.add_parser("cameras", help="list, add, remove, disable, enable or rename cameras at run time")
    cmds = cams.add_subparsers(dest="cameras_command", required=True)
    cmds.add_parser("list", help="every camera, its state in the registry and its URL (password masked)")
    add = cmds.add_parser("add", help="add a camera; running workers start reading it")
    add.add_argument("id", help="camera id: lowercase letters, digits, - and _")
    add.add_argument("--url", required=True, help="stream URL, e.g. rtsp://user:password@host:554/stream1")
    add.add_argument("--detect-url", default=None,
                     help="optional detection sub-stream (e.g. 640x360): vision reads it, clips and snapshots "
                     "come from --url")
    add.add_argument("--name", default=None, help="name shown to operators (default: the id)")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.add_argument("--gps-route", default=None, help="simulated GPS route (demo); default: the car's telemetry")
    add.add_argument("--lat", type=float, default=None, help="fixed camera: latitude")
    add.add_argument("--lon", type=float, default=None, help="fixed camera: longitude")
    for name, text in (("remove", "delete a camera"), ("disable", "stop reading a camera, keep it listed"),
                       ("enable", "read a disabled camera again")):
        cmds.add_parser(name, help=text).add_argument("id")
    rename = cmds.add_parser("rename", help="change the name operators see (the stream is not interrupted)")
    rename.add_argument("id")
    rename.add_argument("name")

    def func(args: argparse.Namespace) -> int:
        return run(args, load(args))

    cams.set_defaults(func=func)
    return cams
