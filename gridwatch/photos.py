"""Photos people upload (a grid's 'handled' photo, a crew's or a phone's report): one check, one limit, one saver.

``check_photo(data)`` reads only the image's header (Pillow's ``Image.open`` decodes no pixels), so a
decompression bomb (a small PNG or JPEG that would decode to gigapixels) is refused before anything decodes it.
The bytes are kept as sent (evidence); nothing re-encodes them.

``stored_when_accepted(media_dir, rel, photo)`` writes the photo under a hidden temporary name, lets the caller
run the action that needs it, and gives the file its real name only when the action went through: a refused
action (wrong state, out of scope, a bad position) leaves no file behind, and no reader ever sees half a photo.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import io
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # a phone's full-size JPEG; patrol.crew.MAX_PHOTO_BYTES (8 MiB) fits
# 50 megapixels: any phone or patrol camera's photo (8160 x 6120), while the decoded bitmap stays ~150 MB.
MAX_PHOTO_PIXELS = 50_000_000
# Pillow's format names -> the file's extension.
KINDS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class PhotoError(ValueError):
    """A photo refused; ``status`` is the HTTP answer it deserves (413 too large, 400 not a usable image).

    The message describes the photo without naming it ("not a JPEG, PNG or WebP image"): callers prefix it."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # "too_large", "too_many_pixels", "not_an_image", "damaged"


@dataclass(frozen=True, slots=True)
class Photo:
    data: bytes
    ext: str  # jpg, png or webp
    width: int
    height: int


def base64_size(n_bytes: int) -> int:
    """How many characters ``n_bytes`` take as base64 (request bodies carrying a photo must allow this)."""
    return (n_bytes + 2) // 3 * 4


def check_photo(data: bytes, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS) -> Photo:
    """A JPEG, PNG or WebP within the limits, judged from its header; PhotoError otherwise."""
    if len(data) > max_bytes:
        raise PhotoError(413, "too_large", f"{len(data)} bytes; at most {max_bytes} ({max_bytes // 2**20} MiB)")
    if not data:
        raise PhotoError(400, "not_an_image", "empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (or raises) about big images only at its own limit; ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(KINDS)) as img:
                kind, (width, height) = img.format, img.size
                if kind in KINDS and width * height <= max_pixels:
                    img.verify()  # structure and checksums, without decoding the picture
    except Image.DecompressionBombError:
        raise PhotoError(413, "too_many_pixels", f"over {max_pixels // 1_000_000} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError):
        # ImportError: Ultralytics patches Image.open process-wide to install pi-heif on an unidentified file;
        # offline that raises ModuleNotFoundError, which for an upload only means "not one of our kinds".
        raise PhotoError(400, "not_an_image", "not a JPEG, PNG or WebP image") from None
    if kind not in KINDS:
        raise PhotoError(400, "not_an_image", f"not a JPEG, PNG or WebP image ({kind})")
    if width * height > max_pixels:
        raise PhotoError(413, "too_many_pixels", f"{width} x {height} pixels; at most "
                         f"{max_pixels // 1_000_000} megapixels")
    return Photo(data, KINDS[str(kind)], width, height)


def decode_base64(text: str, max_bytes: int = MAX_PHOTO_BYTES) -> bytes:
    """Base64 text as bytes; PhotoError for damaged text or one too long to hold a photo of ``max_bytes``."""
    if len(text) > base64_size(max_bytes) + 4:
        raise PhotoError(413, "too_large", f"over {max_bytes} bytes ({max_bytes // 2**20} MiB)")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoError(400, "damaged", "not valid base64") from None


def photo_relpath(folder: str, name: str, at_day: str, photo: Photo) -> str:
    """``<folder>/YYYY/MM/DD/<name>.<ext>`` relative to the media folder (``at_day`` is ``YYYY/MM/DD``)."""
    return f"{folder}/{at_day}/{name}.{photo.ext}"


@contextlib.contextmanager
def stored_when_accepted(media_dir: Path, rel: str, photo: Photo) -> Iterator[str]:
    """Yields ``rel``; the photo is at ``media_dir/rel`` only if the block ends without an exception."""
    path = media_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    tmp.write_bytes(photo.data)
    try:
        yield rel
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)  # a resend of the same report rewrites the same file atomically
