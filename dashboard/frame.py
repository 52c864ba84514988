"""The frame every page sits in: the language, the signed-in user, the header, the panel a user sees on a page
their role may not open, and the one set-up each page's layout starts with (:func:`register_page` and
:func:`role_layout`; the wall, open to every user, takes only the language)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dash
from dash import dcc, html

from alerts.workflow import Actor, Role
from dashboard import lang
from dashboard.auth import guard, session
from dashboard.context import current
from dashboard.texts import role_label
from gridwatch.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, normalize, translator

log = logging.getLogger(__name__)

PAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "/desk": (Role.OPERATOR, Role.SUPERVISOR),
    "/replay": (Role.SUPERVISOR,),
    "/staff": (Role.GRID_STAFF, Role.DEPARTMENT),
    "/admin": (Role.ADMIN,),
}


def page_translator(query: dict[str, Any] | None = None) -> Translator:
    """``?lang=`` of the page's own request, else the cookie, else the configured language."""
    chosen = normalize((query or {}).get(lang.QUERY))
    return translator(chosen) if chosen else lang.wall_translator(current().settings.locale.language)


def locale_translator(locale: dict[str, Any] | None) -> Translator:
    """In a callback: the language the page was rendered in (kept in a store on the page)."""
    code = normalize((locale or {}).get("lang"))
    return translator(code) if code else lang.wall_translator(current().settings.locale.language)


@dataclass(frozen=True)
class PageStart:
    """What a role page's layout builds on: the page's language, its title in it and the user allowed in."""

    t: Translator
    title: str
    user: session.AuthUser


Layout = Callable[..., html.Div]


def register_page(module: str, path: str, name: str, title: str, description: str) -> None:
    """Register a page with Dash, its browser tab titled ``title`` (marked with N_) in the visitor's language.
    (Named as Dash's own: Dash imports only the files of pages/ whose text says ``register_page``.)"""

    def tab_title(**_query: Any) -> str:
        return page_translator().gettext(title)

    dash.register_page(module, path=path, name=name, title=tab_title, description=description)


def role_layout(path: str, title: str) -> Callable[[Callable[[PageStart, dict[str, Any]], html.Div]], Layout]:
    """The set-up every role page's layout starts with: the language of the page's request, its ``title`` (marked
    with N_) in it and the signed-in user, or the not-allowed card for a user whose role may not open ``path``.
    Decorates ``build(start, query)``, which lays the page out; Dash calls the result with the query."""

    def wrap(build: Callable[[PageStart, dict[str, Any]], html.Div]) -> Layout:
        def layout(**query: Any) -> html.Div:
            t = page_translator(query)
            words = t.gettext(title)
            user, ok = page_user(path)
            if not ok or user is None:
                return forbidden_page(t, words, user, path)
            return build(PageStart(t, words, user), query)

        layout.__doc__ = build.__doc__
        return layout

    return wrap


def callback_user(path: str) -> session.AuthUser:
    """In a callback of the page at ``path``: the signed-in user, or a 403 unless their role may open it."""
    return guard.require_in_callback(*PAGE_ROLES[path])


def actor_of(user: session.AuthUser) -> Actor:
    return Actor(user.username, user.role, user.scope_grid)


def page_user(path: str) -> tuple[session.AuthUser | None, bool]:
    """(the signed-in user, whether their role may open ``path``)."""
    user = session.current_user()
    return user, user is not None and session.allowed(user, PAGE_ROLES.get(path, ()))


def page_links(t: Translator, user: session.AuthUser | None) -> list[tuple[str, str]]:
    """(path, name) of the pages ``user`` may open, the wall first: the navigation every page shows."""
    links = [("/", t.gettext("Wall")), ("/desk", t.gettext("Desk")), ("/replay", t.gettext("Replay")),
             ("/staff", t.gettext("My cases")), ("/admin", t.gettext("Admin"))]
    return [(href, text) for href, text in links
            if href == "/" or (user is not None and session.allowed(user, PAGE_ROLES[href]))]


def header(t: Translator, title: str, user: session.AuthUser | None, here: str) -> html.Header:
    visible = page_links(t, user)
    who = ""
    if user is not None:
        who = f"{user.display_name} · {role_label(user.role, t)}"
        if user.scope_grid:
            who += f" · {user.scope_grid}"
    return html.Header(className="gw-page-header", children=[
        html.H1(title, className="gw-page-title"),
        html.Nav(className="gw-page-nav", children=[
            dcc.Link(text, href=href, className="gw-page-link gw-page-link-on" if href == here else "gw-page-link")
            for href, text in visible
        ]),
        html.Div(className="gw-page-user", children=[
            html.Span(who, className="gw-page-who"),
            html.A(t.gettext("Log out"), href="/logout", className="gw-page-link") if user else None,
            html.Span(className="gw-page-langs", children=[
                html.A(LANGUAGE_NAMES[code], href=f"?{lang.QUERY}={code}", hrefLang=code.replace("_", "-"),
                       className="gw-lang-opt gw-lang-on" if code == t.lang else "gw-lang-opt")
                for code in LANGUAGES
            ]),
        ]),
    ])


def forbidden_page(t: Translator, title: str, user: session.AuthUser | None, here: str) -> html.Div:
    """What a user whose role may not open the page sees (the callbacks refuse them on the server too)."""
    if user is None:
        message = t.gettext("Log in first")
    else:
        wanted = ", ".join(role_label(r, t) for r in PAGE_ROLES.get(here, ()))
        message = t.gettext("Your role ({role}) may not open this page; it is for: {roles}").format(
            role=role_label(user.role, t), roles=wanted)
    return html.Div(className="gw-page", children=[
        header(t, title, user, here),
        html.Div(message, className="gw-page-forbidden", id=f"{here.strip('/')}-forbidden"),
    ])


def data_attrs(values: dict[str, str]) -> dict[str, Any]:
    """``data-*`` attributes for a component (tests and the keyboard find items by them)."""
    return {f"data-{k}": v for k, v in values.items()}


def message(text: str, kind: str = "info") -> html.Div:
    return html.Div(text, className=f"gw-msg gw-msg-{kind}")
