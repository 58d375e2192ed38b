"""Shared fixtures: an isolated workspace per test, so no test touches another's grimoire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loragate.checks import install_strict_check

# Every Finding made in a test, in this process or a CLI it starts, must have a declared code
# (loragate/checks.py): an undeclared one fails the test that made it.
os.environ["LORAGATE_STRICT_CHECKS"] = "1"
install_strict_check()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace root; loragate writes grimoire/ under it."""
    root = tmp_path / "workspace"
    root.mkdir()
    monkeypatch.setenv("LORAGATE_ROOT", str(root))
    monkeypatch.setenv("LORAGATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.delenv("MUSUBI_TUNER_DIR", raising=False)
    monkeypatch.delenv("SD_SCRIPTS_DIR", raising=False)
    return root


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
