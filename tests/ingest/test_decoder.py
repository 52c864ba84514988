"""How a camera's video is decoded: one thread by default, deblocking skipped only when asked."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from demo.driveby import scene_photo, write_clip
from gridwatch.settings import IngestSettings
from ingest.reader import configure_decoder


@pytest.fixture(scope="module")
def street(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A 720p H.264 clip encoded by x264 with its default deblocking (the town-centre file has it off).
    photo, spec = scene_photo("park", shared_dir / "images")
    return write_clip(photo, tmp_path_factory.mktemp("clip") / "park.mp4", spec)


def decode(path: Path, ingest: IngestSettings, frames: int = 12) -> tuple[str, list[npt.NDArray[np.uint8]]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        configure_decoder(stream, ingest)
        pictures = []
        for frame in container.decode(stream):
            pictures.append(frame.to_ndarray(format="gray"))
            if len(pictures) == frames:
                break
        return str(stream.thread_type), pictures


def test_default_decoder_is_single_threaded_and_deblocks(street: Path) -> None:
    kind, default = decode(street, IngestSettings())
    assert "NONE" in kind  # several cameras per worker: one thread each costs the least CPU
    threaded_kind, threaded = decode(street, IngestSettings(decode_threads=0))
    assert "FRAME" in threaded_kind or "AUTO" in threaded_kind
    # Threads change the cost, never the pictures.
    assert all(np.array_equal(a, b) for a, b in zip(default, threaded, strict=True))


def test_skipping_deblocking_gives_nearly_the_same_pictures(street: Path) -> None:
    _, clean = decode(street, IngestSettings())
    _, fast = decode(street, IngestSettings(skip_deblocking=True))
    diffs = [np.abs(a.astype(np.int16) - b.astype(np.int16)) for a, b in zip(clean, fast, strict=True)]
    assert any(d.max() > 0 for d in diffs)  # the option reached the decoder
    # Blockier at block edges, but the picture a detector sees is the same: a grey level or two on average.
    assert max(float(d.mean()) for d in diffs) < 2.0
