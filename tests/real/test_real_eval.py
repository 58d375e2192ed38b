"""The evaluation through sd-scripts' own gen_img.py on the CPU, with the random-weight SD 1.5 model:
a LoRA trained through loragate's commands, and two files made from it with the same keys (one with
its up-weights zeroed, as sd-scripts starts a LoRA, and one with random up-weights), judged from
the pictures gen_img really made."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file, save_file

from tests.real.realkit import Studio, dataset
from tests.real.test_real_sdscripts import launch_to_complete

pytestmark = pytest.mark.real_trainer


@pytest.fixture
def studio(tmp_path: Path, sd_scripts: Path, clip_hf_home: Path) -> Studio:
    return Studio.make(tmp_path, sd_scripts, clip_hf_home, "SD_SCRIPTS_DIR")


def lora_like(trained: Path, target: Path, up: str) -> Path:
    """The trained LoRA's keys, shapes and metadata, with every lora_up weight zeroed or random."""
    from safetensors import safe_open

    with safe_open(str(trained), "np") as handle:
        metadata = handle.metadata() or {}
    rng = np.random.default_rng(7)
    tensors = {}
    for key, value in load_file(str(trained)).items():
        if key.endswith("lora_up.weight"):
            value = np.zeros_like(value) if up == "zero" else rng.normal(0, 0.5, value.shape).astype(value.dtype)
        tensors[key] = value
    save_file(tensors, str(target), metadata)
    return target


def trained_lora(studio: Studio, data: Path, weights: Path) -> Path:
    """The four gates and a one-epoch run. The training samples are switched off in plan.json (as a
    person edits it): the trainer samples at the model's native 512 px, minutes per picture on a CPU."""
    code, audit = studio.cli_json("audit", str(data), "--trigger", "mira", "--model", "sd15", "--type", "character", "--name", "mira")
    assert (code, audit["verdict"]) == (0, "GO"), audit["findings"]
    studio.plan("mira", "sd15", data, "--weights", f"base_model={weights}", epochs=1)
    studio.edit_plan("mira", lambda p: p.update(sampling=None))
    for step in (("env", "--plan", "mira"), ("dry-run", "mira", "--steps", "2")):
        code, gate = studio.cli_json(*step)
        assert (code, gate["verdict"]) == (0, "GO"), gate["findings"]
    launch_to_complete(studio, "mira")
    return studio.workspace / "output" / "mira" / "mira.safetensors"


def test_sd15_evaluation_through_gen_img_measures_what_the_lora_does(studio: Studio, sd15_weights: Path, tiny_clip: Path) -> None:
    data = dataset(studio.workspace / "datasets" / "mira")
    trained = trained_lora(studio, data, sd15_weights)
    out = trained.parent
    inert = lora_like(trained, out / "mira-inert.safetensors", "zero")
    strong = lora_like(trained, out / "mira-strong.safetensors", "random")
    held_back = dataset(studio.workspace / "held-back", count=2, captions=False)

    code, report = studio.cli_json("eval", "mira", "--engine", "scripts", "--checkpoint", str(strong), "--checkpoint", str(inert),
                                   "--checkpoint", str(trained), "--weight", "1.0", "--max-prompts", "1", "--steps", "4",
                                   "--clip-model", str(tiny_clip), "--references", str(held_back))
    assert report["engine"] == "scripts", report
    cells = report["cells"]
    assert len(cells) == 4 and not [c["error"] for c in cells if c["error"]], cells  # the 0.0 row once, then 1.0 per file
    for cell in cells:
        with Image.open(cell["output"]) as img:
            assert img.size == (64, 64)  # gen_img's own picture at the plan's size
    run = Path(cells[0]["output"]).parents[2]
    log = (run / "generate.log").read_text(errors="replace")
    assert "gen_img.py" in log and "network mul: [1.0]" in log and "network mul: [0.0]" in log, log[-3000:]
    assert "steps: 4 " in log and "weights are loaded: <All keys matched successfully>" in log  # one line each: a wide console
    measures = {m["checkpoint"]: m for m in report["measures"]}
    labels = {Path(c["path"]).name: c["label"] for c in report["checkpoints"]}
    assert measures[labels["mira-strong.safetensors"]]["takes_effect"], measures
    assert measures[labels["mira-strong.safetensors"]]["strength_profile"][0]["mean_change"] > 0.01
    no_effect = measures[labels["mira-inert.safetensors"]]
    assert not no_effect["takes_effect"] and no_effect["strength_profile"][0]["mean_change"] == 0.0
    assert [f["evidence"]["checkpoint"] for f in report["findings"] if f["code"] == "EVAL_NO_EFFECT"][:1] == [labels["mira-inert.safetensors"]]
    assert code == 1 and report["verdict"] == "NO-GO"
    for measure in measures.values():
        assert Image.open(measure["grid"]).width >= 64
    saved = json.loads((studio.project("mira") / "eval.json").read_text())
    assert saved["cells"] == cells and (studio.project("mira") / "eval.md").is_file()

    # the optional scores: the real worker, with torch and transformers from the trainer's venv and the CLIP model folder
    assert not [f for f in report["findings"] if f["code"] == "EVAL_SCORES_FAILED"], report["findings"]
    assert all(c["clip_score"] >= 0 and -1 <= c["reference_similarity"] <= 1 for c in cells), cells
    assert report["scores"]["references"] == 2 and report["scores"]["base_clip_score"] is not None
    assert all(m["clip_score"] is not None and m["reference_similarity"] is not None for m in measures.values())
    # a zeroed LoRA makes gen_img's very picture, so CLIP scores it as the base model's
    assert no_effect["clip_score"] == report["scores"]["base_clip_score"]
    md = (studio.project("mira") / "eval.md").read_text()
    assert "## Optional scores" in md and str(tiny_clip) in md

    # Gate 5 covers each file on its own: the working one registers, the inert one does not
    code, gates = studio.cli_json("gates", "mira")
    evaluation = next(g for g in gates["gates"] if g["key"] == "evaluation")
    assert evaluation["verdict"] == "NO-GO" and "same as without the LoRA" in evaluation["problem"]
    code, registered = studio.cli_json("register", "mira", "--checkpoint", str(strong), "--weight", "0.8")
    assert code == 0 and registered["lora"]["weight"] == 0.8, registered
    refused = studio.cli("register", "mira", "--checkpoint", str(inert), "--weight", "1.0")
    assert refused.returncode == 1 and "same as without the LoRA" in refused.stderr + refused.stdout
