"""Component ids of the desk, replay, staff and admin pages, namespaced by page so no two pages collide."""
from __future__ import annotations

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
