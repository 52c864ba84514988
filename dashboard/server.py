"""The dashboard process part: push websocket + the Dash/Flask app under waitress, each in its own thread."""
from __future__ import annotations

import errno
import logging
import threading
from typing import Any

import redis
from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from dashboard import limits, mjpeg, scoped
from dashboard.app import create_app
from dashboard.auth import session
from dashboard.context import of as context_of
from dashboard.live import CameraLookup, LiveServer, registry_lookup
from dashboard.page_services import PageServices
from dashboard.push import PushServer, Viewer
from dashboard.wall_queries import AlertRepository
from gridwatch import keys
from gridwatch.loop import ThreadPart
from gridwatch.settings import Settings
from gridwatch.wsserver import page_host

log = logging.getLogger(__name__)

# Each MJPEG viewer holds a thread for as long as it watches; 16 covers a wall of tiles plus a few
# operators' browsers with room left for the API and Dash callbacks.
WSGI_THREADS = 16
# A stalled viewer blocks its own thread after this much unsent video instead of queueing minutes of it.
OUTBUF_HIGH_WATERMARK = 2 * 1024 * 1024
_ANY_HOST = {"0.0.0.0", "::", ""}


def push_viewer(server: Flask, cookie_header: str | None) -> Viewer | None:
    """The wall's logged-in user, from the cookies of the push websocket's handshake; None = not logged in."""
    user = session.user_from_cookie(server, cookie_header)
    return None if user is None else Viewer(user.username, user.scope_grid)


def live_viewer(server: Flask, cookie_header: str | None) -> Viewer | None:
    """The push socket's viewer plus the cameras grid scope lets them watch live (as ``/video/<id>.jpg`` does)."""
    user = session.user_from_cookie(server, cookie_header)
    if user is None:
        return None
    with server.app_context():
        allowed = scoped.cameras_allowed(user)
    return Viewer(user.username, user.scope_grid, None if allowed is None else frozenset(allowed))


def _role_of(server: Flask, cookie_header: str | None) -> str | None:
    user = session.user_from_cookie(server, cookie_header)
    return None if user is None else user.role


class WsgiLoop(ThreadPart):
    """waitress's own loop over ``server`` (its sockets in ``socket_map``), on the one thread base."""

    def __init__(self, server: Any, socket_map: dict[int, Any]) -> None:
        super().__init__("gridwatch-wsgi")
        self._server = server  # waitress ships no type hints
        self._map = socket_map
        self._closing = False  # set by stop(): the loop may then see its sockets closed under it

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError as exc:
            # stop() closes the sockets from its own thread; a select() then running sees them vanish.
            if not (self._closing and exc.errno == errno.EBADF):
                raise

    def stop(self, timeout: float = 10.0) -> bool:
        """Let the request threads finish, then close every socket: the loop ends once its map is empty
        (listening socket, trigger and open channels)."""
        self._closing = True
        self._server.task_dispatcher.shutdown(timeout=timeout)
        wasyncore.close_all(self._map)
        return super().stop(timeout)

    def _left_busy(self, timeout: float) -> None:
        log.warning("dashboard WSGI thread did not end within %.0f s", timeout)


class DashboardServer:
    """``DashboardServer(settings, repo, redis_client, redis_url).start()`` then open ``url``; ``stop()``.

    ``port`` / ``ws_port`` / ``live_port`` override the settings (0 = any free port), for tests and embedding; a
    ``ws_port`` given without ``live_port`` puts the live video socket on any free port too. ``cameras`` finds a
    camera for live video (default: the run-time camera registry).
    """

    def __init__(
        self,
        settings: Settings,
        repo: AlertRepository,
        redis_client: redis.Redis,
        redis_url: str,
        *,
        port: int | None = None,
        ws_port: int | None = None,
        live_port: int | None = None,
        cameras: CameraLookup | None = None,
        threads: int = WSGI_THREADS,
        services: PageServices | None = None,
    ) -> None:
        """``services``: the process's one services bundle (``page_services.build``), which the app's routes and
        pages act through; without one the app builds its own."""
        self._settings = settings
        self._repo = repo
        self._redis = redis_client
        self._redis_url = redis_url
        self._host = settings.dashboard.host
        self._want_port = settings.dashboard.port if port is None else port
        self._want_ws_port = settings.dashboard.ws_port if ws_port is None else ws_port
        self._want_live_port = live_port if live_port is not None else (
            settings.dashboard.live_port if ws_port is None else 0)
        self._cameras = cameras
        self._live: LiveServer | None = None
        self._threads = max(threads, WSGI_THREADS)
        self._services = services
        self._push: PushServer | None = None
        self._wsgi_map: dict[int, Any] = {}
        self._loop: WsgiLoop | None = None
        self._stopping: threading.Event | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("dashboard server is not started")
        return self._port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in _ANY_HOST else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def push(self) -> PushServer:
        """The push websocket server (its ``client_count`` tells how many walls are connected)."""
        if self._push is None:
            raise RuntimeError("dashboard server is not started")
        return self._push

    @property
    def ws_url(self) -> str:
        if self._push is None:
            raise RuntimeError("dashboard server is not started")
        # A wildcard host is kept as is: the page swaps in the hostname the browser used to reach the wall.
        return f"ws://{page_host(self._host)}:{self._push.port}/ws"

    @property
    def live(self) -> LiveServer | None:
        """The live video websocket (None when the page gets its video elsewhere or plays none)."""
        return self._live

    def _start_live(self) -> LiveServer | None:
        board = self._settings.dashboard
        if board.live_source != "relay" or board.live_tiles == 0:
            return None
        ingest = self._settings.ingest
        cameras = self._cameras or registry_lookup(self._settings)
        # authorize: nobody until the app can check logins (set in start()).
        return LiveServer(cameras, host=self._host, port=self._want_live_port, authorize=lambda _cookie: None,
                          rtsp_transport=ingest.rtsp_transport, open_timeout_s=ingest.open_timeout_seconds,
                          read_timeout_s=ingest.stall_seconds, redis_url=self._redis_url).start()

    def start(self) -> DashboardServer:
        if self._loop is not None:
            raise RuntimeError("dashboard server already started")
        self._push = PushServer(self._redis_url, host=self._host, port=self._want_ws_port,
                                stream=keys.ALERTS_STREAM, timezone=self._settings.locale.timezone,
                                authorize=lambda _cookie: None).start()  # nobody until the app can check logins
        try:
            self._live = self._start_live()
            app = create_app(self._settings, self._repo, self._redis, self.ws_url, services=self._services,
                             live_url=None if self._live is None else self._live.url)
            # Set before the WSGI server serves the page, so no browser can reach the push port unchecked.
            self._push.authorize = lambda cookie: push_viewer(app.server, cookie)
            if self._live is not None:
                self._live.authorize = lambda cookie: live_viewer(app.server, cookie)
            self._stopping = context_of(app.server).stopping
            # Request-size limits on every route; live streams capped so they never take every thread.
            limits.install(app.server, self._settings, lambda cookie: _role_of(app.server, cookie))
            board = self._settings.dashboard
            mjpeg.install_slots(app.server, board.max_streams_per_user, board.max_streams, self._threads)
            server = create_server(
                app.server, map=self._wsgi_map, host=self._host, port=self._want_port,
                threads=self._threads, ident="gridwatch", outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
                # Keep reading while a request streams, so a viewer closing its tab is noticed at once.
                channel_request_lookahead=4,
                max_request_body_size=limits.largest_body(self._settings),  # chunked bodies included
            )
        except Exception:
            self._push.stop()
            self._push = None
            if self._live is not None:
                self._live.stop()
                self._live = None
            raise
        self._port = int(server.effective_port)
        self._loop = WsgiLoop(server, self._wsgi_map).start()
        log.info("dashboard on %s (push %s, %d threads)", self.url, self.ws_url, self._threads)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopping is not None:
            self._stopping.set()  # MJPEG generators return within one frame interval
        if self._loop is not None:
            self._loop.stop(timeout)
        if self._push is not None:
            self._push.stop(timeout)
        if self._live is not None:
            self._live.stop(timeout)
        self._live = None
        self._loop = None
        self._push = None
