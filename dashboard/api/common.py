"""What every route of the dashboard's API shares: the JSON error answer, reading a request's body and
arguments, the client's language, and the services of the app the request runs in.

A handler raises ``ApiError(status, message)`` (or returns ``error(status, message)``) and the client gets
``{"error": message}`` with that status; ``register_errors`` installs that answer on a blueprint. Services come
from the app (``dashboard.page_services``: one bundle per app, built once by the composition root), never from a
closure, so handlers are plain module-level functions.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request

from dashboard import lang, page_services
from dashboard.context import current
from dashboard.page_services import PageServices
from gridwatch.i18n import Translator, translator


class ApiError(Exception):
    """A refusal answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(ValueError):
    """A body over the route's limit: 413."""


class BadJson(ValueError):
    """A body that is not JSON: 400, the parser's message after "invalid JSON: "."""


def error(status: int, message: str) -> tuple[Response, int]:
    """The API's one error answer: ``{"error": message}``."""
    return jsonify({"error": message}), status


def _api_error(exc: ApiError) -> tuple[Response, int]:
    return error(exc.status, exc.message)


def register_errors(bp: Blueprint) -> None:
    """``ApiError`` raised in any of ``bp``'s handlers answers as ``error``."""
    bp.register_error_handler(ApiError, _api_error)


def app_services() -> PageServices:
    """The services bundle of the app handling the current request."""
    return page_services.current()


def api_translator() -> Translator:
    """The client's language for messages (``?lang=``, the wall's cookie, ``Accept-Language``)."""
    return translator(lang.api_language(current().settings.locale.language))


# --- bodies ----------------------------------------------------------------------------------------------------

def raw_body(limit: int) -> bytes:
    """The body, at most ``limit`` bytes (BodyTooLarge names the size); not kept by Flask for a second read."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"body of {request.content_length} bytes; at most {limit}")
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise BodyTooLarge(f"body over {limit} bytes")
    return raw


def json_body(limit: int) -> Any:
    """The body parsed as JSON, at most ``limit`` bytes (BodyTooLarge, BadJson)."""
    raw = raw_body(limit)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"invalid JSON: {exc}") from None


def json_object() -> dict[str, Any] | None:
    """A JSON object sent with a JSON content type; None for anything else."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def fields() -> Mapping[str, Any]:
    """A JSON object or a form's fields (400 for JSON that is not an object)."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, api_translator().gettext("Send a JSON object"))
        return data
    return request.form


def text(body: Mapping[str, Any], name: str) -> str | None:
    """A text field, stripped; None when absent or blank (400 for a field that is not text)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, api_translator().gettext("{field} must be text").format(field=name))
    return value.strip() or None


# --- arguments -------------------------------------------------------------------------------------------------

def flag(name: str) -> bool:
    """``?name=1`` or ``?name=true``."""
    return request.args.get(name) in ("1", "true")


def int_arg(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``; ``default`` when absent (400 naming the field otherwise)."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = api_translator().gettext("{field} must be a whole number from {low} to {high}, got {value}")
        raise ApiError(400, message.format(field=name, low=low, high=high, value=repr(raw)))
    return value


def time_arg(raw: str | None, name: str, tz: ZoneInfo, end: bool = False) -> datetime | None:
    """ISO 8601; a bare date is that local day (its end: the next midnight)."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), tz)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, api_translator().gettext("{field} must be a date or an ISO 8601 time, got {value}").format(
            field=name, value=repr(raw))) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
