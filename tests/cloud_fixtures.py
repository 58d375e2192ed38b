"""Plans made for a pod or for Modal, and the provider stand-ins wired in through the same
variables the official clients read (RUNPOD_API_BASE_URL, VAST_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from tests.fakes.cloud_api import FakeCloud
from tests.media import write_caption, write_image

RUNPOD_KEY = "rp-test-key-8c1f2e77"
VAST_KEY = "vast-test-key-4be09d31"


def make_plan(workspace: Path, name: str = "mira", model: str = "sdxl", platform: str = "runpod", images: int = 4) -> Path:
    folder = workspace / "datasets" / name
    for i in range(images):
        write_image(folder / f"{name}{i:02d}.png", 256, 256, seed=i)
        write_caption(folder / f"{name}{i:02d}.txt", f"{name}, a portrait, picture {i}")
    args = ["plan", "new", name, "--model", model, "--dataset", str(folder), "--trigger", name, "--platform", platform, "--gpu-gb", "80"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    return folder


@pytest.fixture
def cloud_env(workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, FakeCloud]]:
    """Both provider stand-ins running, their keys in the environment, HOME emptied of real config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CONTAINER_API_KEY", raising=False)
    monkeypatch.setenv("RUNPOD_API_KEY", RUNPOD_KEY)
    monkeypatch.setenv("VAST_API_KEY", VAST_KEY)
    with FakeCloud("runpod", RUNPOD_KEY) as runpod, FakeCloud("vast", VAST_KEY) as vast:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", runpod.url)
        monkeypatch.setenv("VAST_URL", vast.url)
        yield {"runpod": runpod, "vast": vast}
