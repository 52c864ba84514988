"""Drive-by clips: a street photo turned into an H.264 MP4 as seen from a passing patrol car.

These clips are SYNTHETIC. No real footage of people sitting or lying on a pavement, or of street stalls,
can be had offline, so tests, evaluations and demos make their own from stills: a crop window slides along
the photo (the car passing) while a small, changing perspective warp imitates the changing viewing angle,
with a little vertical shake from the road. It is not real video (no parallax between near and far, no
motion blur, nobody moves), which is exactly what a tracker with camera-motion compensation should cope
with; say so when quoting results obtained on them.

    python -m demo.driveby ../shared/images/streetview_people_sitting_park.jpg park_driveby.mp4 --seconds 6
    python -m demo.driveby park-sitter sitter.mp4     # a named scene composed from the shared photos
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.settings.paths import SHARED_DIR

log = logging.getLogger(__name__)


class DriveByError(ValueError):
    """The photo or the clip parameters cannot make a clip; the message says which."""


@dataclass(frozen=True)
class DriveBy:
    """How the car passes: the window's path over the photo and the look of the clip."""

    seconds: float = 6.0
    fps: int = 25
    width: int = 1280
    height: int = 720
    start: float = 0.0  # window's left edge at the start, as a fraction of the free travel (0 = photo's left)
    end: float = 1.0  # ... at the end (1 = window touches the photo's right edge)
    window_height: float = 0.5  # window height as a fraction of the photo height
    top: float | None = None  # window's top as a fraction of the free vertical room; None = centred
    skew: float = 0.06  # perspective: the near edge is this fraction taller than the far one, swinging over
    shake_px: float = 1.5  # road shake amplitude, in output pixels
    crf: int = 23

    def check(self) -> None:
        if self.seconds <= 0 or self.fps <= 0:
            raise DriveByError(f"seconds and fps must be positive, got {self.seconds} s at {self.fps} fps")
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise DriveByError(f"output size must be even and at least 16x16, got {self.width}x{self.height}")
        if not (0 <= self.start <= 1 and 0 <= self.end <= 1):
            raise DriveByError(f"start and end are fractions 0..1, got {self.start} and {self.end}")
        if not 0 < self.window_height <= 1:
            raise DriveByError(f"window_height is a fraction 0..1, got {self.window_height}")
        if not 0 <= self.skew < 0.5:
            raise DriveByError(f"skew must be within 0..0.5, got {self.skew}")


def _window(photo_w: int, photo_h: int, spec: DriveBy) -> tuple[float, float]:
    """Window size (w, h) in photo pixels, with the output's aspect ratio, fitting the photo."""
    win_h = photo_h * spec.window_height
    win_w = win_h * spec.width / spec.height
    if win_w > photo_w:
        # A photo narrower than the output's aspect: the window is as wide as the photo (no horizontal travel).
        win_w = float(photo_w)
        win_h = win_w * spec.height / spec.width
    return win_w, win_h


def frame_count(spec: DriveBy) -> int:
    return max(1, round(spec.seconds * spec.fps))


def homography(photo_size: tuple[int, int], spec: DriveBy, index: int) -> npt.NDArray[np.float64]:
    """The 3x3 map from photo pixels to frame ``index``'s pixels (its inverse maps a detection back)."""
    pw, ph = photo_size
    win_w, win_h = _window(pw, ph, spec)
    free_x, free_y = pw - win_w, ph - win_h
    top = free_y / 2 if spec.top is None else free_y * spec.top
    n = frame_count(spec)
    t = index / (n - 1) if n > 1 else 0.0
    left = free_x * (spec.start + (spec.end - spec.start) * t)
    # The side of the window nearer the car looks taller; which side that is swings as the car passes.
    lean = spec.skew * (1 - 2 * t)
    shake = spec.shake_px * math.sin(2 * math.pi * 3.1 * t * spec.seconds) * win_h / spec.height
    y0 = top + shake
    dl, dr = max(lean, 0.0) * win_h / 2, max(-lean, 0.0) * win_h / 2
    src = np.array([
        [left, y0 + dr], [left + win_w, y0 + dl],
        [left + win_w, y0 + win_h - dl], [left, y0 + win_h - dr],
    ], dtype=np.float32)
    out_corners = np.array([[0, 0], [spec.width, 0], [spec.width, spec.height], [0, spec.height]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, out_corners), dtype=np.float64)


def frames(photo: npt.NDArray[np.uint8], spec: DriveBy) -> Iterator[npt.NDArray[np.uint8]]:
    """The clip's BGR frames, ``spec.width`` x ``spec.height``."""
    spec.check()
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.size == 0:
        raise DriveByError(f"photo must be a BGR image, got shape {photo.shape}")
    size = (photo.shape[1], photo.shape[0])
    for i in range(frame_count(spec)):
        matrix = homography(size, spec, i)
        yield np.asarray(cv2.warpPerspective(photo, matrix, (spec.width, spec.height), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def _read_photo(path: Path) -> npt.NDArray[np.uint8]:
    if not path.is_file():
        raise DriveByError(f"no such photo: {path} (nor is it a scene name: {', '.join(SCENES)})")
    image = cv2.imread(str(path))
    if image is None:
        raise DriveByError(f"cannot read a photo from {path} (missing or not an image)")
    return np.asarray(image, dtype=np.uint8)


def write_clip(photo: npt.NDArray[np.uint8] | Path | str, out: Path | str, spec: DriveBy | None = None) -> Path:
    """Encode the drive-by of ``photo`` (an image or its path) to an H.264 MP4 at ``out``; returns ``out``."""
    spec = spec or DriveBy()
    if not isinstance(photo, np.ndarray):
        photo = _read_photo(Path(photo))
    count = encode_clip(frames(photo, spec), out, spec.fps, spec.width, spec.height, spec.crf)
    log.info("drive-by clip %s: %d frames, %dx%d at %d fps", out, count, spec.width, spec.height, spec.fps)
    return Path(out)


def encode_clip(images: Iterable[npt.NDArray[np.uint8]], out: Path | str, fps: int, width: int, height: int,
                crf: int = 23) -> int:
    """Encode BGR ``images`` (each ``width`` x ``height``) to an H.264 MP4 at ``out``; returns the frame count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        # A keyframe every second and no B-frames, as IP cameras send: a reader can join the stream anywhere
        # and its decoder holds no frame back waiting for a later one. One slice per picture (no sliced threads,
        # PyAV's default): over RTSP a picture of two slices reaches a PyAV reader as two packets, decoded as
        # two half pictures, and the frames after a keyframe then lose their top half until the next one.
        stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(fps), "bf": "0",
                          "x264-params": "sliced-threads=0"}
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


def street_frames(video: Path, fps: int, width: int, height: int) -> Iterator[npt.NDArray[np.uint8]]:
    """``video`` played at ``fps`` (frames repeated or skipped by their timestamps), scaled to ``width`` x
    ``height``, over and over for ever; DriveByError when it holds no video frame."""
    while True:
        shown = 0
        try:
            with av.open(str(video)) as container:
                stream = container.streams.video[0]
                src_step = 1.0 / float(stream.average_rate or fps)
                first: float | None = None
                for frame in container.decode(stream):
                    t = float(frame.time) if frame.time is not None else shown / fps
                    first = t if first is None else first
                    image: npt.NDArray[np.uint8] | None = None
                    # Output frame n shows what the source shows at n / fps.
                    while shown / fps < t - first + src_step - 1e-9:
                        if image is None:
                            image = np.asarray(cv2.resize(frame.to_ndarray(format="bgr24"), (width, height),
                                                          interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
                        yield image
                        shown += 1
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            raise DriveByError(f"cannot read street footage from {video}: {exc}") from None
        if shown == 0:
            raise DriveByError(f"no video frames in {video}")


def write_lap_clip(photo: npt.NDArray[np.uint8], spec: DriveBy, street: Path, out: Path | str, frames_total: int,
                   pass_start: int) -> Path:
    """One lap of a patrol car as an H.264 MP4 of ``frames_total`` frames: ``street`` footage (looped, scaled to
    the drive-by's size) with the drive-by of ``photo`` set in from frame ``pass_start`` (``demo.lap``)."""
    spec.check()
    passing = frame_count(spec)
    if not 0 <= pass_start <= frames_total - passing:
        raise DriveByError(f"a {passing}-frame drive-by from frame {pass_start} does not fit {frames_total} frames")

    def lap() -> Iterator[npt.NDArray[np.uint8]]:
        road = street_frames(street, spec.fps, spec.width, spec.height)
        drive = frames(photo, spec)
        for n in range(frames_total):
            yield next(drive) if pass_start <= n < pass_start + passing else next(road)

    count = encode_clip(lap(), out, spec.fps, spec.width, spec.height, spec.crf)
    log.info("lap clip %s: %d frames (drive-by at frames %d-%d), %dx%d at %d fps", out, count, pass_start,
             pass_start + passing - 1, spec.width, spec.height, spec.fps)
    return Path(out)


def compose(parts: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    """Side by side, scaled to the first part's height: a longer street made of pieces of photos."""
    if not parts:
        raise DriveByError("compose needs at least one picture")
    h = parts[0].shape[0]
    scaled = [p if p.shape[0] == h else cv2.resize(p, (max(1, round(p.shape[1] * h / p.shape[0])), h))
              for p in parts]
    return np.asarray(np.hstack(scaled), dtype=np.uint8)


@dataclass(frozen=True)
class Scene:
    """A named drive-by made from pieces of one of the shared photos (rows y1:y2, columns x1:x2, mirrored?)."""

    photo: str  # file name in ../shared/images
    pieces: tuple[tuple[int, int, int, int, bool], ...]
    spec: DriveBy
    about: str


SCENES: dict[str, Scene] = {
    # One man sitting on a low wall, with empty plaza left and right of him (no one else in view).
    "park-sitter": Scene(
        "streetview_people_sitting_park.jpg",
        ((430, 700, 275, 400, False), (430, 700, 440, 640, False), (430, 700, 640, 735, False),
         (430, 700, 440, 600, True)),
        DriveBy(seconds=4.0, width=960, height=540, window_height=1.0),
        "one person sitting on a wall, passed from left to right",
    ),
    # The whole row of the park: ~8 people sitting on walls and chairs, 3-4 standing, tents behind.
    "park": Scene(
        "streetview_people_sitting_park.jpg",
        ((430, 700, 0, 1158, False),),
        DriveBy(seconds=8.0, width=1280, height=720, window_height=1.0),
        "a park plaza with people sitting on walls and chairs and a few standing",
    ),
}


def scene_photo(name: str, images_dir: Path) -> tuple[npt.NDArray[np.uint8], DriveBy]:
    """The composed picture of a named scene and its drive-by; DriveByError for unknown names."""
    if name not in SCENES:
        raise DriveByError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")
    scene = SCENES[name]
    path = images_dir / scene.photo
    image = cv2.imread(str(path))
    if image is None:
        raise DriveByError(f"scene {name!r} needs {path}, which cannot be read")
    parts = []
    for y1, y2, x1, x2, mirror in scene.pieces:
        piece = image[y1:y2, x1:x2]
        parts.append(np.asarray(cv2.flip(piece, 1) if mirror else piece, dtype=np.uint8))
    return compose(parts), scene.spec


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.driveby",
        description="Make a SYNTHETIC drive-by H.264 clip from a street photo (moving crop + perspective).",
    )
    parser.add_argument("photo", help=f"a photo file, or a scene name: {', '.join(SCENES)}")
    parser.add_argument("out", type=Path, help="output .mp4")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of the shared photos that scenes are made from (default ../shared/images)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--fps", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--start", type=float, default=None, help="window start, 0..1 of the travel")
    parser.add_argument("--end", type=float, default=None, help="window end, 0..1 of the travel")
    parser.add_argument("--window-height", type=float, default=None, help="window height as a fraction of the photo")
    parser.add_argument("--top", type=float, default=None, help="window top, 0..1 of the free room")
    parser.add_argument("--skew", type=float, default=None, help="perspective swing, 0..0.5")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    try:
        if args.photo in SCENES:
            photo, spec = scene_photo(args.photo, args.images or SHARED_DIR / "images")
        else:
            photo, spec = _read_photo(Path(args.photo)), DriveBy()
        given = {k: getattr(args, k) for k in ("seconds", "fps", "width", "height", "start", "end",
                                               "window_height", "top", "skew") if getattr(args, k) is not None}
        write_clip(photo, args.out, replace(spec, **given))
    except DriveByError as exc:
        sys.stderr.write(f"driveby: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
