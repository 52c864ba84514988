"""Chinese labels on frames: real CJK glyphs where OpenCV's putText prints '?', from Debian's Noto CJK font."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gridwatch import textdraw

LABEL = "占道经营"  # a category name as the wall and the snapshots show it


def _canvas() -> npt.NDArray[np.uint8]:
    return np.zeros((80, 260, 3), dtype=np.uint8)


def _ink(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.asarray(img.max(axis=2) > 96)


def _putText(text: str) -> npt.NDArray[np.uint8]:  # noqa: N802 - named after what it shows
    img = _canvas()
    cv2.putText(img, text, (4, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def _runs(ink: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.bool_]]:
    """The marks of a line of separate glyphs: runs of inked columns, each cropped to its ink."""
    cols = ink.any(axis=0).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], cols, [0]))))
    return [ink[:, a:b][ink[:, a:b].any(axis=1)] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _cells(ink: npt.NDArray[np.bool_], x0: int, pitch: int, n: int) -> list[npt.NDArray[np.bool_]]:
    """Full-width CJK characters each fill one square cell of ``pitch`` pixels."""
    return [ink[:, x0 + i * pitch:x0 + (i + 1) * pitch] for i in range(n)]


def test_chinese_is_drawn_as_four_different_glyphs_where_putText_prints_question_marks() -> None:
    # OpenCV 4's Hershey fonts have no CJK glyphs, so labels reach putText as ASCII (vision.annotate does
    # that) and every character comes out as '?'. OpenCV 5's putText brings a font of its own; textdraw
    # draws with the wall's Noto CJK face whatever the OpenCV version.
    ascii_label = LABEL.encode("ascii", "replace").decode("ascii")
    assert ascii_label == "????"
    opencv = _ink(_putText(ascii_label))
    marks = _runs(opencv)
    assert len(marks) == 4 and all(np.array_equal(marks[0], m) for m in marks)  # four identical '?'

    ours = _ink(textdraw.draw_text(_canvas(), LABEL, (4, 10), size=44))
    assert ours.sum() > 2 * opencv.sum()  # four dense Han characters, not four thin question marks
    # Ink where putText printed its question marks: the characters stand where the label belongs.
    assert ours[:, opencv.any(axis=0)].sum() > 0.3 * ours.sum()
    glyphs = _cells(ours, 4, 44, 4)
    assert all(g.sum() > 200 for g in glyphs)
    for i in range(4):
        for j in range(i + 1, 4):
            assert (glyphs[i] != glyphs[j]).mean() > 0.05, f"characters {i} and {j} look alike (boxes?)"
    # ... and it is not what the font draws for "????" either.
    assert not np.array_equal(ours, _ink(textdraw.draw_text(_canvas(), "????", (4, 10), size=44)))


def test_label_box_sits_on_the_detection_and_carries_the_text() -> None:
    img = np.full((200, 300, 3), 40, dtype=np.uint8)
    x1, y1, x2, y2 = textdraw.draw_label(img, "流浪乞讨 #7 0.83", (50, 100), size=20, bg=(0, 0, 255))
    assert y2 == 100 and x1 == 50  # above the box's top-left corner
    label = img[y1:y2, x1:x2]
    red = np.all(label == (0, 0, 255), axis=2)
    white = label.min(axis=2) > 200
    assert red.mean() > 0.5 and white.sum() > 50  # red box, white text on it
    assert np.all(img[y2 + 1:, :] == 40)  # nothing drawn below the label's bottom edge

    top = np.full((200, 300, 3), 40, dtype=np.uint8)
    _, ty1, _, _ = textdraw.draw_label(top, "摊位", (10, 3), size=20)
    assert ty1 == 3  # no room above: inside the box instead


def test_text_is_clipped_at_the_frame_edge_instead_of_failing() -> None:
    img = np.zeros((30, 40, 3), dtype=np.uint8)
    textdraw.draw_text(img, "无照经营游商", (20, 10), size=24)
    textdraw.draw_text(img, "无照经营游商", (-500, -500), size=24)  # wholly outside: nothing, no error
    assert _ink(img)[:, 20:].any() and not _ink(img)[:, :20].any()


def test_fonts_are_loaded_once_and_the_simplified_chinese_face_is_used() -> None:
    assert textdraw.font(22) is textdraw.font(22)
    assert textdraw.font(22).getname()[0] == "Noto Sans CJK SC"
    assert textdraw.find_cjk_font().name.startswith("NotoSansCJK")


def test_a_missing_cjk_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(textdraw.FontNotFoundError, match="fonts-noto-cjk"):
        textdraw.find_cjk_font(False, (tmp_path,))


def test_only_bgr_images_are_accepted() -> None:
    with pytest.raises(ValueError, match=r"BGR uint8 image \(H, W, 3\)"):
        textdraw.draw_text(np.zeros((10, 10), dtype=np.uint8), "网格", (0, 0))
