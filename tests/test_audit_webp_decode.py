"""Still WebPs are decoded through imagecodecs when it is installed, and with Pillow when it is not:
the artist must see the same audit either way, for intact pictures (same pixels, mode, EXIF
orientation, scores and signature) and for cut or damaged ones (refused with the same words)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loragate.dataset.analyze import analyze_file
from loragate.dataset.audit import audit_dataset
from loragate.imaging import decode_webp, open_image
from tests.media import textured

pytest.importorskip("imagecodecs")

EXIF_ROTATED = 6  # "rotate 90 degrees clockwise to view"


def _pictures(folder: Path) -> list[Path]:
    """A lossy photo with a rotation tag, a lossless one, and lossy and lossless ones with varied transparency."""
    photo = textured(1200, 800, 11)
    rgba = Image.fromarray(
        np.dstack([np.asarray(textured(640, 480, 12)), np.random.default_rng(3).integers(0, 256, (480, 640), np.uint8)]),
        "RGBA",
    )
    exif = Image.Exif()
    exif[0x0112] = EXIF_ROTATED
    made = {
        "photo.webp": (photo, {"quality": 88, "exif": exif.tobytes()}),
        "lossless.webp": (photo, {"lossless": True}),
        "alpha.webp": (rgba, {"quality": 85}),
        "alpha_lossless.webp": (rgba, {"lossless": True}),
        "small.webp": (textured(300, 200, 13), {"quality": 90}),  # already under the analysis size: used as decoded
    }
    for name, (img, options) in made.items():
        img.save(folder / name, **options)
    return [folder / name for name in made]


def _pillow_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The audit's result as an install without imagecodecs gives it."""
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "imagecodecs", None)  # import fails as if not installed
        return analyze_file(str(path), path.name).model_dump()


def test_intact_webps_give_the_same_pixels_and_results_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in _pictures(tmp_path):
        with path.open("rb") as handle:
            img = open_image(handle)
            fast = decode_webp(img, handle)
            img.load()
        assert fast is not None and fast.mode == {"RGB": "RGBX", "RGBA": "RGBA"}[img.mode], path.name
        assert np.array_equal(np.asarray(fast.convert(img.mode)), np.asarray(img)), path.name
        result = analyze_file(str(path), path.name).model_dump()
        assert result["error"] is None and result == _pillow_only(path, monkeypatch), path.name
    photo = analyze_file(str(tmp_path / "photo.webp"), "photo.webp")
    assert photo.exif_orientation == EXIF_ROTATED and (photo.width, photo.height) == (1200, 800)
    assert analyze_file(str(tmp_path / "alpha.webp"), "alpha.webp").alpha_used


def test_cut_and_damaged_webps_are_refused_in_the_same_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    refused = 0
    for path in _pictures(tmp_path):
        data = path.read_bytes()
        copies = [data[: int(len(data) * frac)] for frac in (0.2, 0.6, 0.9, 0.99, 0.999)] + [data[:-1]]
        for _ in range(6):
            damaged = bytearray(data)
            damaged[rng.randrange(12, len(data))] ^= 1 << rng.randrange(8)
            copies.append(bytes(damaged))
        for blob in copies:
            path.write_bytes(blob)
            result = analyze_file(str(path), path.name).model_dump()
            assert result == _pillow_only(path, monkeypatch)
            refused += result["error"] == "DS_TRUNCATED"
    assert refused >= 24  # every cut copy at least


def test_the_audit_tells_the_artist_a_cut_webp_is_damaged(workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    path = _pictures(folder)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(data) // 200])
    report = audit_dataset(folder, trigger="mira")
    cut = next(f for f in report.findings if f.code == "DS_TRUNCATED")
    assert cut.path == "photo.webp"
    assert cut.message == "'photo.webp' is cut off or damaged partway through (an incomplete download or copy)."
