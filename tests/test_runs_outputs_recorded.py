"""runs/ finds a step's LoRA file and logs where the backend recorded them, not by reading flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.models import family_ids
from loragate.core.plan import Command
from loragate.plan.new import new_plan
from loragate.runs.checkpoint import final_checkpoint
from loragate.runs.job import ProcessRecord
from tests.plan_helpers import family_dataset


@pytest.mark.parametrize("family", family_ids())
def test_every_training_step_names_its_lora_and_logs(family: str, workspace: Path) -> None:
    data = family_dataset(family, workspace)
    plan = new_plan("mira", family, data, "mira", gpu_gb=80)
    names = [e.output_name for e in plan.experts] or [plan.output_name]
    trains = [c for c in plan.commands if c.stage == "train"]
    assert [c.output for c in trains] == [str(Path(plan.output_dir) / f"{n}.safetensors") for n in names]
    assert all(c.logs and c.logs.startswith(plan.output_dir) for c in trains)
    assert all(c.output is None for c in plan.commands if c.stage != "train")
    short = get_backend(plan.backend).commands(plan, max_train_steps=5, output_dir="/scratch/out")
    assert all(c.output and c.output.startswith("/scratch/out/") for c in short if c.stage == "train")


def test_the_recorded_file_wins_over_the_command_line() -> None:
    record = ProcessRecord(role="train", argv=["python", "x.py", "--output_dir", "/a", "--output_name", "b"],
                           output="/recorded/lora.safetensors", log="/l")
    assert final_checkpoint(record) == Path("/recorded/lora.safetensors")
    # a job written before outputs were recorded: the backend reads its command line
    old = Command(stage="train", argv=["python", "x.py", "--output_dir=/a", "--output_name", "b"])
    assert final_checkpoint(old) == Path("/a/b.safetensors")
    assert final_checkpoint(Command(stage="train", argv=["python", "x.py"])) is None
