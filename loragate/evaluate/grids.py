"""The grids an evaluation draws: one per checkpoint (rows = weights, columns = prompts, a clip
row also as an animated WebP) and the checkpoints side by side at one weight."""

from __future__ import annotations

import re
from pathlib import Path

from loragate.catalog.models import ModelFamily
from loragate.evaluate.model import CheckpointRef, EvalCell, EvalPrompt
from loragate.evaluate.sheet import animated_webp, draw_grid, is_clip


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24] or "x"


def outputs_of(cells: list[EvalCell], ref: CheckpointRef, first: str) -> dict[tuple[float, str], Path]:
    found: dict[tuple[float, str], Path] = {}
    for cell in cells:
        if cell.output and (cell.checkpoint == ref.label or (cell.weight == 0.0 and cell.checkpoint == first)):
            found[(cell.weight, cell.prompt)] = Path(cell.output)
    return found


def draw_checkpoint(
    project: str, ref: CheckpointRef, weights: list[float], prompts: list[EvalPrompt], outputs: dict[tuple[float, str], Path],
    run_dir: Path, n: int, family: ModelFamily,
) -> tuple[str | None, list[str]]:
    rows = [("0.0 (no LoRA)" if w == 0 else f"weight {w:g}") for w in weights]
    cols = [p.label for p in prompts]
    grid_cells = {(r, c): outputs.get((w, p.label)) for r, w in enumerate(weights) for c, p in enumerate(prompts)}
    if not any(grid_cells.values()):
        return None, []
    title = f"{project} - {ref.label} ({family.display_name}): rows = LoRA weight, columns = prompts, fixed seeds"
    grid = draw_grid(title, rows, cols, grid_cells, run_dir / f"grid-{n}-{slug(ref.label)}.png")
    animations: list[str] = []
    for weight in weights:
        clips = [p for (rw, _), p in outputs.items() if rw == weight and is_clip(p)]
        if clips:
            made = animated_webp(sorted(clips), run_dir / f"grid-{n}-{slug(ref.label)}-w{weight:g}.webp".replace("0.", "0_"))
            if made:
                animations.append(str(made))
    return str(grid), animations


def draw_comparison(
    project: str, refs: list[CheckpointRef], weights: list[float], prompts: list[EvalPrompt], cells: list[EvalCell], first: str, run_dir: Path,
) -> str | None:
    """The checkpoints side by side at the strongest weight up to 1.0, under the no-LoRA row."""
    if len(refs) < 2:
        return None
    weight = max([w for w in weights if 0 < w <= 1.0] or [max(weights)])
    rows = ["0.0 (no LoRA)"] + [ref.label for ref in refs]
    grid_cells: dict[tuple[int, int], Path | None] = {}
    for c, prompt in enumerate(prompts):
        base = outputs_of(cells, refs[0], first).get((0.0, prompt.label))
        grid_cells[(0, c)] = base
        for r, ref in enumerate(refs, start=1):
            grid_cells[(r, c)] = outputs_of(cells, ref, first).get((weight, prompt.label))
    title = f"{project}: checkpoints side by side at weight {weight:g}, fixed seeds"
    return str(draw_grid(title, rows, [p.label for p in prompts], grid_cells, run_dir / "checkpoints.png"))
