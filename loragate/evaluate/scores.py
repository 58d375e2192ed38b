"""Optional scores, off by default: how well each picture matches its prompt to CLIP, and how close
it is to a few reference pictures the artist held back from training.

loragate does not install torch (a PyPI torch is a multi-GB CUDA build), so the scores come from
clip_worker.py run with the trainer's Python, which has torch and transformers, against a local
CLIP model folder the artist names. Nothing is downloaded. Everything the scores need is checked
before a picture is made; a scorer that fails afterwards costs a warning, never the grid.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_text
from loragate.dataset.scan import IMAGE_EXTENSIONS
from loragate.core.errors import LoragateError
from loragate.evaluate.model import EvalReport, OptionalScores
from loragate.evaluate.sheet import frames_of
from loragate.backends.generation import CellSpec
from loragate.core.findings import Finding

WORKER = Path(__file__).with_name("clip_worker.py")
SCORE_TIMEOUT_S = 1800
LEAVE_OUT = "or leave --clip-model out: the scores are optional."


class ScoreSetup(BaseModel):
    python: str = Field(description="The trainer's Python, which has torch and transformers.")
    model: str = Field(description="The local CLIP model folder.")
    references: list[str] = Field(default_factory=list, description="The artist's held-back reference pictures.")


def score_setup(clip_model: str | None, references: str | None, python: str) -> ScoreSetup | None:
    """What the scores need, checked before anything is generated (None when none were asked for)."""
    if not clip_model:
        if references:
            raise LoragateError("Similarity to your reference pictures is measured with a CLIP model, and none was given.",
                                "Give a CLIP model folder on this machine too (--clip-model DIR).")
        return None
    folder = Path(clip_model).expanduser()
    if not folder.is_dir():
        raise LoragateError(f"The CLIP model folder {folder} does not exist.",
                            f"Give the folder of a CLIP model on this machine (config.json and weights, as transformers saves them), {LEAVE_OUT}")
    if not (folder / "config.json").is_file():
        raise LoragateError(f"{folder} has no config.json, so it is not a CLIP model folder as transformers saves one.",
                            f"Give the folder that holds the model's config.json and weights, {LEAVE_OUT}")
    found = python if "/" in python else shutil.which(python)
    if not found or not Path(found).is_file():
        raise LoragateError(f"The trainer's Python ({python}) is not there, and the CLIP scores run with it: loragate itself "
                            "does not install torch.", f"Set trainer_python in the plan to the trainer's virtual environment, {LEAVE_OUT}")
    pictures: list[str] = []
    if references:
        ref_folder = Path(references).expanduser()
        if not ref_folder.is_dir():
            raise LoragateError(f"The reference pictures folder {ref_folder} does not exist.",
                                "Give the folder of the few pictures you held back from training.")
        pictures = sorted(str(p.resolve()) for p in ref_folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not pictures:
            raise LoragateError(f"{ref_folder} holds no pictures.", "Put the pictures you held back from training there (PNG, JPEG, WebP).")
    return ScoreSetup(python=str(found), model=str(folder.resolve()), references=pictures)


def _still(output: Path, folder: Path) -> Path:
    """The picture CLIP looks at: the output itself, or a clip's middle frame."""
    frames = frames_of(output)
    if not frames:
        return output
    folder.mkdir(parents=True, exist_ok=True)
    still = folder / f"{output.stem}.png"
    frames[len(frames) // 2].save(still)
    return still


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def add_scores(report: EvalReport, specs: list[CellSpec], setup: ScoreSetup, run_dir: Path) -> Finding | None:
    """Score every picture made, into the cells, each checkpoint's measures and report.scores; a
    warning when the scorer fails (the grid and the other measurements stand)."""
    made = [(n, cell) for n, cell in enumerate(report.cells) if cell.output]
    if not made:
        return None
    items = [{"image": str(_still(Path(cell.output or ""), run_dir / "score-frames")), "text": specs[n].prompt} for n, cell in made]
    request = run_dir / "clip-request.json"
    atomic_write_text(request, json.dumps({"model": setup.model, "items": items, "references": setup.references}))
    log = run_dir / "clip-scores.log"
    try:
        # -I: the worker's own folder stays off sys.path (loragate/evaluate/select.py would hide the standard `select`)
        done = subprocess.run([setup.python, "-I", str(WORKER), str(request)], capture_output=True, text=True, timeout=SCORE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
        atomic_write_text(log, done.stderr)
        scores = json.loads(done.stdout)["scores"] if done.returncode == 0 else None
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
        scores, why = None, f"{exc.__class__.__name__}: {exc}"
    if not isinstance(scores, list) or len(scores) != len(made):
        return Finding(code="EVAL_SCORES_FAILED", severity="warn", message=f"The optional CLIP scores could not be computed: {why}.",
                       fix=f"Check that {setup.python} has torch and transformers and that {setup.model} is a CLIP model "
                           f"(details in {log}); the grid and the other measurements stand.",
                       path=str(log), evidence={"python": setup.python, "model": setup.model})
    for (_, cell), score in zip(made, scores, strict=True):
        cell.clip_score = score.get("clip_score")
        cell.reference_similarity = score.get("reference_similarity")
    for measure in report.measures:
        mine = [c for c in report.cells if c.checkpoint == measure.checkpoint and c.weight > 0]
        measure.clip_score = _mean([c.clip_score for c in mine if c.clip_score is not None])
        measure.reference_similarity = _mean([c.reference_similarity for c in mine if c.reference_similarity is not None])
    base = [c for c in report.cells if c.weight == 0.0]
    report.scores = OptionalScores(
        model=setup.model, references=len(setup.references),
        base_clip_score=_mean([c.clip_score for c in base if c.clip_score is not None]),
        base_reference_similarity=_mean([c.reference_similarity for c in base if c.reference_similarity is not None]),
    )
    return None
