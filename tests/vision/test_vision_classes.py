"""A custom model's issue classes plug in through settings alone (vision.class_categories)."""
from __future__ import annotations

import pytest

from gridwatch.settings import RulesSettings, SettingsError, load_settings
from gridwatch.types import Phase
from tests.vision.rule_helpers import at, tracked_frame
from vision.ruleset import CameraRules
from vision.zones import CameraView

CART = (100.0, 150.0, 220.0, 260.0)
TENT = (300.0, 100.0, 500.0, 300.0)


def test_custom_classes_raise_their_categories() -> None:
    settings = load_settings(None, vision={"class_categories": {
        "vendor_cart": "0501", "stall_tent": "0503", "lying_person": "0502"}})
    rules = CameraRules(CameraView(camera_id="cam-1"), settings.rules, settings.vision.class_categories)
    assert "classes" in rules.names
    events = []
    for seq in range(10):
        objs = [(4, "vendor_cart", CART, 0.8), (5, "stall_tent", TENT, 0.7), (6, "car", CART, 0.9)]
        events += rules.step(tracked_frame(seq, objs), at(seq))
    news = {e.category: e for e in events if e.phase is Phase.NEW}
    assert set(news) == {"0501", "0503"}  # the car maps to nothing
    assert news["0501"].track_id == 4 and news["0501"].bbox == CART
    # Confirmed after class_min_frames (3) frames, not on the first sighting.
    assert news["0501"].last_seen == at(2)
    ends = [e for e in rules.finish() if e.phase is Phase.END]
    assert {e.category for e in ends} == {"0501", "0503"}


def test_no_class_map_means_no_class_rule() -> None:
    rules = CameraRules(CameraView(camera_id="cam-1"), RulesSettings(), {})
    assert "classes" not in rules.names


def test_unknown_category_in_the_map_is_named() -> None:
    with pytest.raises(SettingsError, match="vision.class_categories") as err:
        load_settings(None, vision={"class_categories": {"vendor_cart": "9999"}})
    assert "vendor_cart" in str(err.value) and "9999" in str(err.value)


def test_bad_zones_are_named() -> None:
    cam = {"id": "cam-1", "name": "Cam", "url": "rtsp://127.0.0.1/x"}
    with pytest.raises(SettingsError, match=r"cameras\.0\.vision\.vagrant_zones") as err:
        load_settings(None, cameras=[{**cam, "vision": {"vagrant_zones": [[[0, 0], [1, 0], [1, 1.5]]]}}])
    assert "outside" in str(err.value)
    with pytest.raises(SettingsError, match="crosses itself"):
        load_settings(None, cameras=[{**cam, "vision": {"no_vending_zones": [[[0, 0], [1, 1], [1, 0], [0, 1]]]}}])
    with pytest.raises(SettingsError, match="rules.no_vending_areas"):
        load_settings(None, rules={"no_vending_areas": [[[113.6, 34.7], [113.7, 34.7]]]})
    with pytest.raises(SettingsError, match="posture_min_frames"):
        load_settings(None, rules={"posture_window": 2, "posture_min_frames": 3})


def test_camera_kind_and_zones_reach_the_rules() -> None:
    s = load_settings(None, rules={"no_vending_areas": [[[113.6, 34.7], [113.7, 34.7], [113.7, 34.8]]]}, cameras=[
        {"id": "car-1", "name": "Car", "url": "rtsp://127.0.0.1/car", "gps_route": "jinshui-demo",
         "vision": {"vagrant_postures": ["lying", "sitting", "seated"]}},
        {"id": "cam-2", "name": "Street", "url": "rtsp://127.0.0.1/st",
         "vision": {"vagrant_zones": [[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]], "vagrant_dwell_seconds": 30}},
    ])
    car, street = (CameraView.from_settings(c, s.rules) for c in s.cameras)
    assert car.mobile and not street.mobile  # a car with a GPS route moves; a street camera does not
    assert car.no_vending_areas is not None
    assert street.vagrant_zones is not None and street.dwell_seconds(s.rules) == 30
    assert car.dwell_seconds(s.rules) == s.rules.vagrant_dwell_seconds
    # One camera may opt into people seated on walls and benches (the demo car); the others keep the global rule.
    assert car.postures_for(s.rules) == ("lying", "sitting", "seated")
    assert street.postures_for(s.rules) == s.rules.vagrant_postures == ("lying", "sitting")
