"""Which language a request is answered in, and remembering a browser's choice.

The wall: ``?lang=`` (the switch's links), else the browser's cookie, else settings.locale.language -- so a
newcomer who switches nothing sees Chinese whatever their browser prefers. The JSON API also honours
``Accept-Language`` after the cookie, as HTTP clients expect.
"""
from __future__ import annotations

import flask

from gridwatch.i18n import LANGUAGES, Translator, normalize, translator

COOKIE = "gw_lang"
QUERY = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _chosen() -> str | None:
    req = flask.request
    return normalize(req.args.get(QUERY)) or normalize(req.cookies.get(COOKIE))


def wall_language(default: str) -> str:
    return _chosen() or normalize(default) or LANGUAGES[0]


def api_language(default: str) -> str:
    chosen = _chosen()
    if chosen is not None:
        return chosen
    # "en-US,en;q=0.9" -> the best supported match; None when the client asks for nothing we have.
    best = flask.request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return normalize(best) or normalize(default) or LANGUAGES[0]


def wall_translator(default: str) -> Translator:
    return translator(wall_language(default))


def remember_choice(response: flask.Response) -> flask.Response:
    """After any request that carries a valid ``?lang=``, the browser keeps that language (a year)."""
    chosen = normalize(flask.request.args.get(QUERY))
    if chosen is not None and flask.request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, path="/", samesite="Lax", httponly=True)
    return response
