"""loragate eval through ComfyUI's HTTP API, against a stand-in that renders what the LoRA does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from loragate.core.errors import GatesNotPassed, LoragateError
from loragate.evaluate.gate import require_evaluation
from loragate.evaluate.run import EvalRequest, evaluate
from tests.eval_helpers import WAN_KEYS, trained_project, write_lora
from tests.fakes.comfyui import FakeComfy


def _comfy(workspace: Path, plan) -> FakeComfy:
    loras = workspace / "comfy" / "loras"
    loras.mkdir(parents=True)
    for lora in Path(plan.output_dir).glob("*.safetensors"):
        (loras / lora.name).symlink_to(lora)
    return FakeComfy(loras, {"checkpoints": ["base.safetensors", "other.safetensors"]})


def test_grid_measures_effect_and_records_the_evaluation(workspace: Path) -> None:
    plan = trained_project(workspace)
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=2))
        sent = comfy.prompts
    assert report.engine == "comfyui" and report.verdict == "GO", report.findings
    # early, middle, final; 0.0 once (shared) + 5 weights per checkpoint, 2 prompts each
    assert [c.role for c in report.checkpoints] == ["early", "middle", "final"]
    assert len(sent) == 2 + 3 * 5 * 2
    lora_nodes = [n for wf in sent for n in wf.values() if n["class_type"] == "LoraLoader"]
    assert {n["inputs"]["strength_model"] for n in lora_nodes} == {0.0, 0.3, 0.5, 0.7, 0.9, 1.0}
    seeds = {n["inputs"]["seed"] for wf in sent for n in wf.values() if n["class_type"] == "KSampler"}
    assert len(seeds) == 1  # one fixed seed for every cell
    for measure in report.measures:
        assert measure.takes_effect
        changes = [e.mean_change for e in measure.strength_profile]
        assert changes == sorted(changes) and changes[0] > 0  # stronger weight, larger change
        grid = Image.open(measure.grid)
        assert grid.width > 2 * 64 and grid.height > 6 * 64  # 2 prompt columns, 6 weight rows
    assert report.comparison and Path(report.comparison).is_file()
    saved = json.loads((workspace / "grimoire/training/mira/eval.json").read_text())
    assert saved["verdict"] == "GO"
    md = (workspace / "grimoire/training/mira/eval.md").read_text()
    assert "# Evaluation: mira" in md and "**Recommended weight**" in md and "**Checkpoint used**" in md
    final = Path(plan.output_dir) / "mira.safetensors"
    assert require_evaluation("mira", final).project == "mira"


def test_a_lora_that_learned_nothing_blocks(workspace: Path) -> None:
    plan = trained_project(workspace, effect=0.0)
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[0.5, 1.0]))
    assert report.verdict == "NO-GO"
    assert not any(m.takes_effect for m in report.measures)
    finding = next(f for f in report.findings if f.code == "EVAL_NO_EFFECT")
    assert "did not load" in finding.message and "loragate diagnose mira" in finding.fix
    with pytest.raises(GatesNotPassed, match="same as without the LoRA"):
        require_evaluation("mira", Path(plan.output_dir) / "mira.safetensors")


def test_lora_for_another_model_is_refused_before_generating(workspace: Path) -> None:
    plan = trained_project(workspace, keys=WAN_KEYS)
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1))
        assert comfy.prompts == []
    assert report.verdict is None and not report.cells
    finding = next(f for f in report.findings if f.code == "EVAL_LORA_KEYS")
    assert "would not load" in finding.message and "WAN LoRA" in finding.message


def test_a_lora_comfyui_cannot_see_is_named(workspace: Path) -> None:
    plan = trained_project(workspace)
    loras = workspace / "comfy" / "loras"
    loras.mkdir(parents=True)
    write_lora(loras / "something-else.safetensors")
    with FakeComfy(loras, {"checkpoints": ["base.safetensors"]}) as comfy, pytest.raises(
        LoragateError, match="cannot see the LoRA mira-000002.safetensors"
    ) as caught:
        evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1))
    assert "models/loras" in (caught.value.fix or "")
    assert not (workspace / "grimoire/training/mira/eval.json").exists() and plan.output_dir


def test_node_errors_are_said_in_words(workspace: Path) -> None:
    from loragate.evaluate.comfyui import ComfyUI

    loras = workspace / "loras"
    loras.mkdir()
    with FakeComfy(loras, {"checkpoints": ["base.safetensors"]}) as comfy:
        workflow = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "missing.safetensors"}},
                    "2": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}}}
        with pytest.raises(LoragateError) as caught:
            ComfyUI(comfy.url).queue(workflow)
    text = caught.value.message
    assert "node 1 (CheckpointLoaderSimple), input 'ckpt_name'" in text and "missing.safetensors" in text


def test_estimate_only_spends_nothing(workspace: Path) -> None:
    plan = trained_project(workspace)
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, estimate_only=True, price_per_hour=0.8))
        assert comfy.prompts == []
    assert report.cost is not None and report.cost.cells == 6 + 3 * 5 * 6
    assert report.cost.price is not None and report.cost.price > 0
    assert any("Estimate only" in n for n in report.notes)
    assert not (workspace / "grimoire/training/mira/eval.json").exists()


def test_wan22_pair_through_comfyui_loads_each_expert_lora_on_its_model(workspace: Path) -> None:
    from loragate.plan.store import save_plan
    from tests.runs_fixtures import wan_plan

    plan = wan_plan(workspace, experts=True)
    plan.dataset.video_count = 2
    save_plan(plan)
    loras = workspace / "comfy"
    loras.mkdir()
    for name in ("mira_low", "mira_high"):
        for suffix in ("-000001", ""):
            (loras / f"{name}{suffix}.safetensors").symlink_to(write_lora(Path(plan.output_dir) / f"{name}{suffix}.safetensors", WAN_KEYS))
    models = {"unets": ["wan22_low.safetensors", "wan22_high.safetensors"], "clips": ["umt5.safetensors"], "vaes": ["vae.safetensors"]}
    with FakeComfy(loras, models, key_prefix="lora_unet_blocks_") as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[1.0]))
        sent = comfy.prompts
    assert report.verdict == "GO", report.findings
    final = sent[-1]
    unets = {node_id: n["inputs"]["unet_name"] for node_id, n in final.items() if n["class_type"] == "UNETLoader"}
    loaded = {n["inputs"]["model"][0]: n["inputs"]["lora_name"] for n in final.values() if n["class_type"] == "LoraLoaderModelOnly"}
    assert {unets[model]: lora for model, lora in loaded.items()} == {"wan22_low.safetensors": "mira_low.safetensors",
                                                                      "wan22_high.safetensors": "mira_high.safetensors"}
    length = next(n["inputs"]["length"] for n in final.values() if n["class_type"] == "EmptyHunyuanLatentVideo")
    assert length == 17 and all(c.output and c.output.endswith(".webp") for c in report.cells)
    assert all(m.takes_effect for m in report.measures)
    grid = Image.open(report.measures[0].grid)  # type: ignore[arg-type]
    assert grid.width > 4 * 64  # one cell is a strip of frames


def test_a_v_prediction_sdxl_is_sampled_as_v_prediction_in_comfyui(workspace: Path) -> None:
    # sampled as epsilon a v-pred model gives brown pictures: ModelSamplingDiscrete sits before the LoRA
    plan = trained_project(workspace, model="noobai-xl-vpred")
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[1.0]))
        sent = comfy.prompts
    assert report.engine == "comfyui" and report.verdict == "GO", report.findings
    for wf in sent:
        [sampling] = [(k, n) for k, n in wf.items() if n["class_type"] == "ModelSamplingDiscrete"]
        assert sampling[1]["inputs"]["sampling"] == "v_prediction" and sampling[1]["inputs"]["zsnr"] is True
        [lora] = [n for n in wf.values() if n["class_type"] == "LoraLoader"]
        assert lora["inputs"]["model"] == [sampling[0], 0]
