"""Request-size limits for every route of the dashboard's WSGI server (the fleet and telemetry routes included).

Three layers, from the outside in:

* waitress refuses any body over the largest limit of all (``largest_body``), also a chunked one without a
  Content-Length, before GridWatch sees it (it buffers a body before handing it on);
* ``BodyLimits``, a WSGI middleware, answers 413 with a message naming the limit when a route's own limit is
  exceeded: a small one (``dashboard.max_request_bytes``) for every route, a photo's worth only where photos are
  sent (a report, a case's 'handled' photo, a logged-in user's Dash callback) and the grid map file's only for an
  admin's Dash callback. A body without a Content-Length is counted while the app reads it and cut off at the
  limit, so no route ever reads a chunked body whole;
* Flask's ``MAX_CONTENT_LENGTH`` holds the largest limit, a last line for anything that bypasses the middleware.

Which user sends a request is only looked up for a body over the small limit on a route that allows more.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge

from alerts.workflow import Role
from dashboard.admin_queries import MAX_GRID_FILE
from gridwatch.photos import MAX_PHOTO_BYTES, base64_size
from gridwatch.settings import Settings

# A photo as base64 in JSON (or multipart), with room for the rest of the request (note, position, Dash's state).
PHOTO_BODY = base64_size(MAX_PHOTO_BYTES) + 512 * 1024
# The admin page's grid map import: dcc.Upload sends the file base64-encoded inside a Dash callback.
GRID_FILE_BODY = base64_size(MAX_GRID_FILE) + 1024 * 1024
ENVIRON_KEY = "gridwatch.max_body"  # the limit that applies to this request, for the app and for tests
_JSON_PREFIXES = ("/api/", "/_dash-", "/open311/")

RoleOf = Callable[[str | None], Role | str | None]  # Cookie header -> the logged-in user's role, or None


@dataclass(frozen=True, slots=True)
class Rule:
    """Bodies up to ``limit`` bytes on ``method pattern``, for ``who``: "anyone", "user" (logged in) or "admin"."""

    method: str
    pattern: re.Pattern[str]
    limit: int
    who: str = "anyone"


RULES: tuple[Rule, ...] = (
    # A car's or a phone's report carries its photo as base64 (cars have no session: the route checks the token).
    Rule("POST", re.compile(r"^/api/reports$"), PHOTO_BODY),
    Rule("POST", re.compile(r"^/api/cases/[^/]+/handle$"), PHOTO_BODY, "user"),
    Rule("POST", re.compile(r"^/_dash-update-component$"), GRID_FILE_BODY, "admin"),
    Rule("POST", re.compile(r"^/_dash-update-component$"), PHOTO_BODY, "user"),  # the staff page's photo
)


def largest_body(settings: Settings, rules: Iterable[Rule] = RULES) -> int:
    return max([settings.dashboard.max_request_bytes, *(r.limit for r in rules)])


class _BoundedInput:
    """wsgi.input of a body without a Content-Length: reading past ``limit`` bytes raises 413."""

    def __init__(self, stream: Any, limit: int, message: str) -> None:
        self._stream, self._left, self._message = stream, limit, message

    def _count(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise RequestEntityTooLarge(self._message)
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._left + 1:
            size = self._left + 1  # one byte more than allowed tells "too large" from "exactly at the limit"
        return self._count(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._left + 1:
            size = self._left + 1
        return self._count(self._stream.readline(size))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class BodyLimits:
    """WSGI middleware: ``app.wsgi_app = BodyLimits(app.wsgi_app, default, role_of)``."""

    def __init__(self, app: Any, default: int, role_of: RoleOf, rules: tuple[Rule, ...] = RULES) -> None:
        self.app, self.default, self.role_of, self.rules = app, default, role_of, rules

    def limit_for(self, environ: dict[str, Any], length: int | None) -> int:
        if length is not None and length <= self.default:
            return self.default
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        role: Role | str | None = None
        looked_up = False
        for rule in self.rules:
            if rule.method != method or not rule.pattern.match(path):
                continue
            if rule.who != "anyone":
                if not looked_up:
                    role, looked_up = self.role_of(environ.get("HTTP_COOKIE")), True
                if role is None or (rule.who == "admin" and role != Role.ADMIN):
                    continue
            return max(rule.limit, self.default)
        return self.default

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = environ.get("CONTENT_LENGTH") or ""
        try:
            length: int | None = int(raw) if raw.strip() else None
        except ValueError:
            return _refuse(environ, start_response, 400, "Content-Length is not a number")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length is None and not chunked and not environ.get("wsgi.input_terminated"):
            return self.app(environ, start_response)  # no body at all
        limit = self.limit_for(environ, length)
        environ[ENVIRON_KEY] = limit
        path = environ.get("PATH_INFO", "")
        if length is not None and length > limit:
            return _refuse(environ, start_response, 413, _message(path, f"is {length} bytes", limit))
        if length is None:
            environ["wsgi.input"] = _BoundedInput(environ["wsgi.input"], limit, _message(path, "is longer", limit))
        return self.app(environ, start_response)


def _message(path: str, size: str, limit: int) -> str:
    return (f"The request body {size}; {path} accepts at most {limit} bytes ({limit / 2**20:.1f} MiB). "
            "Send a smaller photo or file.")


def _refuse(environ: dict[str, Any], start_response: Callable[..., Any], status: int,
            message: str) -> list[bytes]:
    wants_json = environ.get("PATH_INFO", "").startswith(_JSON_PREFIXES)
    body = json.dumps({"error": message}).encode() if wants_json else message.encode()
    reason = "Request Entity Too Large" if status == 413 else "Bad Request"
    start_response(f"{status} {reason}", [
        ("Content-Type", "application/json" if wants_json else "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def install(server: Flask, settings: Settings, role_of: RoleOf) -> None:
    """Wrap ``server``'s WSGI app in the limits and set Flask's own last-line limit."""
    server.config["MAX_CONTENT_LENGTH"] = largest_body(settings)
    server.wsgi_app = BodyLimits(server.wsgi_app, settings.dashboard.max_request_bytes, role_of)  # type: ignore[method-assign]
