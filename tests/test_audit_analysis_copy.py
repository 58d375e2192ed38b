"""The audit scores large pictures on a cheap reduced copy (box reduce, then bilinear): a sharp and a
clearly blurred picture must still get their verdicts, in every format, and reducing cheaply must
not mean decoding less: damage at the very end of a large PNG or WebP is still found."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ImageFilter

from loragate.dataset.analyze import analyze_file
from loragate.dataset.image_checks import ANALYSIS_SIZE, quality_findings
from loragate.dataset.thresholds import load_thresholds
from tests.media import textured

SAVE = {"png": {}, "webp": {"quality": 90}, "jpg": {"quality": 92}}


def _codes(path: Path) -> set[str]:
    analysis = analyze_file(str(path), path.name)
    assert analysis.error is None
    return {f.code for f in quality_findings(analysis, load_thresholds().quality)}


@pytest.mark.parametrize("ext", list(SAVE))
def test_sharp_and_blurred_large_pictures_keep_their_verdicts(tmp_path: Path, ext: str) -> None:
    sharp = textured(2048, 1365, 3)
    # 8 px per 1024 of the long side: what an artist sees as out of focus at any training size.
    blurred = sharp.filter(ImageFilter.GaussianBlur(16))
    sharp.save(tmp_path / f"sharp.{ext}", **SAVE[ext])
    blurred.save(tmp_path / f"blurred.{ext}", **SAVE[ext])
    assert "DS_BLURRY" not in _codes(tmp_path / f"sharp.{ext}")
    assert "DS_BLURRY" in _codes(tmp_path / f"blurred.{ext}")


def test_scores_come_from_one_copy_of_the_analysis_size(tmp_path: Path) -> None:
    from loragate.dataset.analyze import analysis_copy

    img = textured(2100, 1400, 4)
    small = analysis_copy(img)
    assert small.size == (ANALYSIS_SIZE, round(1400 * ANALYSIS_SIZE / 2100))
    assert analysis_copy(small) is small  # already small: used as it is


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_damage_at_the_end_of_a_large_picture_is_found(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"cut.{ext}"
    textured(2048, 1536, 5).save(path, **SAVE[ext])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(data) // 200])  # the last half percent lost
    assert analyze_file(str(path), path.name).error == "DS_TRUNCATED"
