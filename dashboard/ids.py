"""Component ids of the wall, namespaced by page so two pages never collide; JS receives them from the page."""
from __future__ import annotations

_NS = "wall"

# header
CLOCK = f"{_NS}-clock"
CLOCK_ZONE = f"{_NS}-clock-zone"
LANG_SWITCH = f"{_NS}-lang"
PAGE_NAV = f"{_NS}-page-nav"
CONNECTION = f"{_NS}-connection"
TODAY_COUNT = f"{_NS}-today-count"
CAMERAS_ONLINE = f"{_NS}-cameras-online"

# cameras
CAMERA_GRID = f"{_NS}-camera-grid"
CAMERA_REFRESH = f"{_NS}-camera-refresh"
CAMERA_IDS = f"{_NS}-camera-ids"
CAMERA_NAMES = f"{_NS}-camera-names"
CAMERA_NAMES_SEEN = f"{_NS}-camera-names-seen"
# Pattern-matching id of one camera's tile: {"type": CAM_TILE, "camera": camera_id}.
CAM_TILE = f"{_NS}-cam-tile"
# Camera states ({camera id: what its tile shows}) that assets/wall.js writes into the tiles.
CAMERA_STATES = f"{_NS}-camera-states"
CAMERA_STATES_APPLIED = f"{_NS}-camera-states-applied"

# alerts
ALERT_LIST = f"{_NS}-alert-list"
ALERT_LIST_ID = f"{_NS}-alert-list-id"  # the list's id, for wall.js
ALERTS_RENDERED = f"{_NS}-alerts-rendered"
ALERTS_STORE = f"{_NS}-alerts-store"
TODAY_STORE = f"{_NS}-today-store"
TODAY_REFRESH = f"{_NS}-today-refresh"

# language, time zone and the words the browser-side code shows (dashboard.texts.browser_texts)
LOCALE = f"{_NS}-locale"

# push feed (assets/push.js writes PUSH_INBOX and CONNECTION with dash_clientside.set_props)
PUSH_CONFIG = f"{_NS}-push-config"
PUSH_INBOX = f"{_NS}-push-inbox"
PUSH_STARTED = f"{_NS}-push-started"

# connection-lost banner (shown by CSS while push.js marks <html data-gw-conn="lost">)
LOST_BANNER = f"{_NS}-lost-banner"
PUSH_SEQ = f"{_NS}-push-seq"

# video tiles: layout 1/4/9/16 and paging
TILE_LAYOUT = f"{_NS}-tile-layout"
TILE_CONFIG = f"{_NS}-tile-config"
PAGE_STORE = f"{_NS}-page"
PAGE_PREV = f"{_NS}-page-prev"
PAGE_NEXT = f"{_NS}-page-next"
PAGE_TEXT = f"{_NS}-page-text"
PAGER = f"{_NS}-pager"

# the day's figures and the grid map (dashboard.wall_data's summary)
SUMMARY = f"{_NS}-summary"
SUMMARY_POLL = f"{_NS}-summary-poll"
SUMMARY_STARTED = f"{_NS}-summary-started"
FIGURES = f"{_NS}-figures"
MAP_GRAPH = f"{_NS}-map"
MAP_FOCUS = f"{_NS}-map-focus"
MAP_CODES = f"{_NS}-map-codes"
MAP_CRUMBS = f"{_NS}-map-crumbs"
MAP_CRUMB = f"{_NS}-map-crumb"  # pattern-matching: {"type": MAP_CRUMB, "code": grid code or ""}
MAP_TOTALS = f"{_NS}-map-totals"

# alert queue extras
GRID_NAMES = f"{_NS}-grid-names"
AGE_TICK = f"{_NS}-age-tick"

# the focus tile: an urgent alarm or a pinned camera takes the screen (assets/focus.js)
FOCUS = f"{_NS}-focus"
FOCUS_CONFIG = f"{_NS}-focus-config"
FOCUS_OPENED = f"{_NS}-focus-opened"  # outputs of focus.js's callbacks (Dash needs one; nothing reads them)
FOCUS_CASED = f"{_NS}-focus-cased"


def figure_id(key: str) -> str:
    """The value element of one figure of the day (keys: dashboard.texts.FIGURE_LABELS)."""
    return f"{_NS}-figure-{key.replace('_', '-')}"
