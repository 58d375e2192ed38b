"""The shipped data files are read through a schema each (unknown keys are errors) and checked
against each other; the MCP server refuses to start on inconsistent data."""

from __future__ import annotations

from typing import Any

import pytest

from loragate.catalog import integrity
from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError


def test_the_shipped_data_is_consistent() -> None:
    assert integrity.data_problems() == []


def _with(monkeypatch: pytest.MonkeyPatch, name: str, change: Any) -> None:
    def read(file: str) -> dict[str, Any]:
        data = read_data_toml(file)
        if file == name:
            change(data)
        return data

    monkeypatch.setattr(integrity, "read_data_toml", read)


def test_a_misspelt_key_names_the_file_and_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, "presets.toml", lambda d: d["level"]["musubi-dit"]["quick"].update(rnak=8))
    assert integrity.data_problems() == ["loragate/data/presets.toml: 'level.musubi-dit.quick.rnak' is not a known key (a typo?)"]


def test_a_value_out_of_bounds_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, "vram_constants.toml", lambda d: d["common"].update(allocator_overhead=0.5))
    [problem] = integrity.data_problems()
    assert problem.startswith("loragate/data/vram_constants.toml: 'common.allocator_overhead'")


def test_a_family_whose_script_has_no_flag_list_is_a_cross_file_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loragate.catalog.flags.known_scripts", lambda: ["train_network.py"])
    problems = integrity.data_problems()
    assert any("sdxl" in p and "'sdxl_train_network.py' has no flag list" in p for p in problems)
    with pytest.raises(LoragateError, match="inconsistent"):
        integrity.check_data()
