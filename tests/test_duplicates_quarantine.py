"""Quarantine moves files aside with their captions and undo restores the exact bytes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from loragate.duplicates.quarantine import quarantine
from loragate.core.errors import LoragateError
from tests.media import write_caption, write_image


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime_ns) of every file outside _quarantine."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("_quarantine"):
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    write_image(root / "a.png", 64, 64, 1)
    write_caption(root / "a.txt", "mira, portrait")
    write_image(root / "Images" / "b copy é.jpg", 64, 64, 2)
    write_caption(root / "Images" / "b copy é.txt", "mira, smiling")
    write_image(root / "c.webp", 64, 64, 3)
    return root


def test_round_trip_restores_bytes_and_places(dataset: Path) -> None:
    before = _tree(dataset)
    result = quarantine(dataset, ["a.png", "Images/b copy é.jpg"])
    assert sorted(e.original for e in result.moved) == ["Images/b copy é.jpg", "Images/b copy é.txt", "a.png", "a.txt"]
    assert set(_tree(dataset)) == {"c.webp"}
    assert (dataset / "_quarantine" / "Images" / "b copy é.jpg").is_file()
    manifest = json.loads((dataset / "_quarantine" / "manifest.json").read_text())
    entry = next(e for e in manifest["entries"] if e["original"] == "a.png")
    assert entry["sha256"] == before["a.png"][0] and entry["size"] == (dataset / "_quarantine/a.png").stat().st_size

    undone = quarantine(dataset, [], undo=True)
    assert len(undone.moved) == 4 and not undone.skipped
    assert _tree(dataset) == before
    assert json.loads((dataset / "_quarantine" / "manifest.json").read_text())["entries"] == []


def test_undo_of_one_file_brings_its_caption_back(dataset: Path) -> None:
    quarantine(dataset, ["a.png", "c.webp"])
    undone = quarantine(dataset, ["a.png"], undo=True)
    assert sorted(e.original for e in undone.moved) == ["a.png", "a.txt"]
    assert (dataset / "a.txt").exists() and not (dataset / "c.webp").exists()


def test_never_overwrites(dataset: Path) -> None:
    first = (dataset / "c.webp").read_bytes()
    quarantine(dataset, ["c.webp"])
    write_image(dataset / "c.webp", 32, 32, 9)  # a new file took the name
    newer = (dataset / "c.webp").read_bytes()
    quarantine(dataset, ["c.webp"])  # quarantined again: must not replace the first copy
    assert (dataset / "_quarantine" / "c.webp").read_bytes() == first
    assert (dataset / "_quarantine" / "c.2.webp").read_bytes() == newer
    write_image(dataset / "c.webp", 16, 16, 5)
    undone = quarantine(dataset, ["c.webp"], undo=True)
    assert undone.moved == [] and "exists again" in undone.skipped["c.webp"]
    assert (dataset / "_quarantine" / "c.webp").read_bytes() == first


@pytest.mark.parametrize("hostile", ["../outside.png", "/etc/passwd", "link_out/x.png", "Images/../../outside.png", ""])
def test_paths_outside_the_dataset_are_refused(dataset: Path, hostile: str) -> None:
    outside = dataset.parent / "outside.png"
    write_image(outside, 8, 8, 0)
    os.symlink(dataset.parent, dataset / "link_out")
    write_image(dataset.parent / "x.png", 8, 8, 0)
    before = _tree(dataset.parent)
    with pytest.raises(LoragateError):
        quarantine(dataset, [hostile])
    assert _tree(dataset.parent) == before


def test_links_and_quarantined_paths_are_left_alone(dataset: Path) -> None:
    os.symlink(dataset / "a.png", dataset / "alias.png")
    quarantine(dataset, ["c.webp"])
    result = quarantine(dataset, ["alias.png", "_quarantine/c.webp", "missing.png"])
    assert result.moved == []
    assert set(result.skipped) == {"alias.png", "_quarantine/c.webp", "missing.png"}
    assert "no such file" in result.skipped["missing.png"] and "link" in result.skipped["alias.png"]
