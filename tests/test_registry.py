"""loragate register / loras: the evaluated LoRA into studio.md, idempotent, the artist's text kept."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from typer.testing import CliRunner

from loragate.cli import app
from loragate.core.errors import GatesNotPassed
from loragate.evaluate.run import EvalRequest, evaluate
from loragate.gates.ledger import gate_status
from loragate.registry.register import list_loras, register_lora
from tests.eval_helpers import trained_project, write_lora
from tests.fakes.comfyui import FakeComfy

TEMPLATE = Path(__file__).resolve().parents[1] / "grimoire" / "studio.md"


def _evaluated(workspace: Path):
    plan = trained_project(workspace)
    (workspace / "grimoire").mkdir(exist_ok=True)
    shutil.copy(TEMPLATE, workspace / "grimoire" / "studio.md")
    loras = workspace / "comfy"
    loras.mkdir()
    for lora in Path(plan.output_dir).glob("*.safetensors"):
        (loras / lora.name).symlink_to(lora)
    with FakeComfy(loras, {"checkpoints": ["base.safetensors"]}) as comfy:
        evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=2, weights=[0.5, 1.0]))
    return plan


def test_register_writes_the_entry_once_and_keeps_the_artists_lines(workspace: Path) -> None:
    plan = _evaluated(workspace)
    lora = Path(plan.output_dir) / "mira-000004.safetensors"
    before = hashlib.sha256(lora.read_bytes()).hexdigest()
    first = register_lora("mira", "mira-000004.safetensors", 0.7, good_for="portraits, soft light")
    studio = workspace / "grimoire" / "studio.md"
    text = studio.read_text()
    assert first.changed and text.count("### LoRA: mira") == 1
    for line in ("- **Trigger word**: mira", "- **Recommended weight**: 0.7", "- **Type**: character",
                 "- **Good for**: portraits, soft light", "- **Checkpoint**: epoch 4 (middle)"):
        assert line in text
    assert f"- **Training params**: standard, 4 epochs, rank {plan.network.dim}" in text and "(sdxl)" in text
    assert "gpu: (e.g. RTX 4090)" in text  # the rest of studio.md untouched
    # the artist adds a note to the entry; registering again at a new weight keeps it and good_for
    studio.write_text(text.replace("- **Good for**: portraits, soft light", "- **Good for**: portraits, soft light\n- my note: pairs with inkwash"))
    again = register_lora("mira", str(lora), 0.6)
    text = studio.read_text()
    assert again.changed and text.count("### LoRA: mira") == 1 and "- my note: pairs with inkwash" in text
    assert "- **Recommended weight**: 0.6" in text and "- **Good for**: portraits, soft light" in text
    assert not register_lora("mira", str(lora), 0.6).changed  # idempotent
    assert hashlib.sha256(lora.read_bytes()).hexdigest() == before  # the LoRA is never rewritten
    assert Path(again.sidecar).is_file() and Path(again.sidecar).name == "mira-000004.safetensors.loragate.json"
    status = (workspace / "grimoire/training/mira/status.md").read_text()
    assert "COMPLETE" in status and "0.6" in status
    archived = [Path(p) for p in again.archived]
    assert archived and all(p.parent == workspace / "grimoire/training/mira/eval" and p.is_file() for p in archived)
    listed = list_loras().loras
    assert [(entry.name, entry.weight, entry.trigger) for entry in listed] == [("mira", 0.6, "mira")]


def test_register_refuses_without_a_current_evaluation(workspace: Path) -> None:
    plan = _evaluated(workspace)
    final = Path(plan.output_dir) / "mira.safetensors"
    state = next(s for s in gate_status("mira").gates if s.key == "evaluation")
    assert (state.gate, state.verdict, state.current, state.required_for_launch) == (5, "GO", True, False)
    write_lora(final, effect=0.9, rank=8)  # retrained after the evaluation
    with pytest.raises(GatesNotPassed, match=r"Gate 5 \(evaluation\) is stale: the LoRA file final \(mira.safetensors\) changed"):
        register_lora("mira", str(final), 0.7)
    # the gate says so in both doors, and names the evaluation of the same files as the next step
    state = next(s for s in gate_status("mira").gates if s.key == "evaluation")
    assert not state.current and "LoRA file final" in (state.problem or "")
    assert state.next.action == "evaluate" and str(final.resolve()) in state.next.args["checkpoints"]
    shown = CliRunner().invoke(app, ["gates", "mira"], env={"COLUMNS": "300"})
    assert "5 evaluation" in shown.stdout and "loragate eval mira --checkpoint" in shown.stdout
    assert "### LoRA: mira" not in (workspace / "grimoire" / "studio.md").read_text()
    other = write_lora(Path(plan.output_dir) / "mira-000008.safetensors")
    with pytest.raises(GatesNotPassed, match="was not in the last evaluation"):
        register_lora("mira", str(other), 0.7)
