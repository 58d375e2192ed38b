"""Optional CLIP scores of `loragate eval`: off by default, everything they need checked before a
picture is made, the trainer's Python running the scorer (loragate installs no torch), the results
in eval.json, eval.md and both doors, and a failing scorer costing a warning, not the grid.

The trainer's Python here is a stand-in that answers the worker's request the way clip_worker.py
does (tests/real/test_real_eval.py runs the real worker with torch and a CLIP model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from loragate.core.errors import LoragateError
from loragate.evaluate.run import EvalRequest, evaluate
from loragate.evaluate.scores import WORKER
from mcp_server.server import build_server
from tests.eval_helpers import trained_project
from tests.fakes.comfyui import FakeComfy
from tests.media import write_image

# Scores the picture's brightness (the stand-in ComfyUI draws the LoRA's strength into it) and the
# request's shape: the worker script, a model folder, and each cell's prompt.
STAND_IN = f"""#!{sys.executable}
import json, sys
from PIL import Image, ImageStat
isolated, worker, request = sys.argv[1:4]
assert isolated == "-I" and worker.endswith("clip_worker.py"), sys.argv
req = json.load(open(request))
assert (__import__("pathlib").Path(req["model"]) / "config.json").is_file()
out = []
for item in req["items"]:
    light = ImageStat.Stat(Image.open(item["image"]).convert("L")).mean[0] / 255
    score = {{"image": item["image"], "clip_score": round(20 + 10 * light + len(item["text"]) % 3, 3)}}
    if req["references"]:
        score["reference_similarity"] = round(light, 4)
    out.append(score)
json.dump({{"scores": out, "references": len(req["references"])}}, sys.stdout)
"""
BROKEN = f"""#!{sys.executable}
import sys
sys.stderr.write("Traceback (most recent call last):\\nModuleNotFoundError: No module named 'torch'\\n")
sys.exit(1)
"""


def _python(folder: Path, text: str) -> Path:
    path = folder / "trainer-python"
    path.write_text(text)
    path.chmod(0o755)
    return path


def _clip(folder: Path) -> Path:
    model = folder / "clip-vit"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "clip"}))
    return model


def _refs(folder: Path) -> Path:
    refs = folder / "held-back"
    for i in range(2):
        write_image(refs / f"ref{i}.png", 64, 64, seed=40 + i)
    return refs


def _comfy(workspace: Path, plan) -> FakeComfy:  # noqa: ANN001
    loras = workspace / "comfy" / "loras"
    loras.mkdir(parents=True)
    for lora in Path(plan.output_dir).glob("*.safetensors"):
        (loras / lora.name).symlink_to(lora)
    return FakeComfy(loras, {"checkpoints": ["base.safetensors"]})


def test_scores_are_off_by_default_and_land_in_eval_json_and_md(workspace: Path) -> None:
    plan = trained_project(workspace, trainer_python=str(_python(workspace.parent, STAND_IN)))
    clip, refs = _clip(workspace.parent), _refs(workspace.parent)
    with _comfy(workspace, plan) as comfy:
        plain = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[1.0]))
        assert plain.scores is None and all(c.clip_score is None for c in plain.cells)
        assert "Optional scores" not in Path(plain.eval_md or "").read_text()
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[0.5, 1.0],
                                      clip_model=str(clip), references=str(refs)))
    assert report.verdict == "GO", report.findings
    assert all(c.clip_score is not None and c.reference_similarity is not None for c in report.cells)
    assert report.scores and report.scores.model == str(clip.resolve()) and report.scores.references == 2
    assert report.scores.base_clip_score is not None
    for measure in report.measures:
        mine = [c.clip_score for c in report.cells if c.checkpoint == measure.checkpoint and c.weight > 0]
        assert measure.clip_score == pytest.approx(sum(mine) / len(mine), abs=1e-3)  # type: ignore[arg-type]
    saved = json.loads((workspace / "grimoire/training/mira/eval.json").read_text())
    assert saved["scores"]["references"] == 2 and saved["measures"][0]["clip_score"] == report.measures[0].clip_score
    md = Path(report.eval_md or "").read_text()
    assert "## Optional scores" in md and "CLIP score (picture against its prompt" in md and "Similarity to your reference pictures" in md
    request = json.loads(next((workspace / "grimoire/training/mira/eval-runs").glob("*/clip-request.json")).read_text())
    assert request["model"] == str(clip.resolve()) and len(request["references"]) == 2
    assert {item["text"] for item in request["items"]} == {p.text for p in report.prompts}


def test_a_failing_scorer_is_a_warning_and_the_grid_stands(workspace: Path) -> None:
    plan = trained_project(workspace, trainer_python=str(_python(workspace.parent, BROKEN)))
    with _comfy(workspace, plan) as comfy:
        report = evaluate(EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[1.0],
                                      clip_model=str(_clip(workspace.parent))))
    assert report.verdict == "GO" and all(m.takes_effect for m in report.measures)
    failed = next(f for f in report.findings if f.code == "EVAL_SCORES_FAILED")
    assert failed.severity == "warn" and "No module named 'torch'" in failed.message and "torch and transformers" in failed.fix
    assert report.scores is None


@pytest.mark.parametrize(("setup", "said"), [
    ({"clip_model": "nowhere"}, "The CLIP model folder"),
    ({"clip_model": "empty-folder"}, "has no config.json"),
    ({"references": "held-back"}, "measured with a CLIP model, and none was given"),
    ({"clip_model": "clip-vit", "references": "nowhere"}, "The reference pictures folder"),
    ({"clip_model": "clip-vit", "references": "empty-folder"}, "holds no pictures"),
    ({"clip_model": "clip-vit", "python": "/no/such/venv/bin/python"}, "loragate itself does not install torch"),
])
def test_what_the_scores_need_is_checked_before_anything_is_made(workspace: Path, setup: dict[str, str], said: str) -> None:
    base = workspace.parent
    _clip(base)
    _refs(base)
    (base / "empty-folder").mkdir()
    python = setup.get("python") or str(_python(base, STAND_IN))
    plan = trained_project(workspace, trainer_python=python)
    with _comfy(workspace, plan) as comfy:
        request = EvalRequest(project="mira", comfyui_url=comfy.url, max_standard_prompts=1, weights=[1.0],
                              clip_model=str(base / setup["clip_model"]) if "clip_model" in setup else None,
                              references=str(base / setup["references"]) if "references" in setup else None)
        with pytest.raises(LoragateError, match=said) as caught:
            evaluate(request)
        assert comfy.prompts == []  # nothing generated, nothing spent
    assert caught.value.fix


def test_the_worker_imports_no_torch_into_loragate() -> None:
    import loragate.evaluate.run  # noqa: F401

    assert "torch" not in sys.modules and "transformers" not in sys.modules
    assert "import torch" in WORKER.read_text()


def test_cli_and_mcp_take_the_same_score_options(workspace: Path) -> None:
    from typer.testing import CliRunner

    from loragate.cli import app

    trained_project(workspace, trainer_python=str(_python(workspace.parent, STAND_IN)))
    missing = str(workspace / "no-clip")
    done = CliRunner().invoke(app, ["eval", "mira", "--estimate", "--clip-model", missing], env={"COLUMNS": "300"})
    assert done.exit_code == 2 and "The CLIP model folder" in done.stderr

    async def call() -> str:
        async with Client(build_server()) as client:
            result = await client.call_tool("evaluate", {"project": "mira", "clip_model": missing})
            return result.content[0].text  # type: ignore[union-attr]

    assert "The CLIP model folder" in anyio.run(call)
