"""The drive-by clip maker: SYNTHETIC patrol-car footage from a still (no real footage exists offline)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from demo.driveby import DriveBy, DriveByError, frames, main, write_clip
from tests.vision.conftest import read_image


def _decode(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        images = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    return codec, images


def test_clip_is_h264_of_the_asked_size_and_length(shared_dir: Path, tmp_path: Path) -> None:
    spec = DriveBy(seconds=2.0, fps=10, width=320, height=180)
    out = write_clip(shared_dir / "images" / "bus.jpg", tmp_path / "bus.mp4", spec)
    codec, images = _decode(out)
    assert codec == "h264" and len(images) == 20
    assert images[0].shape == (180, 320, 3)


def test_the_window_travels_along_the_photo(shared_dir: Path) -> None:
    photo = read_image(shared_dir, "streetview_people_sitting_park.jpg")
    clip = list(frames(photo, DriveBy(seconds=1.0, fps=10, width=320, height=180, skew=0.0, shake_px=0.0)))
    # Without warp or shake the first frame shows the photo's left part and the last its right part.
    assert np.abs(clip[0].astype(int) - clip[-1].astype(int)).mean() > 20
    # Each frame is the previous one moved left by the same few pixels: find the shift that matches best.
    a, b = clip[4].astype(int), clip[5].astype(int)
    errors = [np.abs(a[:, s:] - b[:, : b.shape[1] - s]).mean() for s in range(0, 40)]
    assert 1 <= int(np.argmin(errors)) <= 39


def test_cli_makes_a_named_scene(tmp_path: Path, shared_dir: Path) -> None:
    out = tmp_path / "sitter.mp4"
    assert main(["park-sitter", str(out), "--seconds", "1", "--width", "320", "--height", "180",
                 "--images", str(shared_dir / "images")]) == 0
    codec, images = _decode(out)
    assert codec == "h264" and len(images) == 25 and images[0].shape == (180, 320, 3)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing.jpg"), str(tmp_path / "x.mp4")]) == 2
    with pytest.raises(DriveByError, match="even"):
        list(frames(np.zeros((100, 100, 3), dtype=np.uint8), DriveBy(width=321)))
    with pytest.raises(DriveByError, match="BGR"):
        list(frames(np.zeros((100, 100), dtype=np.uint8), DriveBy()))
