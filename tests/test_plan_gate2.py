"""Gate 2: generate_config writes the plan files, validates them, checks VRAM and records the verdict."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from loragate.gates.ledger import gate_status, read_ledger
from loragate.plan.gate2 import check_plan, generate_config
from loragate.plan.store import load_project_plan, plan_path
from tests.plan_helpers import flat_dataset, wan_dataset

FILES = {"plan.json", "dataset.toml", "commands.json", "train.sh", "config.md", "sample_prompts.txt"}


def _gate2_current(name: str) -> bool:
    return next(g for g in gate_status(name).gates if g.gate == 2).current


def test_sane_plan_is_go_and_recorded(workspace: Path) -> None:
    result = generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24)
    assert result.gate2.verdict == "GO", result.gate2.findings
    assert set(result.files) == FILES
    folder = workspace / "grimoire" / "training" / "mira"
    assert all(Path(p).parent == folder and Path(p).is_file() for p in result.files.values())
    record = read_ledger("mira").latest["config"]
    assert record.verdict == "GO" and record.subject == {"plan": str(plan_path("mira"))}
    assert _gate2_current("mira")
    commands = json.loads((folder / "commands.json").read_text())
    assert [c["argv"] for c in commands] == [c.argv for c in result.plan.commands]
    assert tomllib.loads((folder / "dataset.toml").read_text())["general"]["caption_extension"] == ".txt"
    config = (folder / "config.md").read_text()
    assert "## Gate 2 decision: GO" in config and "Estimated VRAM" in config
    assert "how much the LoRA can hold" in config  # values explained in plain words
    assert result.gate2.vram is not None and result.gate2.vram.estimate_gb * 1.2 <= 24


def test_vram_that_cannot_fit_is_no_go(workspace: Path) -> None:
    result = generate_config("big", "wan2.1-t2v-14b", wan_dataset(workspace), "mira", gpu_gb=8)
    gate = result.gate2
    assert gate.verdict == "NO-GO"
    assert "PLAN_VRAM_TOO_BIG" in {f.code for f in gate.findings if f.severity == "block"}
    # loragate already tried the memory options before giving up
    assert result.plan.memory.fp8_base and result.plan.memory.blocks_to_swap == 39
    assert read_ledger("big").latest["config"].blocking == ["PLAN_VRAM_TOO_BIG"]
    config = Path(gate.config_path).read_text()
    assert "## Gate 2 decision: NO-GO" in config and "PLAN_VRAM_TOO_BIG" in config and "8 GB" in config
    assert "PLAN_VRAM_TOO_BIG" not in gate.summary and "must be fixed first:" in gate.summary  # said in words


def test_config_md_explains_a_precision_that_differs_from_the_weights(workspace: Path) -> None:
    config = Path(generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24).gate2.config_path)
    text = config.read_text()
    assert "bf16, matching how the model's weights were released (fp16)" not in text
    assert "although the weights were released in fp16" in text
    wan = Path(generate_config("wan", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24).gate2.config_path)
    assert "the same precision the model's weights were released in" in wan.read_text()


def test_unknown_gpu_warns_and_studio_gpu_is_used(workspace: Path) -> None:
    data = flat_dataset(workspace)
    gate = generate_config("mira", "sd15", data, "mira").gate2
    assert gate.verdict == "GO" and "PLAN_GPU_UNKNOWN" in {f.code for f in gate.findings if f.severity == "warn"}
    (workspace / "grimoire" / "studio.md").write_text("# Studio\ngpu: RTX 4060 Ti 16 GB\n")
    gate = check_plan("mira")
    assert gate.gpu_gb == 16 and "studio.md" in (gate.gpu_source or "")
    assert "PLAN_GPU_UNKNOWN" not in {f.code for f in gate.findings}


def test_editing_the_plan_makes_gate2_stale_until_rechecked(workspace: Path) -> None:
    generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24)
    assert _gate2_current("mira")
    path = plan_path("mira")
    data = json.loads(path.read_text())
    data["optimizer"]["learning_rate"] = 5e-5
    path.write_text(json.dumps(data, indent=2))
    assert not _gate2_current("mira")
    gate = check_plan("mira")
    assert gate.verdict == "GO" and _gate2_current("mira")
    train = load_project_plan("mira").commands[-1].argv
    assert train[train.index("--learning_rate") + 1] == "5e-05"
    assert "--learning_rate 5e-05" in (workspace / "grimoire" / "training" / "mira" / "train.sh").read_text()


def test_hand_edit_the_validator_rejects_is_no_go(workspace: Path) -> None:
    generate_config("w22", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80)
    path = plan_path("w22")
    data = json.loads(path.read_text())
    data["memory"]["mixed_precision"] = "bf16"  # the Wan 2.2 release is fp16: the trainer would refuse it
    path.write_text(json.dumps(data))
    gate = check_plan("w22")
    assert gate.verdict == "NO-GO"
    assert any(f.severity == "block" for f in gate.findings)


def test_plan_missing_a_weights_path_is_no_go_not_a_crash(workspace: Path) -> None:
    generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24)
    path = plan_path("mira")
    data = json.loads(path.read_text())
    data["weights"]["base_model"] = None
    path.write_text(json.dumps(data))
    gate = check_plan("mira")
    assert gate.verdict == "NO-GO" and "PLAN_INCOMPLETE" in {f.code for f in gate.findings}


def test_train_sh_is_valid_bash_and_runs_experts_together(workspace: Path) -> None:
    result = generate_config("w22", "wan2.2-i2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, experts_together=True)
    script = Path(result.files["train.sh"]).read_text()
    assert subprocess.run(["bash", "-n", result.files["train.sh"]], capture_output=True).returncode == 0
    assert "set -euo pipefail" in script and f"cd {result.plan.trainer_dir}" in script
    assert script.count(" &\n") == 2 and 'wait "$pid_high"' in script and 'wait "$pid_low"' in script
    assert result.gate2.runs_at_once == 2
    apart = generate_config("w22b", "wan2.2-i2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, experts_together=False)
    assert " &\n" not in Path(apart.files["train.sh"]).read_text()


def test_same_inputs_same_commands(workspace: Path) -> None:
    data = wan_dataset(workspace)
    first = generate_config("mira", "wan2.1-i2v-14b", data, "mira", gpu_gb=24).plan.commands
    second = generate_config("mira", "wan2.1-i2v-14b", data, "mira", gpu_gb=24, replace=True).plan.commands
    assert [c.argv for c in first] == [c.argv for c in second]


def test_an_existing_plan_is_replaced_only_when_asked_and_kept(workspace: Path) -> None:
    from loragate.core.errors import LoragateError

    data = wan_dataset(workspace)
    first = generate_config("mira", "wan2.1-i2v-14b", data, "mira", gpu_gb=24)
    saved = Path(first.files["plan.json"]).read_text()
    with pytest.raises(LoragateError) as refused:
        generate_config("mira", "wan2.1-t2v-1.3b", data, "nova", gpu_gb=24)
    message = refused.value.message
    assert "already has a plan (wan2.1-i2v-14b, trigger 'mira'" in message
    assert "model 'wan2.1-i2v-14b' -> 'wan2.1-t2v-1.3b'" in message and "trigger 'mira' -> 'nova'" in message
    assert "--replace" in (refused.value.fix or "")
    assert Path(first.files["plan.json"]).read_text() == saved  # nothing lost
    second = generate_config("mira", "wan2.1-t2v-1.3b", data, "nova", gpu_gb=24, replace=True)
    assert second.plan.model == "wan2.1-t2v-1.3b" and second.previous_plan
    assert Path(second.previous_plan).read_text() == saved and Path(second.previous_plan).name == "plan-v1.json"
    assert "trigger 'mira' -> 'nova'" in (second.replaced or "")
    third = generate_config("mira", "wan2.1-t2v-1.3b", data, "nova", gpu_gb=24, replace=True)
    assert Path(third.previous_plan or "").name == "plan-v2.json" and third.replaced is None


def test_plan_new_over_an_existing_plan_exits_2_without_replace(workspace: Path) -> None:
    from typer.testing import CliRunner

    from loragate.cli import app

    data = str(wan_dataset(workspace))
    args = ["plan", "new", "mira", "--model", "wan2.1-t2v-1.3b", "--dataset", data, "--trigger", "mira", "--gpu-gb", "24"]
    assert CliRunner().invoke(app, args).exit_code in (0, 1)
    again = CliRunner().invoke(app, [*args[:-4], "--trigger", "nova", "--gpu-gb", "24"])
    assert again.exit_code == 2 and "already has a plan" in again.output and "--replace" in again.output
    replaced = CliRunner().invoke(app, [*args, "--replace"], env={"COLUMNS": "80"})
    assert replaced.exit_code in (0, 1) and "Replaced the earlier plan" in replaced.output
    assert "plan-history/plan-v" in replaced.output.replace("\n", "")


@pytest.mark.parametrize("name", ["../x", "a/b", "x y"])
def test_check_refuses_hostile_names(name: str, workspace: Path) -> None:
    from loragate.core.errors import LoragateError

    with pytest.raises(LoragateError):
        check_plan(name)
