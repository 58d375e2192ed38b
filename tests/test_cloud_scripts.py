"""provider-spinup.sh / provider-teardown.sh with the workflow's names, against the stand-in RunPod."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud_fixtures import cloud_env, make_plan  # noqa: F401 - fixture
from tests.test_scripts import run


def test_spinup_states_the_cost_and_teardown_terminates(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    refused = run("provider-spinup.sh", "--provider", "modal", "--gpu", "H100", "--config", "mira", cwd=workspace)
    assert refused.returncode == 2 and "Modal has no machine" in refused.stderr
    up = run("provider-spinup.sh", "--provider", "RunPod", "--gpu", "A100 80GB", "--config", "mira", "--max-usd", "20", "--yes", cwd=workspace)
    assert up.returncode == 0, up.stderr + up.stdout
    assert "$1.64/hour" in up.stdout and "is running" in up.stdout and len(cloud_env["runpod"].state.instances) == 1
    down = run("provider-teardown.sh", "--config", "mira", cwd=workspace)
    assert down.returncode == 0, down.stderr + down.stdout
    assert "Terminated 1 of 1" in down.stdout and "Nothing loragate started is billing" in down.stderr
    assert "**TERMINATED**" in (workspace / "grimoire" / "studio.md").read_text()


def test_validate_without_an_instance_says_how_to_get_one(workspace: Path) -> None:
    make_plan(workspace)
    result = run("provider-validate.sh", "--config", "mira", cwd=workspace)
    assert result.returncode == 2 and "no cloud instance up" in result.stderr


pytestmark = pytest.mark.usefixtures("cloud_env")
