"""The audit's score thresholds are data, and a project can set its own: an artist whose set is
dark on purpose raises the bar for one project without touching loragate."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.catalog.integrity import data_problems
from loragate.dataset.audit import audit_dataset
from loragate.dataset.thresholds import load_thresholds, thresholds_path
from loragate.core.errors import LoragateError
from loragate.gates.ledger import gate_status
from tests.media import textured
from tests.test_audit_dataset import codes, make_set


def _dark_set(root: Path) -> Path:
    ds = root / "ds"
    make_set(ds, 4)
    textured(512, 512, 42).point(lambda v: v // 8).save(ds / "night.png")
    (ds / "night.txt").write_text("mira, a portrait at night", encoding="utf-8")
    return ds


def test_a_project_threshold_changes_what_is_flagged_and_gate_1_follows_it(workspace: Path) -> None:
    ds = _dark_set(workspace)
    assert "DS_DARK" in codes(audit_dataset(ds, trigger="mira", model="sd15", name="noir"), "night.png")
    path = thresholds_path("noir")
    path.write_text("[quality]\ndark = 0.02\n", encoding="utf-8")
    assert gate_status("noir").gates[0].problem == (
        "Gate 1 (dataset) is stale: the project's audit thresholds (thresholds.toml) changed after it was checked.")
    report = audit_dataset(ds, trigger="mira", model="sd15", name="noir")
    assert "DS_DARK" not in codes(report, "night.png")
    assert gate_status("noir").gates[0].current
    # another project keeps the shipped thresholds
    assert "DS_DARK" in codes(audit_dataset(ds, trigger="mira", model="sd15", name="other"), "night.png")


def test_a_misspelt_threshold_is_an_error_naming_it(workspace: Path) -> None:
    folder = workspace / "grimoire" / "training" / "noir"
    folder.mkdir(parents=True)
    (folder / "thresholds.toml").write_text("[quality]\ndrak = 0.05\n", encoding="utf-8")
    with pytest.raises(LoragateError, match="'quality.drak' is not a threshold loragate has"):
        load_thresholds("noir")
    (folder / "thresholds.toml").write_text("[quality]\ndark = 5\n", encoding="utf-8")
    with pytest.raises(LoragateError, match="'quality.dark' is wrong"):
        load_thresholds("noir")


def test_the_shipped_thresholds_are_part_of_the_checked_data() -> None:
    assert load_thresholds(None).quality.dark == 0.2
    assert data_problems() == []
