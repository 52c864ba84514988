"""Who may do what, as pure rules (no request, no session, no database): a table saying who may call each route
and Dash callback, and the checks every route, callback and websocket handshake goes through.

* :data:`ROUTES` names, for every Flask URL rule and method, who may call it: the public, a logged-in user (with
  one of some roles; an admin passes every role check), a patrol car (the device token, or a logged-in user) or an
  Open311 client (the channel checks its own api_key). A rule missing from the table is refused (403) and fails
  the route-table test, so a new route cannot ship open by accident.
* :data:`PAGE_ROLES` does the same for Dash callbacks, by the page their output belongs to.
* :func:`case_visible` and :func:`holder_may` decide, with the one grid-scope rule ``geo.scope.within``, whether a user
  may see or act on one case (its grid, the grid holding it, its department).
* :func:`device_ok` and :func:`origin_ok` are the car-token and same-origin (CSRF) checks, shared by the HTTP
  guard (dashboard.auth.guard) and the websockets (push, live video, telemetry).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from alerts.workflow import Action, Role
from geo.scope import within
from gridwatch.settings import AuthSettings, Settings


class Who(StrEnum):
    PUBLIC = "public"  # anyone: login, health, metrics, static files
    USER = "user"  # a logged-in user (roles narrow it)
    DEVICE = "device"  # a patrol car with the device token, or a logged-in user
    OPEN311 = "open311"  # an Open311 client: the channel checks its own api_key


@dataclass(frozen=True, slots=True)
class Rule:
    who: Who
    roles: tuple[Role, ...] = ()  # for USER: empty = any role
    note: str = ""


PUBLIC = Rule(Who.PUBLIC)
ANY_USER = Rule(Who.USER)
CAR = Rule(Who.DEVICE)
OPEN311 = Rule(Who.OPEN311)
ADMIN_ONLY = Rule(Who.USER, (Role.ADMIN,))
SUPERVISORS = Rule(Who.USER, (Role.SUPERVISOR,))
CENTRE = Rule(Who.USER, (Role.OPERATOR, Role.SUPERVISOR))
FIELD_AND_SUPERVISORS = Rule(Who.USER, (Role.GRID_STAFF, Role.SUPERVISOR))

# Object checks (grid scope, holder, department) happen in the views through the functions below; the table
# says who may knock at all.
ROUTES: dict[tuple[str, str], Rule] = {
    # login, health, metrics, Dash's static files
    ("/login", "GET"): PUBLIC,
    ("/login", "POST"): PUBLIC,
    ("/logout", "GET"): PUBLIC,
    ("/logout", "POST"): PUBLIC,
    ("/healthz", "GET"): PUBLIC,
    ("/metrics", "GET"): PUBLIC,
    ("/_favicon.ico", "GET"): PUBLIC,
    ("/assets/<path:filename>", "GET"): PUBLIC,
    ("/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>", "GET"): PUBLIC,
    ("/static/<path:filename>", "GET"): PUBLIC,
    # the Dash pages (each page's layout checks its roles) and their callbacks (PAGE_ROLES below)
    ("/", "GET"): ANY_USER,
    ("/<path:path>", "GET"): ANY_USER,
    ("/_dash-layout", "GET"): ANY_USER,
    ("/_dash-dependencies", "GET"): ANY_USER,
    ("/_dash-update-component", "POST"): ANY_USER,
    ("/_reload-hash", "GET"): ANY_USER,
    # wall data (scoped in the views)
    ("/api/me", "GET"): ANY_USER,
    ("/api/cameras", "GET"): ANY_USER,
    ("/api/alerts", "GET"): ANY_USER,
    ("/api/wall/summary", "GET"): ANY_USER,
    ("/media/<path:path>", "GET"): ANY_USER,
    ("/video/<camera_id>.jpg", "GET"): ANY_USER,
    ("/video/<camera_id>.mjpg", "GET"): ANY_USER,
    # live video: where the page finds it; the live websocket (dashboard.live) checks the same login and Origin
    ("/api/live", "GET"): ANY_USER,
    # camera management: the registry holds camera passwords
    ("/api/cameras/config", "GET"): ADMIN_ONLY,
    ("/api/cameras/config", "POST"): ADMIN_ONLY,
    ("/api/cameras/config/<camera_id>", "PATCH"): ADMIN_ONLY,
    ("/api/cameras/config/<camera_id>", "DELETE"): ADMIN_ONLY,
    # patrol cars
    ("/api/telemetry/<vehicle_id>", "POST"): CAR,
    ("/api/vehicles/<vehicle_id>/status", "POST"): CAR,
    ("/api/reports", "POST"): CAR,
    ("/api/vehicles", "GET"): ANY_USER,
    ("/api/coverage", "GET"): ANY_USER,
    # cases (the workflow's table decides each action's roles; the views check scope, holder and department)
    ("/api/cases", "GET"): ANY_USER,
    ("/api/cases/overdue", "GET"): ANY_USER,
    ("/api/cases/<case_id>", "GET"): ANY_USER,
    ("/api/cases/<case_id>/<action>", "POST"): ANY_USER,
    ("/api/cases/<case_id>/queries", "POST"): FIELD_AND_SUPERVISORS,
    ("/api/queries", "GET"): ANY_USER,
    ("/api/queries/<int:query_id>/answer", "POST"): FIELD_AND_SUPERVISORS,
    ("/api/cases/merge", "POST"): CENTRE,
    ("/api/cases/<case_id>/split", "POST"): CENTRE,
    ("/api/figures", "GET"): ANY_USER,
    ("/api/figures/grids", "GET"): ANY_USER,
    ("/api/assessment", "GET"): ANY_USER,
    ("/api/export/figures.<fmt>", "GET"): ANY_USER,
    ("/api/export/assessment.<fmt>", "GET"): ANY_USER,
    ("/api/alerts/<item_id>/claim", "GET"): ANY_USER,
    ("/api/alerts/<item_id>/claim", "POST"): ANY_USER,
    ("/api/alerts/<item_id>/claim", "DELETE"): ANY_USER,
    ("/api/cases/<item_id>/claim", "GET"): ANY_USER,
    ("/api/cases/<item_id>/claim", "POST"): ANY_USER,
    ("/api/cases/<item_id>/claim", "DELETE"): ANY_USER,
    ("/api/evidence/<case_id>.zip", "GET"): SUPERVISORS,
    # Open311 (its own api_key; the views decide what an anonymous client may read)
    ("/open311/v2/services.json", "GET"): OPEN311,
    ("/open311/v2/requests.json", "GET"): OPEN311,
    ("/open311/v2/requests.json", "POST"): OPEN311,
    ("/open311/v2/requests/<case_id>.json", "GET"): OPEN311,
}

# Dash callbacks by the page their (first) output belongs to: component ids start with the page's name.
PAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "wall": (),
    "_pages": (),  # Dash's own page router: each page's layout checks its roles
    "desk": (Role.OPERATOR, Role.SUPERVISOR),
    "replay": (Role.SUPERVISOR,),
    "staff": (Role.GRID_STAFF, Role.DEPARTMENT),
    "admin": (Role.ADMIN,),
}

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def route_rule(rule: str, method: str) -> Rule | None:
    """The table's rule for a matched URL rule and method (HEAD as GET); None = no rule (refused)."""
    return ROUTES.get((rule, "GET" if method == "HEAD" else method))


def callback_page(output: str) -> str:
    """The page a Dash callback belongs to, from its ``output`` ("desk-queue.children", "..a.b...c.d..",
    '{"type":"staff-open",...}.n_clicks', with "@hash" for duplicate outputs)."""
    first = output.strip(".").split("...")[0].split("@")[0]
    component = first.rsplit(".", 1)[0]
    if component.startswith("{"):
        try:
            component = str(json.loads(component).get("type", ""))
        except ValueError:
            return ""
    return "_pages" if component.startswith("_pages") else component.split("-", 1)[0]


def callback_rule(output: str) -> Rule | None:
    page = callback_page(output)
    roles = PAGE_ROLES.get(page)
    return None if roles is None else Rule(Who.USER, roles)


def role_allowed(role: Role, roles: Iterable[Role | str]) -> bool:
    wanted = {Role(r) for r in roles}
    return not wanted or role == Role.ADMIN or role in wanted


# --- who: the car's token ----------------------------------------------------------------------------------------

def bearer(header: str | None) -> str | None:
    scheme, _, given = (header or "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def device_ok(auth: AuthSettings, authorization: str | None) -> bool:
    """A patrol car's request: its bearer token matches auth.device_token; without a token only when
    auth.open_car_routes says so (dev only)."""
    token = auth.device_token
    if token is None:
        return auth.open_car_routes
    given = bearer(authorization)
    return given is not None and hmac.compare_digest(given.encode(), token.get_secret_value().encode())


# --- where from: same origin (CSRF) ------------------------------------------------------------------------------

def origin_ok(origin: str | None, referer: str | None, host: str, *, any_port: bool = False) -> bool:
    """A browser's state-changing request (or websocket handshake) comes from a page of this host: its Origin
    (else its Referer) names ``host``. Neither header = not a browser acting for a page (curl, a car): passes.
    ``any_port``: the websockets live on their own ports, so only the host name must match."""
    source = origin if origin is not None else referer
    if source is None:
        return True
    if source.strip().lower() == "null":
        return False
    parts = urlsplit(source.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if any_port:
        return (parts.hostname or "") == (urlsplit(f"//{host}").hostname or "")
    return parts.netloc.lower() == host.lower()


# --- who is at the other end: the client behind trusted reverse proxies ------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, proxies: Iterable[Network]) -> str | None:
    """The client's address: the connecting peer, unless the peer is one of ``proxies`` (auth.trusted_proxies);
    then the rightmost X-Forwarded-For entry that is not a trusted proxy itself. Entries further left were written
    by the client and are not believed (a guesser would put a fresh address there on every try); a garbled entry
    leaves the peer."""
    nets = tuple(proxies)

    def trusted(address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in nets)

    if peer is None or not nets or not trusted(peer):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            ip = _ip(hop)
            return str(ip) if ip is not None else peer
    return hops[0] if hops else peer  # every hop a proxy of ours: the first one is where it began


# --- what: grid scope and one case ---------------------------------------------------------------------------------

class Someone(Protocol):
    @property
    def role(self) -> Role: ...
    @property
    def scope_grid(self) -> str | None: ...
    @property
    def department(self) -> str | None: ...


class CaseLike(Protocol):
    @property
    def grid_code(self) -> str | None: ...
    @property
    def community_code(self) -> str | None: ...
    @property
    def office_code(self) -> str | None: ...
    @property
    def assignee_grid(self) -> str | None: ...
    @property
    def escalated_from(self) -> str | None: ...
    @property
    def department(self) -> str | None: ...


def case_location(case: CaseLike) -> str | None:
    """The most specific grid a case lies in."""
    return case.grid_code or case.community_code or case.office_code


def case_visible(user: Someone, case: CaseLike) -> bool:
    """A department user sees what was dispatched to the department; a scoped user what lies in, is held by or was
    escalated from their subtree."""
    if user.role == Role.DEPARTMENT and user.department is not None and case.department != user.department:
        return False
    if user.scope_grid is None:
        return True
    codes = (case_location(case), case.assignee_grid, case.escalated_from)
    return any(within(code, user.scope_grid) for code in codes)


# What only the grid holding a case may do (a scoped user whose grid is below the holder may not).
HOLDER_ACTIONS = frozenset({Action.START, Action.HANDLE, Action.ESCALATE, Action.DISPATCH})


def holder_may(user: Someone, case: CaseLike, action: Action | str) -> bool:
    """Escalated above the user's grid, the parent grid acts on it now, not the grid that asked for help."""
    held = case.assignee_grid
    return action not in HOLDER_ACTIONS or held is None or within(held, user.scope_grid)


# --- the production posture -----------------------------------------------------------------------------------------

def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problems(settings: Settings) -> list[str]:
    """What would be open to the network if this deployment listened on ``dashboard.host``: empty on a loopback
    address or with auth.allow_open_on_network (a closed test network)."""
    a = settings.auth
    if loopback(settings.dashboard.host) or a.allow_open_on_network:
        return []
    problems = []
    if not a.required:
        problems.append("auth.required is false (no logins)")
    if a.device_token is None and a.open_car_routes:
        problems.append("auth.open_car_routes lets anyone post GPS and reports (set auth.device_token)")
    if a.open311_api_key is None:
        problems.append("Open311 takes requests without a key (set auth.open311_api_key)")
    return problems


def refuse_open_exposure(settings: Settings, command: str) -> None:
    """SystemExit naming every problem when a production command would start open on the network."""
    problems = exposure_problems(settings)
    if problems:
        raise SystemExit(
            f"gridwatch {command} refuses to start on {settings.dashboard.host}: " + "; ".join(problems)
            + ". Fix the settings, bind dashboard.host to 127.0.0.1, or set auth.allow_open_on_network = true "
            "for a closed test network."
        )
