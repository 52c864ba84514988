"""Access: logins and sessions, the cars' device token, the Open311 key, claims, cookies and trusted proxies."""
from __future__ import annotations

from pydantic import Field, IPvAnyNetwork, SecretStr

from gridwatch.settings.base import Strict


class AuthSettings(Strict):
    required: bool = Field(
        default=True,
        description="Every page, Dash callback, /api, /media and /video route needs a logged-in user; false only "
        "for a closed demo network.",
    )
    session_minutes: int = Field(
        default=720, ge=1, le=7 * 24 * 60, description="A login lasts this long (minutes), then /login again."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies; unset = a random key kept in data_dir/session.key (set the "
        "same key on every dashboard process behind one address).",
    )
    device_token: SecretStr | None = Field(
        default=None,
        description="Bearer token patrol cars send with telemetry, status and reports; unset = those routes are "
        "closed to cars (401) unless auth.open_car_routes (dev only); `gridwatch run`'s demo car gets its own.",
    )
    open311_api_key: SecretStr | None = Field(
        default=None,
        description="api_key Open311 clients must send to file a request; unset = anyone may file.",
    )
    claim_seconds: int = Field(
        default=300, ge=10, le=24 * 3600,
        description="An operator's claim on an alert or case lapses after this long (seconds) unless renewed.",
    )
    open_car_routes: bool = Field(
        default=False,
        description="Dev only: without auth.device_token, let anyone post GPS, crew status and car reports (HTTP and "
        "the telemetry websocket); off = those routes answer 401 until a token is set.",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Served over HTTPS: session cookies get the Secure flag and pages send HSTS.",
    )
    allow_open_on_network: bool = Field(
        default=False,
        description="Let dashboard, worker and alerts start on a non-loopback address although car routes are "
        "open, Open311 takes requests without a key or logins are off (a closed test network only).",
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies in front of the dashboard whose "
        "X-Forwarded-For is believed: behind nginx, login throttling and logs then see the client's address, not "
        "the proxy's. Empty = the connecting address is the client (X-Forwarded-For ignored; anyone can write it).",
    )
