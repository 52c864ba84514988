"""Chinese (any UTF-8) text on BGR numpy images, where OpenCV's putText can only print '?'.

Glyphs come from Debian's fonts-noto-cjk (Noto Sans CJK SC), rendered by Pillow into a small 8-bit mask
that is blended into the frame in place -- the frame is never converted as a whole, and masks of repeated
labels are cached, so a few labels per frame cost well under a millisecond each.

    from gridwatch import textdraw
    textdraw.draw_label(frame, "占道经营 #7 0.91", (x1, y1), size=22, bg=(0, 0, 255))
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

FONT_DIRS: tuple[Path, ...] = (Path("/usr/share/fonts"),)
# Preferred files, by path under a font folder: Debian's fonts-noto-cjk first, then other CJK families.
_CANDIDATES: dict[bool, tuple[str, ...]] = {
    False: (
        "opentype/noto/NotoSansCJK-Regular.ttc",
        "opentype/noto/NotoSansCJKsc-Regular.otf",
        "truetype/noto/NotoSansCJK-Regular.ttc",
        "truetype/wqy/wqy-microhei.ttc",
        "truetype/wqy/wqy-zenhei.ttc",
    ),
    True: (
        "opentype/noto/NotoSansCJK-Bold.ttc",
        "opentype/noto/NotoSansCJKsc-Bold.otf",
        "truetype/noto/NotoSansCJK-Bold.ttc",
        "truetype/wqy/wqy-microhei.ttc",
        "truetype/wqy/wqy-zenhei.ttc",
    ),
}
_GLOBS = ("**/NotoSansCJK*.tt[cf]", "**/NotoSansCJK*.otf", "**/NotoSansSC*.[ot]tf", "**/wqy-*.tt[cf]")
# In a .ttc the faces differ in which regional glyph forms they use; the simplified-Chinese face is wanted.
_PREFERRED_FAMILY = "Noto Sans CJK SC"
_MAX_FACES = 16

Colour = tuple[int, int, int]  # BGR, as OpenCV


class FontNotFoundError(FileNotFoundError):
    """No CJK font is installed where GridWatch looks for one."""


@functools.cache
def find_cjk_font(bold: bool = False, search_dirs: Sequence[Path] = FONT_DIRS) -> Path:
    """The CJK font file to draw with; FontNotFoundError naming the package to install otherwise."""
    dirs = [Path(d) for d in search_dirs]
    for d in dirs:
        for rel in _CANDIDATES[bold]:
            if (d / rel).is_file():
                return d / rel
    for d in dirs:
        for pattern in _GLOBS:
            found = sorted(p for p in d.glob(pattern) if p.is_file() and ("Bold" in p.name) == bold)
            found = found or sorted(p for p in d.glob(pattern) if p.is_file())
            if found:
                return found[0]
    raise FontNotFoundError(
        f"no CJK font found under {', '.join(str(d) for d in dirs)}: Chinese labels cannot be drawn; "
        "install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk, done by scripts/bootstrap.sh)"
    )


@functools.cache
def _face_index(path: Path) -> int:
    """Index of the simplified-Chinese face in a font collection (0 for a single font)."""
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(_MAX_FACES):
        try:
            family, _style = ImageFont.truetype(str(path), 12, index=index).getname()
        except OSError:
            break
        if family == _PREFERRED_FAMILY:
            return index
    return 0


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` pixels (cached: loading a 20 MB collection takes tens of milliseconds)."""
    if size < 1:
        raise ValueError(f"font size must be at least 1 pixel, got {size}")
    path = find_cjk_font(bold)
    face = ImageFont.truetype(str(path), size, index=_face_index(path))
    log.debug("loaded CJK font %s (face %s) at %d px", path, face.getname(), size)
    return face


@functools.lru_cache(maxsize=1024)
def _mask(text: str, size: int, bold: bool) -> tuple[npt.NDArray[np.uint8], int]:
    """The text's coverage (0-255) as a tight HxW mask, and its baseline offset from the line top."""
    f = font(size, bold)
    ascent, descent = f.getmetrics()
    width = max(1, int(np.ceil(f.getlength(text))))
    img = Image.new("L", (width, ascent + descent), 0)
    ImageDraw.Draw(img).text((0, 0), text, font=f, fill=255)
    arr = np.asarray(img, dtype=np.uint8)
    arr.setflags(write=False)  # shared by the cache
    return arr, ascent


def text_size(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``size``: the line box, ascent + descent."""
    mask, _ = _mask(text, size, bold)
    return mask.shape[1], mask.shape[0]


def _check_image(image: npt.NDArray[np.uint8]) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"text can be drawn on a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")


def draw_text(
    image: npt.NDArray[np.uint8],
    text: str,
    org: tuple[int, int],
    size: int = 20,
    colour: Colour = (255, 255, 255),
    bold: bool = False,
) -> npt.NDArray[np.uint8]:
    """Draw ``text`` with its line box's top-left corner at ``org`` (x, y), in place, clipped to the image.

    Unlike cv2.putText, ``org`` is the top-left, not the baseline. Returns ``image`` for chaining.
    """
    _check_image(image)
    if not text:
        return image
    mask, _ = _mask(text, size, bold)
    h, w = mask.shape
    x, y = int(org[0]), int(org[1])
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, image.shape[1]), min(y + h, image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return image
    alpha = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)[..., None] / 255.0
    region = image[y0:y1, x0:x1].astype(np.float32)
    ink = np.asarray(colour, dtype=np.float32)
    image[y0:y1, x0:x1] = (region + (ink - region) * alpha + 0.5).astype(np.uint8)
    return image


def draw_label(
    image: npt.NDArray[np.uint8],
    text: str,
    anchor: tuple[int, int],
    size: int = 20,
    bg: Colour = (0, 0, 255),
    colour: Colour = (255, 255, 255),
    pad: int = 2,
    bold: bool = False,
) -> tuple[int, int, int, int]:
    """A filled label box with ``text``, sitting on top of a detection box whose top-left is ``anchor``
    (inside the box when there is no room above). Draws in place; returns the label's (x1, y1, x2, y2)."""
    _check_image(image)
    w, h = text_size(text, size, bold)
    x, y = int(anchor[0]), int(anchor[1])
    box_h = h + 2 * pad
    top = y - box_h if y - box_h >= 0 else y
    x = min(max(x, 0), max(0, image.shape[1] - (w + 2 * pad)))
    x2, y2 = x + w + 2 * pad, top + box_h
    image[max(top, 0):max(min(y2, image.shape[0]), 0), x:min(x2, image.shape[1])] = bg
    draw_text(image, text, (x + pad, top + pad), size, colour, bold)
    return x, top, x2, y2


def label_size_for(image_shape: Sequence[int]) -> int:
    """A label font size that reads on this frame: about 2.2 % of its mean side, at least 12 px."""
    h, w = int(image_shape[0]), int(image_shape[1])
    return max(12, round((h + w) / 2 * 0.022))
