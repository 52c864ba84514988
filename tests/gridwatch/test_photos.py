"""Uploaded photos are judged the same whether or not Ultralytics has patched Pillow in this process."""
from __future__ import annotations

import io

import pytest
from PIL import Image

import vision.yolo  # noqa: F401 - loads Ultralytics, which patches PIL.Image.open process-wide
from gridwatch.photos import PhotoError, check_photo


def test_a_file_that_is_no_image_is_a_clear_400_even_with_ultralytics_loaded() -> None:
    with pytest.raises(PhotoError) as refused:
        check_photo(b"this is a text file, not a photo" * 10)
    assert refused.value.status == 400


def test_a_real_png_passes_with_ultralytics_loaded() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "PNG")
    photo = check_photo(buf.getvalue())
    assert (photo.width, photo.height) == (64, 48)
