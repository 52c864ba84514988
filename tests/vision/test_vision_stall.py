"""The stall rule on hand-built tracked frames: goods grouped with people who stay put, in a no-vending area."""
from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import MultiPolygon, Polygon
from shapely.prepared import prep

from gridwatch.settings import RulesSettings
from gridwatch.types import GpsFix, IssueEvent, Phase
from tests.vision.rule_helpers import STANDING_BOX, Obj, at, fix_at, moved, person, seconds, tracked_frame
from vision.stall import StallState, stall_rule
from vision.zones import CameraView

RULES = RulesSettings(stall_seconds=4.0, end_after_seconds=2.0)
FIXED = CameraView(camera_id="cam-1")
VENDOR = STANDING_BOX  # 300,120 - 340,280: a vendor standing behind the stall
UMBRELLA = (250.0, 60.0, 400.0, 130.0)
TABLE = (240.0, 200.0, 300.0, 260.0)
CHAIR = (345.0, 220.0, 380.0, 280.0)


def stall(vendor_box: Sequence[float] = VENDOR) -> list[Obj]:
    return [person(1, vendor_box), (20, "umbrella", UMBRELLA, 0.7), (21, "dining table", TABLE, 0.6),
            (22, "chair", CHAIR, 0.5)]


def run(scene: Sequence[Sequence[Obj]], view: CameraView = FIXED, rules: RulesSettings = RULES,
        fixes: Sequence[GpsFix | None] | None = None) -> list[list[IssueEvent]]:
    state = StallState.for_view(view)
    per_frame = []
    for seq, objs in enumerate(scene):
        fix = fixes[seq] if fixes is not None else None
        state, events = stall_rule(state, tracked_frame(seq, objs, fix=fix), at(seq), rules)
        per_frame.append(events)
    return per_frame


def news(per_frame: list[list[IssueEvent]]) -> list[tuple[int, IssueEvent]]:
    return [(i, e) for i, frame in enumerate(per_frame) for e in frame if e.phase is Phase.NEW]


def test_vendor_with_umbrella_table_and_chair_is_one_stall() -> None:
    per_frame = run([stall() for _ in range(seconds(10))])
    ((when, event),) = news(per_frame)
    # The vendor's speed is known from the 2nd frame on; the group then has to stay 4 s.
    assert when == 1 + seconds(4)
    assert event.category == "0501" and event.track_id == 1
    # The event's box covers the whole stall: umbrella, table, chair and the vendor.
    assert event.bbox == (240.0, 60.0, 400.0, 280.0)


def test_the_stall_category_follows_the_settings() -> None:
    rules = RULES.model_copy(update={"stall_category": "0503"})
    ((_, event),) = news(run([stall() for _ in range(seconds(10))], rules=rules))
    assert event.category == "0503"


def test_person_walking_past_goods_is_no_stall() -> None:
    # 125 px/s for a 160 px tall person: ~0.8 body heights a second, an ordinary walk.
    scene = [[*stall(moved(VENDOR, dx=-200 + 25 * i))[:1], *stall()[1:]] for i in range(seconds(10))]
    assert news(run(scene)) == []


def test_a_pedestrian_with_two_bags_is_no_stall() -> None:
    bags = [person(1, VENDOR), (30, "handbag", (305.0, 190.0, 335.0, 230.0), 0.6),
            (31, "backpack", (302.0, 140.0, 338.0, 200.0), 0.6)]
    assert news(run([bags for _ in range(seconds(10))])) == []
    # A bag set down beside a seller at a table is goods.
    set_down = [person(1, VENDOR), (30, "handbag", (345.0, 250.0, 375.0, 280.0), 0.6),
                (31, "dining table", TABLE, 0.6)]
    assert len(news(run([set_down for _ in range(seconds(10))]))) == 1


def test_belongings_around_a_sitter_are_no_stall() -> None:
    # Bags and a chair but no umbrella or table: someone's belongings (the vagrant rule's business).
    belongings = [person(1, VENDOR), (30, "suitcase", (250.0, 230.0, 298.0, 280.0), 0.6),
                  (31, "backpack", (345.0, 250.0, 375.0, 280.0), 0.6), (22, "chair", CHAIR, 0.5)]
    assert news(run([belongings for _ in range(seconds(10))])) == []
    anything = RULES.model_copy(update={"stall_key_classes": ()})
    assert len(news(run([belongings for _ in range(seconds(10))], rules=anything))) == 1


def test_goods_without_anyone_are_no_stall() -> None:
    assert news(run([stall()[1:] for _ in range(seconds(10))])) == []


def test_outside_the_no_vending_zone_is_allowed() -> None:
    # No-vending only in the left quarter of the picture; this stall stands in the middle.
    zone = prep(MultiPolygon([Polygon([(0, 0), (0.25, 0), (0.25, 1), (0, 1)])]))
    allowed = CameraView(camera_id="cam-1", no_vending_zones=zone)
    assert news(run([stall() for _ in range(seconds(10))], allowed)) == []


def test_patrol_car_reports_stalls_only_in_no_vending_streets() -> None:
    rules = RULES.model_copy(update={"no_vending_areas": (
        ((113.679, 34.779), (113.681, 34.779), (113.681, 34.781), (113.679, 34.781)),
    )})
    patrol = CameraView.simple("cam-1", mobile=True, rules=rules)
    inside = [fix_at(34.7800, 113.6800, i) for i in range(8)]
    ((when, event),) = news(run([stall() for _ in range(8)], patrol, rules, fixes=inside))
    assert when == rules.patrol_min_frames - 1
    assert event.fix is not None and abs(event.fix.lat - 34.78) < 1e-6
    elsewhere = [fix_at(34.7700, 113.6800, i) for i in range(8)]
    assert news(run([stall() for _ in range(8)], patrol, rules, fixes=elsewhere)) == []


def test_flickering_goods_keep_one_stall() -> None:
    # The detector misses the umbrella and table every other frame; still one stall, one event.
    scene = [stall() if i % 2 == 0 else stall()[:1] + stall()[3:] for i in range(seconds(12))]
    assert len(news(run(scene))) == 1
