"""The wall's tiled map in headless Chromium, against a local tile server of generated PNG tiles: the tiles are
asked for and drawn under the grid polygons, a patrol car points where it drove, a click on a grid zooms into it,
an open case is a dot that opens the desk on that case, a grid-scoped viewer sees only their subtree's cases and
cars, and a tile server that never answers leaves the grids on screen with a notice instead of a blank panel."""
from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from auth_testing import add_user, ensure_user, login_browser
from PIL import Image, ImageDraw
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from wall_testing import IN_GRID_1, OTHER_OFFICE, open_case

from alerts.repository import Repository
from alerts.workflow import Role
from dashboard import desk_queries, map_leaflet
from dashboard.server import DashboardServer
from fleet.vehicles import Fleet, FleetTelemetryStore
from gridwatch.redis_server import EmbeddedRedis
from gridwatch.settings import CameraSettings, MapSettings, Settings
from gridwatch.types import CameraStatus, GpsFix
from tests.browser_testing import start_wall_screen

pytestmark = pytest.mark.browser

# Measured on this 2-core machine beside other test runs: the wall and its first tiles in about 4 s, the desk
# in about 3 s. Every wait below allows several times that.
PAGE_S = 40
NOTICE_S = 2.0  # map.notice_seconds in the test of a tile server that does not answer


def _tile_png(z: int, x: int, y: int) -> bytes:
    """A 256 px tile in a checkerboard of two colours, its z/x/y written on it: plainly not a blank panel."""
    colour = (236, 72, 153) if (x + y) % 2 else (250, 204, 21)
    img = Image.new("RGB", (256, 256), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 255, 255), outline=(15, 23, 42), width=2)
    draw.text((12, 12), f"{z}/{x}/{y}", fill=(15, 23, 42))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


class TileServer:
    """A tiny XYZ server on the loopback: /tiles/{z}/{x}/{y}.png, every request remembered."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                server.requests.append(self.path)
                parts = self.path.strip("/").removesuffix(".png").split("/")
                if len(parts) != 4 or parts[0] != "tiles" or not all(p.isdigit() for p in parts[1:]):
                    self.send_error(404)
                    return
                body = _tile_png(*(int(p) for p in parts[1:]))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """Accepts every connection and never answers: a tile server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = start_wall_screen(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def _tiled_wall(settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
                tiles_url: str, cameras: tuple[CameraSettings, ...] = (), **map_kw: Any) -> DashboardServer:
    tiled = settings.model_copy(update={"map": MapSettings(tiles_url=tiles_url, attribution="© test tiles", **map_kw),
                                        "cameras": cameras})
    return DashboardServer(tiled, repo, redis_client, redis_server.url, port=0, ws_port=0).start()


def _drive_east(settings: Settings, redis_client: redis.Redis, vehicle: str = "car-7") -> None:
    """A patrol car's last 40 s of GPS, as the telemetry route stores it: due east along 34.78 N in office 1."""
    store = FleetTelemetryStore(redis_client, 900, Fleet.for_settings(settings, redis_client))
    local = datetime.now(ZoneInfo(settings.locale.timezone))
    since_midnight = (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    if since_midnight < 60:  # all 40 s of it in today's track (the map draws today's), not half in yesterday's
        time.sleep(60 - since_midnight)
    now = datetime.now(UTC)
    store.add(vehicle, [GpsFix(34.78, 113.665 + 0.002 * i, now - timedelta(seconds=40 - 10 * i)) for i in range(4)],
              now=now.timestamp())


def _click_case(browser: webdriver.Chrome) -> None:
    """Click the case's dot until the desk opens (a summary arriving meanwhile may redraw the dot under the mouse)."""

    def clicked(d: webdriver.Chrome) -> bool:
        if "/desk" not in d.current_url:
            ActionChains(d).move_to_element(d.find_element(By.CSS_SELECTOR, "path.gw-map-case")).click().perform()
        return "/desk" in d.current_url

    WebDriverWait(browser, PAGE_S, poll_frequency=1.0,
                  ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(clicked)


def _problems(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    return [e for e in browser.get_log("browser") if e.get("level") in ("WARNING", "SEVERE")]


def _open_wall(browser: webdriver.Chrome, wall: DashboardServer, repo: Repository, user: str = "tester") -> None:
    ensure_user(repo)
    login_browser(browser, wall.url, user)
    browser.get(wall.url)
    WebDriverWait(browser, PAGE_S).until(lambda d: len(_grid_paths(d)) >= 2)


def _grid_paths(browser: webdriver.Chrome) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, f".leaflet-{map_leaflet.GRIDS}-pane path"))


def _tiles_state(browser: webdriver.Chrome) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, ".gw-tilemap-box").get_attribute("data-tiles"))


# Each grid's box on screen, and whether a loaded tile covers its middle.
_GRIDS_JS = """
const tiles = Array.from(document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile'))
  .filter(i => i.complete && i.naturalWidth === 256).map(i => i.getBoundingClientRect());
return Array.from(document.querySelectorAll(arguments[0])).map(path => {
  const r = path.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  return {left: r.left, top: r.top, w: r.width, h: r.height, stroke: path.getAttribute('stroke'),
          tiled: tiles.some(t => t.left <= x && x < t.right && t.top <= y && y < t.bottom)};
});
"""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _pixel(shot: Image.Image, x: int, y: int) -> tuple[int, ...]:
    px = shot.getpixel((x, y))
    assert isinstance(px, tuple), px
    return px


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return max(abs(int(x) - int(y)) for x, y in zip(a[:3], b[:3], strict=True))


def test_tiles_are_drawn_under_the_grids_and_a_case_opens_on_the_desk(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    browser: webdriver.Chrome,
) -> None:
    case_id = open_case(repo, settings, IN_GRID_1)
    _drive_east(settings, redis_client)
    tiles = TileServer()
    wall = _tiled_wall(settings, repo, redis_client, redis_server, tiles.url)
    try:
        _open_wall(browser, wall, repo)
        WebDriverWait(browser, PAGE_S).until(lambda d: _tiles_state(d) == "ok")
        # The car: an arrow pointing east where it was last, its track and the street cells it drove.
        arrow = WebDriverWait(browser, PAGE_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".gw-map-car-arrow"))
        assert len(arrow) == 1 and "rotate(90deg)" in (arrow[0].get_attribute("style") or "")
        assert len(browser.find_elements(By.CSS_SELECTOR, f".leaflet-{map_leaflet.TRACKS}-pane path")) == 1
        assert browser.find_elements(By.CSS_SELECTOR, f".leaflet-{map_leaflet.COVERAGE}-pane path")
        assert any(p.startswith("/tiles/") for p in tiles.requests)
        loaded = browser.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile'))"
            ".filter(i => i.complete && i.naturalWidth === 256).length;")
        assert loaded >= 1
        # Both offices are drawn over the tiles: on screen, a grid's outline has its own colour where a tile
        # lies under it, and its inside shows the tile through the light fill (not the panel's dark ground).
        grids = browser.execute_script(_GRIDS_JS, f".leaflet-{map_leaflet.GRIDS}-pane path")
        assert len(grids) == 2, grids
        shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
        for g in grids:
            assert g["w"] > 50 and g["h"] > 50 and g["tiled"], grids
            y = round(g["top"] + g["h"] / 2)
            edge = min(_distance(_pixel(shot, round(g["left"]) + dx, y), _rgb(g["stroke"])) for dx in (-1, 0, 1))
            assert edge < 40, (g, [_pixel(shot, round(g["left"]) + dx, y) for dx in (-1, 0, 1)])
            inside = _pixel(shot, round(g["left"] + g["w"] * 0.4), round(g["top"] + g["h"] * 0.6))
            assert sum(inside) > 300, (g, inside)  # the yellow or pink tile, tinted; the dark ground sums < 100
        assert not browser.find_element(By.ID, map_leaflet.NOTICE).is_displayed()
        assert "© test tiles" in browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
        # The plain map gives way to the tiled one, and nothing of it troubles the console.
        assert not browser.find_element(By.CSS_SELECTOR, ".gw-map").is_displayed()
        assert _problems(browser) == []

        # A click on office 1 (below and right of its middle, away from the case and the car) zooms to its two
        # communities.
        office = _grid_paths(browser)[0]
        box = office.rect
        ActionChains(browser).move_to_element_with_offset(
            office, round(box["width"] * 0.3), round(box["height"] * 0.3)).click().perform()
        WebDriverWait(browser, PAGE_S).until(lambda d: "花园路街道" in d.find_element(By.ID, "wall-map-crumbs").text)
        WebDriverWait(browser, PAGE_S).until(lambda d: len(_grid_paths(d)) == 3)  # two communities and the outline

        dots = browser.find_elements(By.CSS_SELECTOR, "path.gw-map-case")
        assert len(dots) == 1
        assert "gw-map-case-new" in (dots[0].get_attribute("class") or "")
        _click_case(browser)
        assert f"case={case_id}" in browser.current_url
        picked = WebDriverWait(browser, PAGE_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f".gw-desk-item-on[data-case-id='{case_id}']"))
        assert len(picked) == 1
        # The case's own details, not "pick an alert from the queue".
        WebDriverWait(browser, PAGE_S).until(
            lambda d: f"{IN_GRID_1[0]:.5f}, {IN_GRID_1[1]:.5f}" in d.find_element(By.ID, "desk-detail").text)
    finally:
        wall.stop()
        tiles.close()


def _free_port() -> int:
    """A loopback port nobody listens on: every tile asked of it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("failure", ["silent", "refused"])
def test_a_tile_server_that_does_not_answer_leaves_the_grids_and_a_notice_until_it_answers(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    browser: webdriver.Chrome, failure: str,
) -> None:
    silent = SilentServer()
    port = _free_port()
    url = silent.url if failure == "silent" else f"http://127.0.0.1:{port}/tiles/{{z}}/{{x}}/{{y}}.png"
    # A refused tile fails at once; a silent one only when notice_seconds have gone by.
    wall = _tiled_wall(settings, repo, redis_client, redis_server, url, notice_seconds=NOTICE_S)
    try:
        _open_wall(browser, wall, repo)
        notice = browser.find_element(By.ID, map_leaflet.NOTICE)
        WebDriverWait(browser, PAGE_S).until(lambda d: notice.is_displayed())
        assert _tiles_state(browser) == "failed"
        assert "底图服务无响应" in notice.text  # the wall speaks Chinese by default
        assert failure == "refused" or silent.held, "the map never asked the tile server"
        grids = browser.execute_script(_GRIDS_JS, f".leaflet-{map_leaflet.GRIDS}-pane path")
        assert len(grids) == 2 and all(g["w"] > 50 and g["h"] > 50 for g in grids), grids
        assert all(p.is_displayed() for p in _grid_paths(browser))
        if failure == "refused":
            # The tile server starts: the wall, which nobody pans, gets its base map back by itself.
            tiles = TileServer(port)
            try:
                WebDriverWait(browser, PAGE_S).until(lambda d: _tiles_state(d) == "ok")
                assert not notice.is_displayed() and tiles.requests
            finally:
                tiles.close()
    finally:
        wall.stop()
        silent.close()


def test_a_grid_scoped_viewer_sees_only_their_subtree_on_the_tiled_map(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    browser: webdriver.Chrome, publish_camera: Callable[..., Any],
) -> None:
    open_case(repo, settings, IN_GRID_1)  # office 1
    theirs = open_case(repo, settings, OTHER_OFFICE)  # office 2
    _drive_east(settings, redis_client)  # in office 1
    add_user(repo, "staff_2", role=Role.GRID_STAFF, scope_grid="410105002")
    # Fixed cameras at a gate in each office (no stream behind them: the wall shows what their reader published).
    cameras = (CameraSettings(id="gate-1", name="一号门", url="rtsp://127.0.0.1:9/none", lat=IN_GRID_1[0],  # type: ignore[arg-type]
                              lon=IN_GRID_1[1] + 0.002),
               CameraSettings(id="gate-2", name="二号门", url="rtsp://127.0.0.1:9/none", lat=OTHER_OFFICE[0],  # type: ignore[arg-type]
                              lon=OTHER_OFFICE[1] + 0.002))
    publish_camera("gate-1", "一号门")
    publish_camera("gate-2", "二号门", CameraStatus.OFFLINE, age_s=300.0)
    tiles = TileServer()
    wall = _tiled_wall(settings, repo, redis_client, redis_server, tiles.url, cameras)
    try:
        _open_wall(browser, wall, repo, "staff_2")
        WebDriverWait(browser, PAGE_S).until(lambda d: _tiles_state(d) == "ok")
        dots = WebDriverWait(browser, PAGE_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, "path.gw-map-case"))
        assert len(dots) == 1
        # Office 1's case, car, track and cells are not theirs to see; their own office's case is.
        assert browser.execute_script(
            "return document.querySelector('path.gw-map-case').classList.contains('gw-map-case-new');")
        assert browser.find_elements(By.CSS_SELECTOR, ".gw-map-car") == []
        assert browser.find_elements(By.CSS_SELECTOR, f".leaflet-{map_leaflet.TRACKS}-pane path") == []
        assert browser.find_elements(By.CSS_SELECTOR, f".leaflet-{map_leaflet.COVERAGE}-pane path") == []
        # Only their office's camera, coloured by its reader's state (offline).
        cams = browser.find_elements(By.CSS_SELECTOR, ".gw-map-cam")
        assert len(cams) == 1 and "gw-map-cam-offline" in (cams[0].get_attribute("class") or "")
        # The map shows their office's grids, not the territory's two offices.
        assert "丰产路街道" in browser.find_element(By.ID, "wall-map-crumbs").text
        _click_case(browser)
        assert f"case={theirs}" in browser.current_url
    finally:
        wall.stop()
        tiles.close()


def test_the_desk_opens_a_case_from_its_address_only_for_a_user_who_may_see_it(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    browser: webdriver.Chrome,
) -> None:
    elsewhere = open_case(repo, settings, IN_GRID_1)  # office 1
    add_user(repo, "op_2", role=Role.OPERATOR, scope_grid="410105002")
    wall = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    try:
        login_browser(browser, wall.url, "op_2")
        browser.get(f"{wall.url}desk?case={elsewhere}")
        detail = WebDriverWait(browser, PAGE_S).until(lambda d: d.find_elements(By.ID, "desk-detail"))[0]
        WebDriverWait(browser, PAGE_S).until(lambda d: detail.text.strip() != "")
        assert f"{IN_GRID_1[0]:.5f}" not in detail.text  # the desk as usual: "pick an alert from the queue"
        assert detail.find_elements(By.CSS_SELECTOR, ".gw-empty")
        assert desk_queries.holders(redis_client, [elsewhere]) == {}  # and no claim was taken on it
    finally:
        wall.stop()


# The names of the plain map's traces (dashboard/map.py): a car is a "track <id>" line and a marker trace.
_TRACE_NAMES_JS = """
const gd = document.querySelector('#wall-map .js-plotly-plot');
return gd && gd.data ? gd.data.map(t => String(t.name)) : null;
"""


def test_the_plain_map_shows_a_grid_scoped_viewer_no_car_outside_their_subtree(
    settings: Settings, repo: Repository, redis_client: redis.Redis, redis_server: EmbeddedRedis,
    browser: webdriver.Chrome,
) -> None:
    _drive_east(settings, redis_client)  # in office 1
    add_user(repo, "staff_2", role=Role.GRID_STAFF, scope_grid="410105002")
    ensure_user(repo)
    wall = DashboardServer(settings, repo, redis_client, redis_server.url, port=0, ws_port=0).start()
    try:
        seen = {}
        for user in ("tester", "staff_2"):
            browser.delete_all_cookies()
            login_browser(browser, wall.url, user)
            browser.get(wall.url)
            names = WebDriverWait(browser, PAGE_S).until(
                lambda d: (lambda n: n if n and any(x == "labels" for x in n) else None)(
                    d.execute_script(_TRACE_NAMES_JS)))
            seen[user] = names
        assert "track car-7" in seen["tester"]  # the whole territory sees the car
        assert not any(n.startswith("track ") for n in seen["staff_2"]), seen["staff_2"]
    finally:
        wall.stop()
