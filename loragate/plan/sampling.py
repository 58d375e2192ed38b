"""Samples while training: which run samples, how often, and what the samples can show.

Both trainers read `--sample_prompts FILE --sample_every_n_epochs N --sample_at_first` (sd-scripts
`train_util.add_training_arguments`, musubi-tuner `training/parser_common.py`) and write to
`OUTPUT_DIR/sample/`. Sampling every saved epoch makes one sample row per checkpoint, and the
`--sample_at_first` row is the base model alone: the reference the rows are compared with.
"""

from __future__ import annotations

from pathlib import Path

from loragate.catalog.models import ModelFamily
from loragate.evaluate.prompts import SAMPLE_PROMPTS_FILE, sample_prompts_text
from loragate.core.plan import ExpertName, LightningSpec, SamplingSpec, TrainingPlan
from loragate.plan.paths import on_platform
from loragate.workspace import project_dir

# musubi-tuner wan_train_network.py do_inference: "We use low noise model to sample the video";
# an expert trained alone samples with its own DiT, so only the low-noise run can make a picture.
LOW_NOISE_ONLY = (
    "Wan 2.2 samples during training are made with the low-noise expert only (musubi-tuner samples that way), "
    "so they show detail and identity, not the layout and motion the high-noise expert adds: judge the pair "
    "with `loragate eval` after training (musubi-tuner issue #491)."
)
I2V_NO_SAMPLES = (
    "No samples during training: an image-to-video sample needs a start picture per prompt (musubi-tuner "
    "`--i`); evaluate the finished LoRA with `loragate eval` instead."
)


def sampling_for(plan: TrainingPlan, family: ModelFamily) -> tuple[SamplingSpec | None, str]:
    """The sampling settings for a plan, and the sentence that explains them."""
    if family.i2v:
        return None, I2V_NO_SAMPLES
    every = plan.schedule.save_every_n_epochs or None
    prompts_file = on_platform(project_dir(plan.name) / SAMPLE_PROMPTS_FILE, plan.platform, fallback_folder="grimoire")
    note = (
        f"The trainer makes sample pictures of the standard {plan.training_type} prompts with the trigger "
        f"'{plan.trigger}' and fixed seeds before training (the base model alone) and at every saved checkpoint"
        + (f" (every {every} epochs)" if every and every > 1 else "")
        + "; `loragate monitor` gathers them into one progression sheet."
    )
    expert: ExpertName | None = None
    if family.experts:
        expert = "low"
        note += " " + LOW_NOISE_ONLY
    if plan.lightning is not None:
        note += " " + lightning_sampling_note(plan.lightning, expert)
    if family.video:
        note += " Sampling loads the VAE and the T5 text encoder beside training, so the memory estimate counts them."
    spec = SamplingSpec(prompts_file=prompts_file, every_n_epochs=every, at_first=True, expert=expert, note=note)
    return spec, note


def lightning_sampling_note(spec: LightningSpec, expert: ExpertName | None) -> str:
    """What the training samples show of Lightning: musubi samples with the model being trained and
    has no option to stack a LoRA while sampling (training/parser_common.py --sample_prompts options)."""
    if expert in spec.merged or expert in spec.premerged:
        return (f"The {expert}-noise run trains on base + Lightning, so its samples include Lightning (at the trainer's "
                "usual sampling steps, not 4); the evaluation grid renders the pair the way you will, 4 steps at CFG 1.")
    return ("These samples are without Lightning: the trainer cannot stack a LoRA while it samples. The evaluation grid "
            "(`loragate eval`) stacks your Lightning files and renders at 4 steps, CFG 1, the way you will.")


def write_sample_prompts(plan: TrainingPlan) -> Path | None:
    """Write the plan's prompt file into the project folder (the path the commands name)."""
    if plan.sampling is None:
        return None
    from loragate.atomic import atomic_write_text

    path = project_dir(plan.name, create=True) / SAMPLE_PROMPTS_FILE
    atomic_write_text(path, sample_prompts_text(plan))
    return path
