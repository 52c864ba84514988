"""Every component id of the dashboard's pages (the wall, desk, replay, staff and admin), namespaced by page so two
pages never collide; the browser-side code (assets/*.js) receives them from the page and the browser tests find
elements by them, so each string stays as it is."""
from __future__ import annotations

# --- the wall ---
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


# --- operator's desk ---
DESK = "desk"
DESK_ROOT = f"{DESK}-root"
DESK_LOCALE = f"{DESK}-locale"
DESK_QUEUE = f"{DESK}-queue"
DESK_QUEUE_TICK = f"{DESK}-queue-tick"
DESK_PICK = f"{DESK}-pick"  # pattern id: {"type": DESK_PICK, "case": case_id}
DESK_SELECTED = f"{DESK}-selected"
DESK_DONE = f"{DESK}-done"  # bumps after every action: the queue re-reads
DESK_DETAIL = f"{DESK}-detail"
DESK_MESSAGE = f"{DESK}-message"
DESK_MAP = f"{DESK}-map"
DESK_GRID = f"{DESK}-grid"
DESK_DEPARTMENT = f"{DESK}-department"
DESK_NOTE = f"{DESK}-note"
DESK_MERGE_TARGET = f"{DESK}-merge-target"
DESK_ASSIGN = f"{DESK}-assign"
DESK_REJECT = f"{DESK}-reject"
DESK_MERGE = f"{DESK}-merge"
DESK_RELEASE = f"{DESK}-release"
DESK_CLOSE = f"{DESK}-close"  # closes a case a camera saw clear (现场复查: 已无)
DESK_KEYS = f"{DESK}-keys"
DESK_VIDEO = f"{DESK}-video"
DESK_SORT = f"{DESK}-sort"  # queue order: default or the most uncertain first
DESK_REASON = f"{DESK}-reason"  # why a false alarm is one (alerts.verdicts)
DESK_PROMOTE = f"{DESK}-promote"  # a low-lane case to the wall

# --- supervisor's replay ---
REPLAY = "replay"
REPLAY_ROOT = f"{REPLAY}-root"
REPLAY_LOCALE = f"{REPLAY}-locale"
REPLAY_FROM = f"{REPLAY}-from"
REPLAY_TO = f"{REPLAY}-to"
REPLAY_CAMERA = f"{REPLAY}-camera"
REPLAY_GRID = f"{REPLAY}-grid"
REPLAY_CATEGORY = f"{REPLAY}-category"
REPLAY_STATUS = f"{REPLAY}-status"
REPLAY_SEARCH = f"{REPLAY}-search"
REPLAY_RESULTS = f"{REPLAY}-results"
REPLAY_PICK = f"{REPLAY}-pick"  # pattern id: {"type": REPLAY_PICK, "case": id, "alert": id}
REPLAY_SELECTED = f"{REPLAY}-selected"
REPLAY_PLAYER = f"{REPLAY}-player"
REPLAY_VIDEO = f"{REPLAY}-video"
REPLAY_OVERLAY = f"{REPLAY}-overlay"
REPLAY_TIMELINE = f"{REPLAY}-timeline"
REPLAY_MESSAGE = f"{REPLAY}-message"
REPLAY_ACT = f"{REPLAY}-act"  # pattern id: {"type": REPLAY_ACT, "action": action}
REPLAY_NOTE = f"{REPLAY}-note"
REPLAY_REASON = f"{REPLAY}-reason"  # why a false alarm is one (alerts.verdicts)
REPLAY_EXPORT = f"{REPLAY}-export"
REPLAY_DONE = f"{REPLAY}-done"
REPLAY_RERUN = f"{REPLAY}-rerun"  # re-run the clip with today's rules
REPLAY_RERUN_OUT = f"{REPLAY}-rerun-out"
REPLAY_RERUN_POLL = f"{REPLAY}-rerun-poll"
REPLAY_RERUN_JOB = f"{REPLAY}-rerun-job"

# --- grid staff's phone page ---
STAFF = "staff"
STAFF_ROOT = f"{STAFF}-root"
STAFF_LOCALE = f"{STAFF}-locale"
STAFF_LIST = f"{STAFF}-list"
STAFF_TICK = f"{STAFF}-tick"
STAFF_CASE = f"{STAFF}-case"
STAFF_SELECTED = f"{STAFF}-selected"
STAFF_OPEN = f"{STAFF}-open"  # pattern id: {"type": STAFF_OPEN, "case": id}
STAFF_MESSAGE = f"{STAFF}-message"
STAFF_ACCEPT = f"{STAFF}-accept"
STAFF_NOTE = f"{STAFF}-note"
STAFF_PHOTO = f"{STAFF}-photo"
STAFF_PHOTO_NAME = f"{STAFF}-photo-name"
STAFF_HANDLED = f"{STAFF}-handled"
STAFF_ESCALATE = f"{STAFF}-escalate"
STAFF_QUERY = f"{STAFF}-query"
STAFF_ANSWER = f"{STAFF}-answer"  # pattern id: {"type": STAFF_ANSWER, "query": id}
STAFF_ANSWER_TEXT = f"{STAFF}-answer-text"  # pattern id: {"type": STAFF_ANSWER_TEXT, "query": id}
STAFF_BACK = f"{STAFF}-back"
STAFF_DONE = f"{STAFF}-done"

# --- admin ---
ADMIN = "admin"
ADMIN_ROOT = f"{ADMIN}-root"
ADMIN_LOCALE = f"{ADMIN}-locale"
ADMIN_CAMERAS = f"{ADMIN}-cameras"
ADMIN_CAM_ID = f"{ADMIN}-cam-id"
ADMIN_CAM_NAME = f"{ADMIN}-cam-name"
ADMIN_CAM_URL = f"{ADMIN}-cam-url"
ADMIN_CAM_ADD = f"{ADMIN}-cam-add"
ADMIN_CAM_REMOVE = f"{ADMIN}-cam-remove"  # pattern id: {"type": ADMIN_CAM_REMOVE, "camera": id}
ADMIN_CAM_MESSAGE = f"{ADMIN}-cam-message"
ADMIN_GRID_UPLOAD = f"{ADMIN}-grid-upload"
ADMIN_GRID_DATUM = f"{ADMIN}-grid-datum"
ADMIN_GRID_JOB = f"{ADMIN}-grid-job"
ADMIN_GRID_TICK = f"{ADMIN}-grid-tick"
ADMIN_GRID_PROGRESS = f"{ADMIN}-grid-progress"
ADMIN_GRID_RESULT = f"{ADMIN}-grid-result"
ADMIN_USERS = f"{ADMIN}-users"
ADMIN_USER_NAME = f"{ADMIN}-user-name"
ADMIN_USER_DISPLAY = f"{ADMIN}-user-display"
ADMIN_USER_PASSWORD = f"{ADMIN}-user-password"
ADMIN_USER_ROLE = f"{ADMIN}-user-role"
ADMIN_USER_SCOPE = f"{ADMIN}-user-scope"
ADMIN_USER_ADD = f"{ADMIN}-user-add"
ADMIN_USER_CHANGE = f"{ADMIN}-user-change"
ADMIN_USER_MESSAGE = f"{ADMIN}-user-message"
ADMIN_LEARN_START = f"{ADMIN}-learn-start"
ADMIN_LEARN_RUN = f"{ADMIN}-learn-run"
ADMIN_LEARN_TICK = f"{ADMIN}-learn-tick"
ADMIN_LEARN_MESSAGE = f"{ADMIN}-learn-message"
ADMIN_LEARN_PROGRESS = f"{ADMIN}-learn-progress"
ADMIN_LEARN_BAR = f"{ADMIN}-learn-bar"
ADMIN_LEARN_RESULT = f"{ADMIN}-learn-result"
