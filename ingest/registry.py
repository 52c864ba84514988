"""The camera registry: which cameras exist, persisted as ``<data_dir>/cameras.json``, changed at run time.

The settings file's cameras are the initial set: each configured camera id is copied in once (so a camera
added to the settings later still appears), and a camera removed at run time stays removed even though the
settings still list it. Every change is written atomically (temporary file + rename, mode 0600 because the
RTSP URLs carry passwords) under an exclusive file lock, so the CLI, the dashboard API and a worker can
share one file. ``on_change(op, camera_id, version)`` is told of each change (it carries no URL, no secret)
so running workers can apply it at once (``ingest.manager``); readers also notice a changed file by itself.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from pydantic import ValidationError

from gridwatch import keys
from gridwatch.settings import CameraSettings, Settings
from gridwatch.urls import origin

log = logging.getLogger(__name__)

FILE_NAME = "cameras.json"
MASK = "***"
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https")
ChangeHook = Callable[[str, str, int], object]
Editor = Callable[[list[dict[str, Any]]], CameraSettings]  # edits the file's camera list, returns the camera


class RegistryError(ValueError):
    """A registry change that cannot be made; the message names the camera and the reason."""


class UnknownCamera(RegistryError, LookupError):
    pass


class DuplicateCamera(RegistryError):
    pass


def describe(err: ValidationError) -> str:
    """A camera's validation errors, by field, without the submitted values (a URL may hold a password)."""
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "camera"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def check_url(cam: CameraSettings) -> CameraSettings:
    for field, url in (("url", cam.url), ("detect_url", cam.detect_url)):
        if url is None:
            continue
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in URL_SCHEMES or not parts.hostname:
            raise RegistryError(f"camera {cam.id!r}: {field} must be a stream URL like rtsp://host/path "
                                f"(schemes: {', '.join(URL_SCHEMES)}), got {url.masked!r}")
    return cam


def camera_to_json(cam: CameraSettings) -> dict[str, Any]:
    """The full config, password included: for the registry file only, never for a log or a browser."""
    data = cam.model_dump(mode="json", exclude_defaults=True)
    data["url"] = cam.url.get_secret_value()
    if cam.detect_url is not None:
        data["detect_url"] = cam.detect_url.get_secret_value()
    return data


def camera_view(cam: CameraSettings) -> dict[str, Any]:
    """What the API and the CLI show: the URL with its password masked, and whether it has one."""
    data = cam.model_dump(mode="json")
    data["url"] = cam.url.masked
    data["has_password"] = urlsplit(cam.url.get_secret_value()).password is not None
    data["detect_url"] = cam.detect_url.masked if cam.detect_url is not None else None
    return data


def keep_masked_password(new_url: str, old_url: str) -> str:
    """A URL sent back as shown (``user:***@host``) keeps the stored password instead of becoming '***'.

    Only while it still points at the same server (scheme, host and port): otherwise anyone who may edit a
    camera could point it at a server of their own and receive the stored password when it connects.
    """
    new, old = urlsplit(new_url), urlsplit(old_url)
    if new.password != MASK:
        return new_url
    if old.password is None:
        raise RegistryError("the URL's password is '***' but no password is stored to keep; send the real one")
    if origin(new_url) != origin(old_url):
        raise RegistryError("the URL's password is '***' but the URL points at another server (scheme, host or "
                            "port changed); the stored password is kept only for the same server: send the "
                            "new server's password")
    host = new.hostname or ""
    if new.port is not None:
        host = f"{host}:{new.port}"
    netloc = f"{new.username or ''}:{old.password}@{host}"
    return urlunsplit((new.scheme, netloc, new.path, new.query, new.fragment))


def redis_announcer(client: redis.Redis) -> ChangeHook:
    """``on_change`` that publishes ``{"op", "camera_id", "version"}`` on ``gridwatch.keys.CAMERAS_CHANNEL``."""

    def announce(op: str, camera_id: str, version: int) -> None:
        try:
            client.publish(keys.CAMERAS_CHANNEL, json.dumps({"op": op, "camera_id": camera_id, "version": version}))
        except redis.RedisError as exc:
            # Workers still see the changed file within their poll interval.
            log.warning("camera %s %s not announced over Redis: %s", camera_id, op, exc)

    return announce


class CameraRegistry:
    """``CameraRegistry(data_dir / "cameras.json", settings.cameras)``; ``load()``, ``add()``, ``update()`` ..."""

    def __init__(self, path: Path, initial: Sequence[CameraSettings] = (), on_change: ChangeHook | None = None) -> None:
        self.path = Path(path)
        self.initial = tuple(initial)
        self.on_change = on_change

    @classmethod
    def for_settings(cls, settings: Settings, on_change: ChangeHook | None = None) -> CameraRegistry:
        return cls(settings.data_dir / FILE_NAME, settings.cameras, on_change)

    # ---- file -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 0, "seeded": [], "cameras": []}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"camera registry {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
            raise RegistryError(f"camera registry {self.path} is not a GridWatch camera list")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _seed(self, data: dict[str, Any]) -> bool:
        """Copy in configured cameras this registry has never seen; True if anything was added."""
        seeded = set(data.get("seeded", []))
        present = {c.get("id") for c in data["cameras"]}
        changed = False
        for cam in self.initial:
            if cam.id in seeded:
                continue
            seeded.add(cam.id)
            changed = True
            if cam.id not in present:
                data["cameras"].append(camera_to_json(cam))
        data["seeded"] = sorted(seeded)
        return changed

    def _cameras(self, data: dict[str, Any]) -> list[CameraSettings]:
        cams = []
        for raw in data["cameras"]:
            try:
                cams.append(CameraSettings.model_validate(raw))
            except ValidationError as exc:
                cid = raw.get("id", "?") if isinstance(raw, dict) else "?"
                log.error("camera registry %s: camera %s skipped: %s", self.path, cid, describe(exc))
        return cams

    # ---- reads ----------------------------------------------------------------------------------------

    def load(self) -> list[CameraSettings]:
        """All cameras (enabled or not) in registry order; creates or extends the file from the settings."""
        with self._locked():
            data = self._read()
            if self._seed(data):
                data["version"] = int(data.get("version", 0)) + 1
                self._write(data)
            return self._cameras(data)

    def get(self, camera_id: str) -> CameraSettings:
        for cam in self.load():
            if cam.id == camera_id:
                return cam
        raise UnknownCamera(f"no camera {camera_id!r} in the registry")

    def version(self) -> int:
        """Increases with every change; cheap enough to poll (reads the file, no lock)."""
        try:
            return int(self._read().get("version", 0))
        except RegistryError:
            return -1

    # ---- changes --------------------------------------------------------------------------------------

    def _change(self, op: str, camera_id: str, edit: Editor) -> CameraSettings:
        with self._locked():
            data = self._read()
            self._seed(data)
            result = edit(data["cameras"])
            data["version"] = version = int(data.get("version", 0)) + 1
            self._write(data)
        log.info("camera %s %s (registry version %d)", camera_id, op, version)
        if self.on_change is not None:
            try:
                self.on_change(op, camera_id, version)
            except Exception:  # noqa: BLE001 - the change is stored; a failing announcer must not undo that
                log.exception("announcing camera %s %s failed", camera_id, op)
        return result

    def add(self, camera: CameraSettings | Mapping[str, Any]) -> CameraSettings:
        try:
            cam = camera if isinstance(camera, CameraSettings) else CameraSettings.model_validate(dict(camera))
        except ValidationError as exc:
            raise RegistryError(f"invalid camera: {describe(exc)}") from None
        check_url(cam)

        def edit(cams: list[dict[str, Any]]) -> CameraSettings:
            if any(c.get("id") == cam.id for c in cams):
                raise DuplicateCamera(f"camera {cam.id!r} already exists")
            cams.append(camera_to_json(cam))
            return cam

        return self._change("added", cam.id, edit)

    def update(self, camera_id: str, changes: Mapping[str, Any]) -> CameraSettings:
        """Change fields of a camera (name, enabled, url, detect_url, gps_route, lat, lon, vision); the id stays."""
        if "id" in changes and changes["id"] != camera_id:
            raise RegistryError(f"camera {camera_id!r}: the id cannot change (remove it and add a new one)")

        def edit(cams: list[dict[str, Any]]) -> CameraSettings:
            for i, raw in enumerate(cams):
                if raw.get("id") != camera_id:
                    continue
                merged = {**raw, **changes}
                for key in ("url", "detect_url"):
                    if isinstance(changes.get(key), str) and isinstance(raw.get(key), str):
                        merged[key] = keep_masked_password(changes[key], raw[key])
                try:
                    cam = CameraSettings.model_validate(merged)
                except ValidationError as exc:
                    raise RegistryError(f"camera {camera_id!r}: {describe(exc)}") from None
                cams[i] = camera_to_json(check_url(cam))
                return cam
            raise UnknownCamera(f"no camera {camera_id!r} in the registry")

        op = "renamed" if set(changes) == {"name"} else "changed"
        return self._change(op, camera_id, edit)

    def remove(self, camera_id: str) -> CameraSettings:
        def edit(cams: list[dict[str, Any]]) -> CameraSettings:
            for i, raw in enumerate(cams):
                if raw.get("id") == camera_id:
                    del cams[i]
                    return CameraSettings.model_validate(raw)
            raise UnknownCamera(f"no camera {camera_id!r} in the registry")

        return self._change("removed", camera_id, edit)

    def set_enabled(self, camera_id: str, enabled: bool) -> CameraSettings:
        return self.update(camera_id, {"enabled": enabled})

    def rename(self, camera_id: str, name: str) -> CameraSettings:
        if not name.strip():
            raise RegistryError(f"camera {camera_id!r}: the new name is empty")
        return self.update(camera_id, {"name": name.strip()})
