"""Standard prompts for a training type, with the trigger and fixed seeds, and the trainers'
sample-prompt file built from them.

The prompt-line format is the one both trainers parse (sd-scripts `library/train_util.py`
`line_to_prompt_dict`, musubi-tuner `training/sampling_prompts.py`): the prompt, then options
split on " --": `--w` width, `--h` height, `--f` frames (musubi), `--d` seed, `--s` steps.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from loragate.catalog.datafile import read_data_toml
from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.evaluate.model import EvalPrompt
from loragate.core.plan import TrainingPlan

SAMPLE_PROMPTS_FILE = "sample_prompts.txt"


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return read_data_toml("eval_prompts.toml")


def default_seeds() -> list[int]:
    return [int(s) for s in _data()["seeds"]]


def sample_steps(family: ModelFamily) -> int:
    return int(_data()["steps"][family.tuning])


def sample_frames(plan: TrainingPlan, family: ModelFamily) -> int:
    """Frames of a sample clip: 1 for an image dataset or family, else a short 4n+1 clip."""
    if not family.video or not plan.dataset.video_count:
        return 1
    return int(_data()["wan_frames"])


def standard_prompts(
    training_type: str, trigger: str, family: ModelFamily, own: list[str] | None = None, seeds: list[int] | None = None,
    limit: int | None = None,
) -> list[EvalPrompt]:
    """The type's prompts (Wan: two of them, then the motion prompts), then the artist's own; each
    prompt gets the first seed (a second seed doubles the grid; pass `seeds` for more)."""
    table = _data()["prompts"]
    if training_type not in table:
        raise LoragateError(f"There are no standard prompts for the training type {training_type!r}.", "Use character, style or object.")
    rows = list(table[training_type])
    if family.video:
        rows = rows[:2] + list(table["wan"])
    if limit:
        rows = rows[:limit]
    chosen_seeds = seeds or default_seeds()[:1]
    prompts: list[EvalPrompt] = []
    for seed in chosen_seeds:
        suffix = f" #{seed}" if len(chosen_seeds) > 1 else ""
        for row in rows:
            prompts.append(EvalPrompt(label=row["label"] + suffix, text=row["text"].format(trigger=trigger), seed=seed))
        for index, text in enumerate(own or [], start=1):
            text = text.strip()
            if not text:
                continue
            if trigger.lower() not in text.lower():
                text = f"{trigger}, {text}"
            prompts.append(EvalPrompt(label=f"own {index}{suffix}", text=text, seed=seed, own=True))
    return prompts


def prompt_line(text: str, width: int, height: int, seed: int, steps: int, frames: int = 1) -> str:
    """One line of a trainer prompt file. " --" inside the prompt would start an option, so it is cut."""
    clean = " ".join(text.replace(" --", " -").split())
    line = f"{clean} --w {width} --h {height}"
    if frames > 1:
        line += f" --f {frames}"
    return f"{line} --d {seed} --s {steps}"


def sample_prompts_text(plan: TrainingPlan) -> str:
    """The --sample_prompts file for a plan: the type's standard prompts at the training size."""
    family = get_family(plan.model)
    width, height = plan.dataset.resolution
    frames = sample_frames(plan, family)
    steps = sample_steps(family)
    prompts = standard_prompts(plan.training_type, plan.trigger, family, limit=4)
    lines = [
        f"# Samples of {plan.name}: the {plan.training_type} prompts with the trigger '{plan.trigger}', fixed seeds,",
        f"# {width}x{height}" + (f", {frames} frames" if frames > 1 else "") + ". Written by loragate; lines starting with # are skipped.",
    ]
    extra = f" {family.sample_options}" if family.sample_options else ""
    lines += [prompt_line(p.text, width, height, p.seed, steps, frames) + extra for p in prompts]
    return "\n".join(lines) + "\n"


def sample_prompt_labels(plan: TrainingPlan) -> list[str]:
    """Column titles of the samples, in the file's order (the trainers number prompts from 0)."""
    return [p.label for p in standard_prompts(plan.training_type, plan.trigger, get_family(plan.model), limit=4)]
