"""The audit on a dataset full of broken and awkward files: it finishes, names every problem in
plain words, and leaves every byte of the dataset as it was."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loragate.dataset.audit import audit_dataset
from tests.media import textured, write_caption, write_image, write_video

TRIGGER = "mira"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(path: Path) -> None:
    """A tiny PNG whose header claims 100000 x 100000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def _caption(folder: Path, stem: str, text: str = f"{TRIGGER}, a woman standing in a garden") -> None:
    write_caption(folder / f"{stem}.txt", text)


def build_bad_dataset(root: Path) -> Path:
    ds = root / "bad dataset"
    ds.mkdir()
    # Good pictures, so the set is not empty, including unicode and spaces in names.
    for i, stem in enumerate(["good one", "zoë café", "普通"]):
        write_image(ds / f"{stem}.jpg", 512, 512, seed=i, quality=92)
        _caption(ds, stem)
    write_image(ds / "full.jpg", 512, 512, seed=10, quality=92)
    data = (ds / "full.jpg").read_bytes()
    (ds / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (ds / "full.jpg").unlink()
    write_image(ds / "full.png", 512, 512, seed=11)
    data = (ds / "full.png").read_bytes()
    (ds / "truncated.png").write_bytes(data[: len(data) // 2])
    (ds / "full.png").unlink()
    (ds / "zero.png").write_bytes(b"")
    (ds / "random.png").write_bytes(np.random.default_rng(1).bytes(4096))
    _bomb_png(ds / "bomb.png")
    textured(512, 512, 12).convert("CMYK").save(ds / "cmyk.jpg", quality=90)
    Image.fromarray((np.random.default_rng(2).random((512, 512)) * 65535).astype(np.uint16)).save(ds / "gray16.png")
    frames = [textured(256, 256, s).convert("P") for s in range(3)]
    frames[0].save(ds / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    rotated = textured(512, 384, 13)
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(ds / "rotated.jpg", exif=exif, quality=90)
    write_image(ds / "latin1.jpg", 512, 512, seed=14, quality=90)
    write_caption(ds / "latin1.txt", f"{TRIGGER}, une fille près du café", encoding="latin-1")
    write_image(ds / "locked.jpg", 512, 512, seed=15, quality=90)
    os.chmod(ds / "locked.jpg", 0)
    os.symlink(ds / "gone.jpg", ds / "broken link.jpg")
    os.symlink("loop", ds / "loop")  # a link to itself
    os.symlink(".", ds / "again")  # a folder link back into the dataset
    (ds / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(3).bytes(3000))
    for stem in ["truncated", "zero", "random", "bomb", "cmyk", "gray16", "rotated", "locked", "corrupt"]:
        _caption(ds, stem)
    return ds


def _hash_tree(folder: Path) -> dict[str, tuple[str, int]]:
    """Content hash and mode of every file; links by their target text."""
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            st = os.lstat(path)
            if path.is_symlink():
                out[rel] = ("link:" + os.readlink(path), st.st_mode)
            elif path.is_file():
                locked = not os.access(path, os.R_OK)
                if locked:
                    os.chmod(path, st.st_mode | 0o400)
                out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mode)
                if locked:
                    os.chmod(path, st.st_mode)
    return out


@pytest.fixture
def bad(workspace: Path, tmp_path: Path) -> Path:
    return build_bad_dataset(tmp_path)


def test_bad_input_finishes_names_each_problem_and_changes_nothing(bad: Path, workspace: Path) -> None:
    before = _hash_tree(bad)
    report = audit_dataset(bad, trigger=TRIGGER, model="sd15", training_type="character", name="bad")
    after = _hash_tree(bad)
    assert before == after, "the audit must not change a byte of the dataset"

    by_path: dict[str, set[str]] = {}
    for f in report.findings:
        by_path.setdefault(f.path or "", set()).add(f.code)
        assert f.message and f.fix, f"every finding says what and what to do: {f}"

    assert report.verdict == "NO-GO"
    assert "DS_TRUNCATED" in by_path["truncated.jpg"]
    assert "DS_TRUNCATED" in by_path["truncated.png"]
    cut = next(f for f in report.findings if f.code == "DS_TRUNCATED" and f.path == "truncated.jpg")
    assert cut.message == "'truncated.jpg' is cut off or damaged partway through (an incomplete download or copy)."
    assert "DS_ZERO_BYTE" in by_path["zero.png"]
    assert "DS_NOT_AN_IMAGE" in by_path["random.png"]
    assert "DS_TOO_LARGE" in by_path["bomb.png"]
    assert "DS_CMYK" in by_path["cmyk.jpg"]
    assert "DS_16BIT" in by_path["gray16.png"]
    assert "DS_UNSUPPORTED_FORMAT" in by_path["animated.gif"]
    assert "DS_EXIF_ROTATED" in by_path["rotated.jpg"]
    assert "DS_CAPTION_ENCODING" in by_path["latin1.txt"]
    assert "DS_BROKEN_SYMLINK" in by_path["broken link.jpg"]
    assert "DS_SYMLINK_LOOP" in by_path["loop"]
    assert "DS_SYMLINK_LOOP" in by_path["again"]
    assert "DS_VIDEO_UNREADABLE" in by_path["corrupt.mp4"]
    if not os.access(bad / "locked.jpg", os.R_OK):  # root reads anything
        assert "DS_UNREADABLE" in by_path["locked.jpg"]

    messages = {f.path: f.message for f in report.findings}
    assert "animated GIF (3 frames)" in messages["animated.gif"]
    assert "Latin-1" in messages["latin1.txt"]
    assert "empty file" in messages["zero.png"]
    assert "cut off or damaged" in messages["truncated.jpg"]

    # Good files with unicode and spaces in their names are read like any other.
    for good in ("good one.jpg", "zoë café.jpg", "普通.jpg"):
        assert not any(f.severity == "block" for f in report.findings if f.path == good)
    assert report.images >= 12
    # The record sits in the workspace, not in the dataset.
    assert (workspace / "grimoire/training/bad/dataset-report.md").is_file()
    assert not any(p.name.startswith("dataset-report") for p in bad.iterdir())


def test_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    from loragate.dataset.analyze import analyze_file

    _bomb_png(tmp_path / "bomb.png")
    result = analyze_file(str(tmp_path / "bomb.png"), "bomb.png")
    assert result.error == "DS_TOO_LARGE"
    assert result.pixels == 100_000 * 100_000
    assert result.scores == {}


def test_sixteen_bit_gray_is_scored_from_real_values(tmp_path: Path) -> None:
    from loragate.dataset.analyze import analyze_file

    ramp = np.tile(np.linspace(0, 65535, 512, dtype=np.uint16), (512, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    result = analyze_file(str(tmp_path / "ramp.png"), "ramp.png")
    assert result.bit_depth == 16
    # Pillow's own conversion would make this near white; a ramp is neither dark nor bright.
    assert 0.2 < result.scores["dark"] and result.scores["bright"] < 0.9


def test_video_and_image_with_same_stem_and_clean_files(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    write_image(ds / "a.jpg", 512, 512, seed=1)
    write_video(ds / "a.mp4", frames=33)
    _caption(ds, "a")
    report = audit_dataset(ds, trigger=TRIGGER)
    dup = [f for f in report.findings if f.code == "DS_CAPTION_DUPLICATE_STEM"]
    assert dup and dup[0].severity == "block" and set(dup[0].evidence["files"]) == {"a.jpg", "a.mp4"}
