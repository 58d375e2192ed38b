"""Near-duplicate groups hold only what an artist would call the same picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.lookalikes import build, score
from loragate.duplicates.find import find_duplicates


@pytest.mark.parametrize("seed", [0, 5])
def test_look_alikes_stay_apart_and_copies_are_found(tmp_path: Path, seed: int) -> None:
    # crops of the same photos (no two overlapping by half) and a painter's series on one background,
    # with re-encoded, resized, trimmed and brightened copies of every third picture
    truth = build(tmp_path / "set", photos=3, crops=10, series=3, paintings=6, copy_every=3, long_side=480, seed=seed)
    report = find_duplicates(tmp_path / "set")
    result = score(report.groups, truth)
    wrong = [g.paths for g in report.groups if len({truth[Path(p).name] for p in g.paths}) > 1]
    assert wrong == [], "a group holds different pictures"
    assert result["recall"] == 1.0 and result["groups"] == result["copies"]
