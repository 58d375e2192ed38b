"""The trainer's samples, gathered into one progression sheet (rows = checkpoints, columns = prompts).

File names, both trainers (sd-scripts `train_util.sample_image_inference`, musubi-tuner
`trainer_base.sample_image_inference`), in `OUTPUT_DIR/sample/`:
`{output_name}_{e{epoch:06d} | {steps:06d}}_{prompt:02d}_{YYYYmmddHHMMSS}[_{seed}]` + `.png`
(musubi images add `_000` before `.png`; its clips end in `.mp4`). `--sample_at_first` is epoch 0.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.evaluate.sheet import draw_grid, is_clip

SHEET_FILE = "samples.png"


class SampleFile(BaseModel):
    path: str
    lora: str
    epoch: int | None = None
    step: int | None = None
    prompt: int
    seed: int | None = None


class SampleSheet(BaseModel):
    sheet: str | None = Field(default=None, description="The progression sheet PNG; None while there are no samples.")
    samples: int = 0
    rows: list[str] = Field(default_factory=list, description="Checkpoint rows, first (before training) to last.")
    columns: list[str] = Field(default_factory=list)
    note: str = ""


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(name) + r"_(?:e(?P<epoch>\d{6})|(?P<step>\d{6}))_(?P<prompt>\d{2})_\d{14}(?:_(?P<seed>\d+))?(?:_\d{3})?"
        r"\.(?:png|jpg|webp|mp4)$"
    )


def find_samples(output_dir: Path, names: list[str]) -> list[SampleFile]:
    """The sample files of these output names; the newest file wins for one checkpoint and prompt."""
    folder = output_dir / "sample"
    if not folder.is_dir():
        return []
    patterns = [(name, _pattern(name)) for name in sorted(names, key=len, reverse=True)]
    found: dict[tuple[str, int | None, int | None, int], SampleFile] = {}
    for path in sorted(folder.iterdir()):
        for name, pattern in patterns:
            m = pattern.fullmatch(path.name)
            if not m:
                continue
            sample = SampleFile(
                path=str(path), lora=name, prompt=int(m["prompt"]),
                epoch=int(m["epoch"]) if m["epoch"] else None, step=int(m["step"]) if m["step"] else None,
                seed=int(m["seed"]) if m["seed"] else None,
            )
            found[(name, sample.epoch, sample.step, sample.prompt)] = sample  # names sort by timestamp
            break
    return list(found.values())


def _row_label(sample: SampleFile) -> str:
    if sample.epoch == 0 or (sample.epoch is None and sample.step == 0):
        return "before training"
    return f"epoch {sample.epoch}" if sample.epoch is not None else f"step {sample.step}"


def progression_sheet(output_dir: Path, names: list[str], labels: list[str], out: Path, title: str, note: str = "") -> SampleSheet:
    """Draw the sheet when there are samples (redrawn as new ones appear)."""
    samples = find_samples(output_dir, names)
    if not samples:
        return SampleSheet(note=note)
    keyed = sorted({(s.epoch if s.epoch is not None else -1, s.step or 0, _row_label(s)) for s in samples})
    rows = [label for _, _, label in keyed]
    count = max(s.prompt for s in samples) + 1
    columns = [labels[i] if i < len(labels) else f"prompt {i + 1}" for i in range(count)]
    cells: dict[tuple[int, int], Path | None] = {}
    for s in samples:
        cells[(rows.index(_row_label(s)), s.prompt)] = Path(s.path)
    clip = any(is_clip(Path(s.path)) for s in samples)
    draw_grid(title + (" (frames of each clip, left to right)" if clip else ""), rows, columns, cells, out, note=note)
    return SampleSheet(sheet=str(out), samples=len(samples), rows=rows, columns=columns, note=note)


def project_sample_sheet(project: str, root: Path | None = None) -> SampleSheet:
    """A project's progression sheet, `grimoire/training/NAME/samples.png`, redrawn only when a
    sample newer than the sheet has appeared."""
    from loragate.catalog.models import get_family
    from loragate.evaluate.prompts import sample_prompt_labels
    from loragate.core.plan import PLAN_FILE, load_plan
    from loragate.runs.retention import project_outputs
    from loragate.workspace import project_dir

    folder = project_dir(project, root)
    plan_file = folder / PLAN_FILE
    outputs = project_outputs(project, root)
    if outputs is None or not plan_file.is_file():
        return SampleSheet()
    plan = load_plan(plan_file)
    if plan.sampling is None:
        return SampleSheet()
    output_dir, names = outputs
    labels = sample_prompt_labels(plan)
    note = plan.sampling.note if plan.sampling.expert else ""
    out = folder / SHEET_FILE
    samples = find_samples(output_dir, names)
    newest = max((Path(s.path).stat().st_mtime for s in samples), default=0.0)
    if samples and out.is_file() and out.stat().st_mtime >= newest:
        rows = sorted({(s.epoch if s.epoch is not None else -1, s.step or 0, _row_label(s)) for s in samples})
        return SampleSheet(sheet=str(out), samples=len(samples), rows=[r[2] for r in rows], columns=labels, note=note)
    title = f"{project}: samples during training ({get_family(plan.model).display_name}, fixed seeds)"
    return progression_sheet(output_dir, names, labels, out, title, note=note)
