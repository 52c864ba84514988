"""Component ids of the wall, namespaced by page so two pages never collide; JS receives them from the page."""
from __future__ import annotations

_NS = "wall"

# header
CLOCK = f"{_NS}-clock"
CLOCK_ZONE = f"{_NS}-clock-zone"
LANG_SWITCH = f"{_NS}-lang"
CLOCK_TICK = f"{_NS}-clock-tick"
CONNECTION = f"{_NS}-connection"
TODAY_COUNT = f"{_NS}-today-count"
CAMERAS_ONLINE = f"{_NS}-cameras-online"

# cameras
CAMERA_GRID = f"{_NS}-camera-grid"
CAMERA_REFRESH = f"{_NS}-camera-refresh"
CAMERA_IDS = f"{_NS}-camera-ids"
CAMERA_NAMES = f"{_NS}-camera-names"
# Pattern-matching ids of one camera's tile parts: {"type": CAM_TILE, "camera": camera_id}.
CAM_TILE = f"{_NS}-cam-tile"
CAM_DETAIL = f"{_NS}-cam-detail"
CAM_BADGE = f"{_NS}-cam-badge"

# alerts
ALERT_LIST = f"{_NS}-alert-list"
ALERTS_STORE = f"{_NS}-alerts-store"
TODAY_STORE = f"{_NS}-today-store"
TODAY_REFRESH = f"{_NS}-today-refresh"

# language, time zone and the words the browser-side code shows (dashboard.texts.browser_texts)
LOCALE = f"{_NS}-locale"

# push feed (assets/push.js writes PUSH_INBOX and CONNECTION with dash_clientside.set_props)
PUSH_CONFIG = f"{_NS}-push-config"
PUSH_INBOX = f"{_NS}-push-inbox"
PUSH_STARTED = f"{_NS}-push-started"
