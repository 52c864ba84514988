"""Reading the streams: decoding and reconnecting cameras, the vehicles' GPS websocket, and the rolling video
buffer that alert clips are cut from (recording)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gridwatch.settings.base import Strict


class IngestSettings(Strict):
    detect_fps: float = Field(default=5.0, gt=0, le=60, description="Frames per second handed to vision.")
    stall_seconds: float = Field(default=5.0, gt=0, description="No frame for this long = camera stalled.")
    reconnect_max_seconds: float = Field(
        default=5.0, gt=0,
        description="Cap of the reconnect backoff while the server answers but the stream fails. A server that "
        "refuses connections (down, restarting) is probed every 0.25 s and the stream opened once it listens.",
    )
    open_timeout_seconds: float = Field(
        default=5.0, gt=0,
        description="Timeout to open an RTSP stream (handshake and first packets: well under a second on a 4G link); "
        "an open that hangs is retried, so a camera server that is slow to start keeps the camera dark no longer.",
    )
    rtsp_transport: str = Field(default="tcp", pattern="^(tcp|udp)$", description="RTSP transport.")
    decode: Literal["all", "keyframes"] = Field(
        default="all",
        description="all: decode every frame (smooth tracking); keyframes: decode only keyframes, about 5x "
        "cheaper at 720p25 with a keyframe a second; enough when detect_fps is at most the keyframe rate.",
    )
    decode_threads: int = Field(
        default=1, ge=0, le=16,
        description="Decoder threads per camera. 1: one thread, the least CPU per frame when a worker reads "
        "several cameras (their decoders already run side by side) and no pictures held back; more (0 = as many "
        "as FFmpeg likes): frame threads, quicker per frame for one big stream but ~12% more CPU and a "
        "picture of delay per thread.",
    )
    skip_deblocking: bool = Field(
        default=False,
        description="Skip H.264/H.265 deblocking when decoding (FFmpeg skip_loop_filter=all): ~12-15% less "
        "decode CPU; pictures and snapshots are slightly blockier (recorded clips are not: they are copied, not "
        "decoded). For workers that decode many cameras; recall measured in BENCHMARKS.md.",
    )
    telemetry_ws_port: int = Field(
        default=8052, ge=0, le=65535, description="Port of the vehicles' GPS websocket (0 = any free)."
    )
    telemetry_track_seconds: float = Field(
        default=900.0, gt=0, description="How much of each vehicle's GPS track is kept (seconds)."
    )
    telemetry_max_future_seconds: float = Field(
        default=30.0, ge=0, description="A GPS fix timed further than this in the future is refused."
    )
    telemetry_max_speed_mps: float = Field(
        default=70.0, gt=0, description="A GPS fix with a higher speed (m/s) is refused as impossible."
    )
    telemetry_max_gap_seconds: float = Field(
        default=30.0, gt=0,
        description="A frame further than this from the vehicle's nearest GPS fix gets no position.",
    )
    telemetry_vehicles: dict[str, str] = Field(
        default_factory=dict,
        description="Camera id -> vehicle id whose GPS track the camera's frames use; unset = the camera id.",
    )


class RecordingSettings(Strict):
    enabled: bool = Field(default=True, description="Keep a rolling buffer of each camera's video for alert clips.")
    buffer_seconds: float = Field(
        default=30.0, ge=5, le=600, description="Seconds of compressed video kept per camera (stream copy)."
    )
    pre_seconds: float = Field(default=8.0, ge=0, description="An alert's clip starts this long before it.")
    post_seconds: float = Field(default=8.0, ge=0, description="An alert's clip ends this long after it.")
    clip_timeout_seconds: float = Field(
        default=30.0, gt=0,
        description="How long a clip waits past its end for the video to arrive (a stalled camera: shorter clip).",
    )
    retention_days: float | None = Field(
        default=30.0, gt=0, description="Clips and snapshots older than this are deleted; unset = no age limit."
    )
    retention_gb: float | None = Field(
        default=20.0, gt=0, description="Oldest clips and snapshots are deleted above this total; unset = no limit."
    )

    @model_validator(mode="after")
    def _buffer_holds_a_clip(self) -> RecordingSettings:
        if self.pre_seconds + self.post_seconds + 2 > self.buffer_seconds:
            raise ValueError(
                f"buffer_seconds ({self.buffer_seconds:g}) must exceed pre_seconds + post_seconds "
                f"({self.pre_seconds + self.post_seconds:g}) by at least 2 s (a keyframe interval)"
            )
        return self
