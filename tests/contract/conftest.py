"""Shared by the contract tests: the `checkouts` fixture: both real trainers' sources for this test session, or a skip saying how."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.realcode import HOW_TO, SCRIPTS, find_checkout


@pytest.fixture(scope="session")
def checkouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("real-trainers")
    found = {trainer: find_checkout(trainer, folder) for trainer in SCRIPTS}
    if not all(found.values()):
        pytest.skip(HOW_TO)
    return {trainer: path for trainer, path in found.items() if path}
