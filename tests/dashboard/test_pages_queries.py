"""What the desk, replay, staff and admin pages do, without a browser: real SQLite, real Redis, real files."""
from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import redis

from alerts.cases import CaseService
from alerts.repository import Repository
from alerts.users import UserError, UserStore
from alerts.workflow import Action, Actor, Role, Status, WorkflowError
from dashboard import admin_queries, desk_queries, page_services, replay_queries, staff_queries
from dashboard.page_services import PageServices
from gridwatch import media
from gridwatch.settings import DEMO_GRIDS, Settings
from gridwatch.types import Alert

GRID_1 = "410105001001001"  # 纬五路社区第1网格
COMMUNITY_1 = "410105001001"
P1 = (34.7960, 113.6650)  # inside GRID_1
P2 = (34.7740, 113.7000)  # 政七街社区第3网格, another sub-district office
OP_A = Actor("op-a", Role.OPERATOR)
OP_B = Actor("op-b", Role.OPERATOR)


@pytest.fixture()
def svc(settings: Settings, repo: Repository, redis_client: redis.Redis) -> PageServices:
    return page_services.build(settings, repo, redis_client)


@pytest.fixture()
def new_case(svc: PageServices, settings: Settings, shared_dir: Path) -> Callable[..., tuple[str, Alert]]:
    """An alert (snapshot on disk, optionally its clip) ingested into a case, as the consumer would."""

    def make(at: tuple[float, float] = P1, category: str = "0503", camera: str = "car-1", clip: bool = False,
             seen: datetime | None = None) -> tuple[str, Alert]:
        alert = Alert(id=uuid.uuid4().hex, camera_id=camera, category=category, confidence=0.9,
                      detected_at=seen or datetime.now(UTC), lat=at[0], lon=at[1], grid_code=None,
                      snapshot_url=None, bbox=(100.0, 120.0, 180.0, 330.0), track_id=1)
        rel = f"snapshots/{alert.detected_at:%Y/%m/%d}/{alert.id}.jpg"
        (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings.media_dir / rel).write_bytes((shared_dir / "images" / "bus.jpg").read_bytes())
        alert = dataclasses.replace(alert, snapshot_url="/media/" + rel)
        assert svc.repo.add_alert(alert, f"ev-{alert.id}", rel)
        if clip:
            path = settings.media_dir / media.clip_relpath(alert.id, alert.detected_at)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((shared_dir / "video" / "dashcam_highway_640x360.mp4").read_bytes())
        with svc.repo.engine.begin() as conn:
            [done] = CaseService(svc.repo.engine, svc.router).ingest_alerts(conn, [alert])
        return done.case_id, alert

    return make


# --- the desk ---------------------------------------------------------------------------------------------------

def test_a_second_operator_cannot_claim_or_act_on_an_alert_and_is_told_who_holds_it(
    svc: PageServices, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    case_id, _ = new_case()
    assert desk_queries.claim(redis_client, case_id, "op-a", "值班员 甲").mine
    refused = desk_queries.claim(redis_client, case_id, "op-b", "值班员 乙")
    assert not refused.mine and refused.name == "值班员 甲"
    with pytest.raises(desk_queries.ClaimedError) as err:
        desk_queries.assign(svc, redis_client, case_id, OP_B, "值班员 乙", grid=GRID_1)
    assert err.value.holder == "值班员 甲"
    assert svc.book.get(case_id).status == Status.REPORTED  # nothing happened
    assert desk_queries.holders(redis_client, [case_id]) == {case_id: ("op-a", "值班员 甲")}
    # Only the holder's release frees it.
    assert not desk_queries.release(redis_client, case_id, "op-b")
    assert desk_queries.release(redis_client, case_id, "op-a")
    assert desk_queries.claim(redis_client, case_id, "op-b", "值班员 乙").mine


def test_a_claim_lapses_when_its_operator_walks_away(redis_client: redis.Redis) -> None:
    assert desk_queries.claim(redis_client, "c1", "op-a", ttl_ms=50).mine
    time.sleep(0.2)
    assert desk_queries.claim(redis_client, "c1", "op-b").mine


def test_assign_confirms_and_dispatches_so_the_alert_leaves_the_queue_for_the_grids_list(
    svc: PageServices, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    case_id, _ = new_case()
    other_id, _ = new_case(at=P2, category="0507")
    assert {c.id for c in desk_queries.desk_queue(svc.book)} == {case_id, other_id}
    detail = desk_queries.desk_detail(svc, Path("/nonexistent"), case_id, Role.OPERATOR)
    assert detail.suggested.grid_code == GRID_1 and detail.suggested.community_code == COMMUNITY_1

    view = desk_queries.assign(svc, redis_client, case_id, OP_A, "甲", grid=detail.suggested.grid_code)
    assert view.status == Status.DISPATCHED and view.assignee_grid == GRID_1 and view.due_at is not None
    assert [c.id for c in desk_queries.desk_queue(svc.book)] == [other_id]
    assert desk_queries.holders(redis_client, [case_id]) == {}  # released after acting
    # The grid sees it; a grid of another office does not.
    assert [c.id for c in staff_queries.my_cases(svc.book, COMMUNITY_1)] == [case_id]
    assert [c.id for c in staff_queries.my_cases(svc.book, GRID_1)] == [case_id]
    assert staff_queries.my_cases(svc.book, "410105002002") == []
    history = [e.action for e in svc.book.history(case_id)]
    assert history == ["report", "verify", "register", "dispatch"]
    with pytest.raises(WorkflowError):
        desk_queries.assign(svc, redis_client, other_id, OP_A, "甲")  # neither grid nor department


def test_reject_and_merge_from_the_desk(
    svc: PageServices, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    false_alarm, _ = new_case(category="0501")
    assert desk_queries.reject_false_alarm(svc, redis_client, false_alarm, OP_A, "甲").status == Status.REJECTED
    older, _ = new_case(category="0503")
    # Another category 20 m away: a separate case, offered as a merge candidate.
    newer, _ = new_case(at=(P1[0] + 0.00018, P1[1]), category="0504")
    detail = desk_queries.desk_detail(svc, Path("/nonexistent"), newer, Role.OPERATOR)
    assert [n.case.id for n in detail.nearby] == [older] and 15 < detail.nearby[0].distance_m < 25
    merged = desk_queries.merge_into(svc, redis_client, newer, older, OP_A, "甲", note="the same stall")
    assert merged.sightings == 2
    gone = svc.book.get(newer)
    assert gone.status == Status.REJECTED and gone.merged_into == older
    assert {c.id for c in desk_queries.desk_queue(svc.book)} == {older}


def test_a_case_seen_clear_comes_first_with_its_clear_picture_and_one_action_closes_it(
    svc: PageServices, settings: Settings, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    waiting, _ = new_case(category="0501")
    case_id, alert = new_case(seen=datetime.now(UTC) - timedelta(minutes=30))
    # Not seen clear: the operator may not close it.
    assert Action.CLOSE not in desk_queries.desk_detail(svc, settings.media_dir, case_id, Role.OPERATOR).actions
    # A patrol car passes the place later facing it and sees nothing there: a clear sighting with its picture.
    rel = f"clear/{case_id}.jpg"
    (settings.media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (settings.media_dir / rel).write_bytes(b"\xff\xd8 the pass's picture")
    passed = datetime.now(UTC) - timedelta(minutes=5)
    assert svc.cases.record_clear_pass(case_id, "car-2", passed, lat=alert.lat, lon=alert.lon, snapshot_path=rel)
    assert [c.id for c in desk_queries.desk_queue(svc.book)] == [case_id, waiting]  # first: one key closes it
    d = desk_queries.desk_detail(svc, settings.media_dir, case_id, Role.OPERATOR)
    assert d.case.seen_clear and d.case.status == Status.HANDLED and d.case.feedback_note == "现场复查: 已无"
    assert d.clear is not None and d.clear.camera_id == "car-2" and d.clear.seen_at == passed
    assert d.clear.snapshot_url == "/media/" + rel
    assert Action.CLOSE in d.actions
    assert d.sighting is not None and d.sighting.alert_id == alert.id  # the problem's own picture stays beside it
    # Another operator holds it: not closed.
    assert desk_queries.claim(redis_client, case_id, "op-b", "乙").mine
    with pytest.raises(desk_queries.ClaimedError):
        desk_queries.close_seen_clear(svc, redis_client, case_id, OP_A, "甲")
    assert desk_queries.release(redis_client, case_id, "op-b")
    closed = desk_queries.close_seen_clear(svc, redis_client, case_id, OP_A, "甲")
    assert closed.status == Status.CLOSED and not closed.is_open
    assert [c.id for c in desk_queries.desk_queue(svc.book)] == [waiting]
    assert [e.action for e in svc.book.history(case_id)][-2:] == ["seen_clear", "close"]
    # An ordinary waiting case cannot be closed this way.
    with pytest.raises(WorkflowError):
        desk_queries.close_seen_clear(svc, redis_client, waiting, OP_A, "甲")
    assert svc.book.get(waiting).status == Status.REPORTED


def test_the_desk_shows_the_clip_once_written_and_the_map_draws_the_suggested_grid(
    svc: PageServices, settings: Settings, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    case_id, alert = new_case(clip=True)
    d = desk_queries.desk_detail(svc, settings.media_dir, case_id, Role.OPERATOR)
    assert d.clip_url == "/media/" + media.clip_relpath(alert.id, alert.detected_at)
    assert d.alert is not None and d.alert.id == alert.id
    fig = desk_queries.position_figure(svc.router, d.case, d.suggested, d.nearby, {})
    texts = [t.get("text") for t in fig["data"]]
    assert f"纬五路社区第1网格 ({GRID_1})" in texts  # the polygon, drawn as a trace (no tiles)
    assert fig["data"][-1]["x"] == [alert.lon] and fig["data"][-1]["y"] == [alert.lat]


# --- replay -----------------------------------------------------------------------------------------------------------

def test_replay_search_by_time_camera_grid_category_and_status_within_the_users_scope(
    svc: PageServices, settings: Settings, new_case: Callable[..., tuple[str, Alert]], redis_client: redis.Redis,
) -> None:
    now = datetime.now(UTC)
    a, alert_a = new_case(camera="car-1", category="0503", clip=True)
    b, _ = new_case(at=P2, camera="park-east", category="0507")
    c, _ = new_case(camera="car-1", category="0501", seen=now - timedelta(days=10))
    desk_queries.assign(svc, redis_client, a, OP_A, "甲", grid=GRID_1)
    tz = settings.locale.timezone
    today = now.astimezone(replay_queries.timefmt.zone(tz)).date().isoformat()

    def ids(**kw: object) -> set[str]:
        f = replay_queries.build_filter(svc.router, kw.pop("scope", None), tz=tz, **kw)  # type: ignore[arg-type]
        return {h.case_id for h in replay_queries.search(svc, f)}

    assert ids() == {a, b, c}
    assert ids(start=today, end=today) == {a, b}
    assert ids(camera="car-1") == {a, c}
    assert ids(category="0507") == {b}
    assert ids(statuses=["dispatched"]) == {a}
    assert ids(grid=COMMUNITY_1) == {a, c}
    assert ids(scope="410105002") == {b}
    with pytest.raises(replay_queries.ScopeError):
        ids(scope="410105002", grid=COMMUNITY_1)

    r = replay_queries.replay(svc, settings.media_dir, a, alert_a.id, None, Role.SUPERVISOR, 8.0)
    assert r.clip_url is not None and r.frame_size == (640, 360) and r.bbox == (100.0, 120.0, 180.0, 330.0)
    with pytest.raises(replay_queries.ScopeError):
        replay_queries.replay(svc, settings.media_dir, a, None, "410105002", Role.SUPERVISOR, 8.0)
    b_replay = replay_queries.replay(svc, settings.media_dir, b, None, None, Role.SUPERVISOR, 8.0)
    assert b_replay.clip_url is None and b_replay.actions == ["verify", "reject"]
    fig = replay_queries.timeline_figure(r.detail, tz, {})
    assert len(fig["data"][0]["x"]) == 1 and len(fig["data"][1]["x"]) == 4  # one sighting, four audit events


def test_the_box_overlay_is_in_frame_pixels_and_clamped_to_the_frame() -> None:
    o = replay_queries.box_overlay((640, 360), (-5.0, 100.0, 700.0, 200.0), "占道经营")
    assert o["viewBox"] == "0 0 640 360"
    assert o["rect"]["x"] == 0.0 and o["rect"]["width"] == 640.0 and o["rect"]["height"] == 100.0
    svg = unquote(replay_queries.overlay_src(replay_queries.box_overlay((640, 360), (1, 2, 3, 4), "<x>")))
    assert svg.startswith("data:image/svg+xml") and 'viewBox="0 0 640 360"' in svg and "&lt;x&gt;" in svg


# --- grid staff -------------------------------------------------------------------------------------------------------

def _png_data_url(shared_dir: Path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode((shared_dir / "images" / "zidane.jpg").read_bytes()).decode()


def test_staff_accept_feedback_with_photo_and_escalate_only_in_their_subtree(
    svc: PageServices, settings: Settings, redis_client: redis.Redis, shared_dir: Path,
    new_case: Callable[..., tuple[str, Alert]],
) -> None:
    mine, _ = new_case()
    theirs, _ = new_case(at=P2, category="0507")
    for cid, grid in ((mine, GRID_1), (theirs, "410105002002003")):
        desk_queries.assign(svc, redis_client, cid, OP_A, "甲", grid=grid)
    staff = Actor("grid-1", Role.GRID_STAFF, COMMUNITY_1)
    assert staff_queries.case_in_scope(svc.book.get(mine), COMMUNITY_1)
    assert not staff_queries.case_in_scope(svc.book.get(theirs), COMMUNITY_1)
    assert staff_queries.case_in_scope(svc.book.get(theirs), None)

    assert staff_queries.accept(svc.casework, mine, staff).status == Status.IN_PROGRESS
    with pytest.raises(WorkflowError, match="photo"):
        staff_queries.feedback(svc.casework, settings.media_dir, mine, staff, "cleared", None)
    with pytest.raises(staff_queries.UploadError):
        staff_queries.feedback(svc.casework, settings.media_dir, mine, staff, "cleared",
                               "data:image/jpeg;base64," + base64.b64encode(b"not a picture").decode())
    done = staff_queries.feedback(svc.casework, settings.media_dir, mine, staff, "stall moved away",
                                  _png_data_url(shared_dir))
    assert done.status == Status.HANDLED and done.feedback_note == "stall moved away"
    assert done.feedback_photo_url is not None
    stored = settings.media_dir / done.feedback_photo_url.removeprefix("/media/")
    assert stored.read_bytes() == (shared_dir / "images" / "zidane.jpg").read_bytes()

    other, _ = new_case(category="0504", at=(P1[0] - 0.001, P1[1]))
    desk_queries.assign(svc, redis_client, other, OP_A, "甲", grid=GRID_1)
    grid_staff = Actor("grid-1a", Role.GRID_STAFF, GRID_1)
    staff_queries.accept(svc.casework, other, grid_staff)
    up = staff_queries.escalate(svc.casework, other, grid_staff, "needs the community")
    assert up.status == Status.ESCALATED and up.assignee_grid == COMMUNITY_1
    assert other in {c.id for c in staff_queries.my_cases(svc.book, GRID_1)}  # still seen by the lower grid
    with pytest.raises(WorkflowError, match="not overdue"):
        staff_queries.file_query(svc.casework, other, grid_staff, "why not yet?")


# --- admin ------------------------------------------------------------------------------------------------------------

def test_grid_import_reports_problems_by_feature_and_stores_nothing_then_imports_a_valid_map(
    svc: PageServices, redis_client: redis.Redis,
) -> None:
    doc = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    bad = json.loads(json.dumps(doc))
    bad["features"][3]["properties"]["parent"] = "410105009009"
    bad["features"][5]["geometry"]["coordinates"][0].pop()  # no longer closed
    before = svc.repo.grid_count()
    status = admin_queries.run_import(redis_client, svc.repo, "job1", json.dumps(bad).encode(), "wgs84")
    assert status.stage == "failed" and status.percent == 100
    rows = admin_queries.problem_rows(status.problems)
    assert any(w.startswith("feature #3") and "parent" in p for w, p in rows)
    assert any(w.startswith("feature #5") and "not closed" in p for w, p in rows)
    assert svc.repo.grid_count() == before
    assert admin_queries.import_status(redis_client, "job1") == status

    small = {"type": "FeatureCollection", "features": doc["features"][:6]}
    reloaded: list[bool] = []
    ok = admin_queries.run_import(redis_client, svc.repo, "job2", json.dumps(small).encode(), "wgs84",
                                  on_done=lambda: reloaded.append(True))
    assert ok.stage == "done" and ok.imported == 6 and reloaded == [True]
    assert svc.repo.grid_count() == 6
    assert admin_queries.run_import(redis_client, svc.repo, "job3", b"{not json", "wgs84").stage == "failed"


def test_admin_manages_cameras_through_the_registry_and_users_roles_and_scopes(
    settings: Settings, redis_client: redis.Redis, svc: PageServices,
) -> None:
    reg = admin_queries.registry(settings, redis_client)
    added = admin_queries.add_camera(reg, "car-7", "巡逻车 7", "rtsp://u:secret@10.0.0.7/live")
    assert added["url"] == "rtsp://u:***@10.0.0.7/live"  # the password never comes back
    assert [c["id"] for c in admin_queries.list_cameras(reg)] == ["car-7"]
    admin_queries.remove_camera(reg, "car-7")
    assert admin_queries.list_cameras(reg) == []

    store = UserStore(svc.repo.engine)
    u = admin_queries.add_user(store, "zhang", "long-password-1", "grid_staff", "网格员 张", GRID_1, None)
    assert u.role == Role.GRID_STAFF and u.scope_grid == GRID_1
    u = admin_queries.change_user(store, "zhang", "supervisor", None)
    assert u.role == Role.SUPERVISOR and u.scope_grid is None
    with pytest.raises(UserError):
        admin_queries.change_user(store, "zhang", "operator", "999999999")
    assert "zhang" in [x.username for x in admin_queries.list_users(store)]


def test_an_escalated_case_comes_back_to_the_desk_and_is_reassigned(
    svc: PageServices, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    case_id, _ = new_case()
    desk_queries.assign(svc, redis_client, case_id, OP_A, "甲", grid=GRID_1)
    staff = Actor("grid-1a", Role.GRID_STAFF, GRID_1)
    staff_queries.accept(svc.casework, case_id, staff)
    staff_queries.escalate(svc.casework, case_id, staff, "the owner refuses; needs urban management")
    assert [c.id for c in desk_queries.desk_queue(svc.book)] == [case_id]  # back at the desk
    view = desk_queries.assign(svc, redis_client, case_id, OP_B, "乙", department="urban_management")
    assert view.status == Status.DISPATCHED and view.department == "urban_management"
    assert desk_queries.desk_queue(svc.book) == []
    assert [c.id for c in staff_queries.my_cases(svc.book, None, department="urban_management")] == [case_id]


def test_the_lower_grid_files_a_query_once_the_parent_is_overdue_and_the_parent_answers_it(
    svc: PageServices, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    case_id, _ = new_case()
    desk_queries.assign(svc, redis_client, case_id, OP_A, "甲", grid=GRID_1)
    lower = Actor("grid-1a", Role.GRID_STAFF, GRID_1)
    parent = Actor("community-1", Role.GRID_STAFF, COMMUNITY_1)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    staff_queries.accept(svc.casework, case_id, lower, now=month_ago)
    staff_queries.escalate(svc.casework, case_id, lower, "needs the community", now=month_ago)
    assert svc.book.get(case_id).overdue  # 7 working days passed long ago
    q = staff_queries.file_query(svc.casework, case_id, lower, "why is this still open?")
    assert q.to_grid == COMMUNITY_1 and q.filed_grid == GRID_1
    assert [x.id for x in staff_queries.queries_for(svc.book, COMMUNITY_1)] == [q.id]
    assert staff_queries.queries_for(svc.book, "410105002") == []
    with pytest.raises(WorkflowError):
        staff_queries.answer_query(svc.casework, q.id, Actor("other", Role.GRID_STAFF, "410105002002"), "not ours")
    answered = staff_queries.answer_query(svc.casework, q.id, parent, "urban management comes on Monday")
    assert answered.answered_by == "community-1"
    assert staff_queries.queries_for(svc.book, COMMUNITY_1) == []


def test_the_evidence_gps_trace_is_the_cars_track_around_the_sightings(
    svc: PageServices, settings: Settings, redis_client: redis.Redis, new_case: Callable[..., tuple[str, Alert]],
) -> None:
    from dashboard.api.evidence import gps_trace
    from gridwatch.types import GpsFix
    from ingest.gps import TelemetryStore

    case_id, alert = new_case(camera="car-1")
    t0 = alert.detected_at
    store = TelemetryStore(redis_client, settings.ingest.telemetry_track_seconds)
    near = [GpsFix(P1[0], P1[1] + i * 1e-5, t0 + timedelta(seconds=i)) for i in range(-5, 6)]
    far = [GpsFix(P2[0], P2[1], t0 - timedelta(minutes=20))]
    store.add("car-1", near + far)
    store.add("car-2", [GpsFix(P1[0], P1[1], t0)])  # another car: not this case's
    trace = gps_trace(redis_client, settings, svc.book.detail(case_id))
    assert [f.time for f in trace] == [f.time for f in near]
