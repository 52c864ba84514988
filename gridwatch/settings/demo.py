"""The built-in demo: its RTSP server, the demo patrol car's lap, route, footage and drive-by scene."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gridwatch.settings.base import Strict
from gridwatch.settings.paths import SHARED_DIR


class DemoSettings(Strict):
    enabled: bool = Field(default=True, description="Start a local RTSP server and a demo patrol car.")
    video: Path | None = Field(
        default=None,
        description="Clip the demo RTSP server loops while the car drives demo.gps_route; unset = the demo lap: "
        "street footage (demo.street_video) and, passing the park at the same place every lap, a synthetic drive-by "
        "of the shared park photo (no real footage of people sitting on the street exists offline), made once into "
        "data_dir/demo/ and played in step with the car's GPS (demo.lap).",
    )
    scene: str = Field(default="park", description="Drive-by scene of the park pass (demo.driveby).")
    vagrant_postures: tuple[Literal["lying", "sitting", "seated"], ...] = Field(
        default=("lying", "sitting", "seated"), min_length=1,
        description="The demo car's vagrant postures (its cameras[].vision.vagrant_postures): the park's people sit "
        "on walls and chairs by their tents, so the demo opts into seated; a real camera keeps rules.vagrant_postures "
        "(sitting on the ground and lying).",
    )
    lap_seconds: float = Field(
        default=150.0, ge=20, le=3600,
        description="One lap of the demo car's 1.6 km block loop, park pass included (longer than cases.pass_gap_s, "
        "so each lap's sightings count as a new pass).",
    )
    street_video: Path = Field(
        default=SHARED_DIR / "video" / "dashcam_highway_640x360.mp4",
        description="Ordinary street footage the demo lap shows between park passes (looped, scaled).",
    )
    rtsp_port: int = Field(default=8554, ge=0, le=65535, description="Port of the demo RTSP server (0 = free).")
    gps_route: str = Field(default="jinshui-demo", description="Simulated route the demo car drives with demo.video.")
