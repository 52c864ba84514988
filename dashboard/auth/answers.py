"""How the front door answers a refusal: in the request's language, as JSON for the API's paths.

Shared by the guard (401 / 403 before a view runs) and the login routes (wrong password, too many tries).
"""
from __future__ import annotations

from flask import Response, jsonify, request

from dashboard import lang
from dashboard.auth import session
from gridwatch.i18n import Translator, translator

JSON_PREFIXES = ("/api/", "/_dash-", "/media/", "/video/", "/open311/")


def translator_of_request() -> Translator:
    """The API's language (Accept-Language counts) on JSON paths, the wall's language elsewhere."""
    settings = session.state().settings
    if request.path.startswith(JSON_PREFIXES):  # like the API's own errors: Accept-Language counts there
        return translator(lang.api_language(settings.locale.language))
    return lang.wall_translator(settings.locale.language)


def json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def wants_json(path: str) -> bool:
    if path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"
