"""`new_plan`: a complete TrainingPlan from a model family, a preset and a dataset folder.

Every value comes from the family's facts (loragate/data/models.toml), the preset
(presets.toml), the optimizer catalog, the dataset as found on disk, or the platform's layout;
each gets a plain-words explanation in `plan.explanations`.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import cast

from loragate.backends import cpu, get_backend
from loragate.catalog.models import ModelFamily, get_family
from loragate.catalog.networks import LORA, network_for
from loragate.catalog.optimizers import default_lr, get_optimizer
from loragate.catalog.presets import Preset, explain_setting, get_preset, schedule_for
from loragate.core.errors import LoragateError
from loragate.lightning.choice import LightningChoice, lightning_spec
from loragate.names import check_name
from loragate.plan.dataset_spec import build_dataset_spec
from loragate.plan.explain import explain_plan
from loragate.plan.fit import fit_memory
from loragate.plan.gpu import studio_gpu_gb
from loragate.core.plan import (
    RANK_MAX,
    RANK_MIN,
    DatasetSpec,
    ExpertPlan,
    MemorySpec,
    NetworkSpec,
    OptimizerSpec,
    ScheduleSpec,
    TrainingPlan,
    WeightPaths,
)
from loragate.plan.paths import check_dataset_folder, given_path, plan_paths
from loragate.plan.sampling import sampling_for
from loragate.core.vocabulary import ExpertChoice, Platform

PLATFORMS = ("local", "runpod", "modal")


def new_plan(
    name: str,
    model: str,
    dataset: str | Path,
    trigger: str,
    preset: str = "standard",
    training_type: str = "character",
    gpu_gb: float | None = None,
    expert: ExpertChoice | None = None,
    platform: str = "local",
    trainer_dir: str | None = None,
    *,
    trainer_python: str | None = None,
    weights: dict[str, str] | None = None,
    models_dir: str | None = None,
    output_dir: str | None = None,
    resolution: tuple[int, int] | None = None,
    frames: list[int] | None = None,
    optimizer: str | None = None,
    rank: int | None = None,
    learning_rate: float | None = None,
    caption_extension: str = ".txt",
    experts_together: bool | None = None,
    lightning: LightningChoice | dict[str, object] | None = None,
    network: str = LORA,
) -> TrainingPlan:
    """Build (but do not save) the plan for project `name`."""
    check_name(name)
    family = get_family(model)
    trigger = _check_trigger(trigger)
    if platform not in PLATFORMS:
        raise LoragateError(f"Unknown platform {platform!r}.", f"Use one of: {', '.join(PLATFORMS)}.")
    platform_name = cast(Platform, platform)
    chosen = get_preset(family.id, training_type, preset)
    if gpu_gb is None:
        gpu_gb, _ = studio_gpu_gb()
    if gpu_gb is not None and gpu_gb <= 0:
        raise LoragateError(f"GPU memory {gpu_gb} GB is not a size.", "Give the card's memory in GB, e.g. --gpu-gb 24.")

    local_dataset = check_dataset_folder(dataset)
    paths = plan_paths(
        name, platform_name, family.trainer, local_dataset,
        trainer_dir=trainer_dir, trainer_python=trainer_python, models_dir=models_dir, output_dir=output_dir,
    )
    res = _resolution(resolution or tuple(family.default_resolution))
    def describe(clip_frames: list[int] | None) -> DatasetSpec:
        return build_dataset_spec(
            local_dataset, paths.dataset, family,
            caption_extension=caption_extension, num_repeats=chosen.num_repeats, resolution=res,
            cache_dir=paths.cache_dir, frames=clip_frames,
        )

    spec = describe(_frames(frames, family))
    opt = _optimizer(chosen, family, optimizer, _check_lr(learning_rate))
    dim = _check_rank(rank) if rank is not None else chosen.rank
    # keep the preset's alpha/rank ratio when the rank is overridden, so the step strength stays
    alpha = chosen.alpha * dim / chosen.rank
    schedule = _schedule(chosen, spec)

    # LoHa / LoKr: the trainer's LyCORIS module and arguments (data/networks.toml)
    module, network_args = network_for(network, family.trainer, family.network_module)
    plan = TrainingPlan(
        name=name,
        model=family.id,
        backend=family.trainer,
        training_type=chosen.training_type,
        preset=chosen.level,
        platform=platform,  # type: ignore[arg-type]
        trigger=trigger,
        gpu_gb=gpu_gb,
        trainer_dir=paths.trainer_dir,
        trainer_python=paths.trainer_python,
        output_dir=paths.output_dir,
        output_name=name,
        dataset=spec,
        weights=_weights(family, paths.models_dir, {role: given_path(path, platform_name) or path for role, path in (weights or {}).items()}),
        network=NetworkSpec(module=module, dim=dim, alpha=alpha, args=network_args),
        optimizer=opt,
        schedule=schedule,
        memory=_memory(family),
        timesteps=get_backend(family.trainer).timestep_defaults(family),
        dataset_toml=paths.dataset_toml,
    )
    plan.experts = _experts(plan, family, expert)
    if lightning is not None:
        choice = lightning if isinstance(lightning, LightningChoice) else LightningChoice.model_validate(lightning)
        where = {"high": given_path(choice.high_noise, platform_name) or choice.high_noise,
                 "low": given_path(choice.low_noise, platform_name) or choice.low_noise}
        plan.lightning = lightning_spec(choice, family, [e.expert for e in plan.experts], where)
    plan.sampling, sampling_note = sampling_for(plan, family)
    fit_memory(plan, family, frames_chosen=frames is not None, experts_together=experts_together)
    if cpu.requested():
        plan.device, plan.memory = "cpu", cpu.cpu_memory(plan.memory, family)
        if plan.sampling is not None and not cpu.samples_on_cpu(family):
            plan.sampling, sampling_note = None, cpu.CPU_NO_VIDEO_SAMPLES
    if plan.dataset.target_frames != spec.target_frames:
        # shorter clips were needed to fit: count the samples again for the schedule
        plan.dataset = describe(plan.dataset.target_frames)
    # the fit may have lowered the batch or shortened the clips: keep the preset's step target, not its epochs
    fitted = _schedule(chosen, plan.dataset, plan.schedule.batch_size)
    plan.schedule.max_train_epochs, plan.schedule.save_every_n_epochs = fitted.max_train_epochs, fitted.save_every_n_epochs
    if plan.sampling is not None:
        plan.sampling.every_n_epochs = plan.schedule.save_every_n_epochs or None  # one sample row per checkpoint
    if opt.lr_scheduler != "constant":
        # warm-up as a share of the steps the run will take with the batch that fits; musubi refuses
        # warm-up steps with the 'constant' schedule (trainer_base.get_lr_scheduler).
        total = plan.schedule.max_train_epochs * _steps_per_epoch(plan.dataset, plan.schedule.batch_size)
        opt.lr_warmup_steps = int(round(chosen.warmup_ratio * total))
    plan.explanations = _explanations(plan, family, chosen, planned_batch=schedule.batch_size)
    if plan.sampling is not None:
        plan.explanations["sampling.prompts_file"] = sampling_note
    if plan.lightning is not None:
        plan.explanations["lightning"] = plan.lightning.note
    plan.commands = get_backend(plan.backend).commands(plan)
    return plan


def _check_rank(rank: int) -> int:
    if not RANK_MIN <= rank <= RANK_MAX:
        raise LoragateError(
            f"The LoRA rank {rank} is not possible: a rank is a whole number from {RANK_MIN} to {RANK_MAX} (16 to 64 is usual).",
            "Leave the rank out to use the preset's, or give one such as 32.",
        )
    return rank


def _check_lr(learning_rate: float | None) -> float | None:
    if learning_rate is not None and not (0 < learning_rate < math.inf):
        raise LoragateError(
            f"The learning rate {learning_rate} is not possible: it must be a number above 0.",
            "Leave it out to use the preset's, or give one such as 1e-4 (Gate 2 says whether it suits the model).",
        )
    return learning_rate


def _check_trigger(trigger: str) -> str:
    trigger = (trigger or "").strip()
    if not trigger or len(trigger) > 100 or any(c in trigger for c in "\n\r\t\x00"):
        raise LoragateError(
            f"The trigger word {trigger!r} cannot be used.",
            "Give a short, unusual word that appears in every caption, e.g. 'mira_v1' or 'ohwx'.",
        )
    return trigger


def _resolution(res: tuple[int, ...]) -> tuple[int, int]:
    if len(res) != 2 or min(res) < 64 or max(res) > 4096:
        raise LoragateError(f"The resolution {res} is not a picture size.", "Give WIDTH and HEIGHT, e.g. 1024x1024.")
    # Both trainers bucket in steps of 16 (Wan) to 64 (SD); a multiple of 16 is never rounded oddly
    # (reference musubi-tuner.md §2: use multiples of 16, e.g. 960x544, not 960x540).
    if res[0] % 16 or res[1] % 16:
        raise LoragateError(
            f"The resolution {res[0]}x{res[1]} is not a multiple of 16.",
            "Round each side to a multiple of 16 (for example 960x544 instead of 960x540).",
        )
    return int(res[0]), int(res[1])


def _frames(frames: list[int] | None, family: ModelFamily) -> list[int] | None:
    if frames is None:
        return None
    # musubi-tuner docs/dataset_config.md: each target_frames value must be N*4+1.
    bad = [f for f in frames if f < 1 or (family.frame_rule == "4n+1" and (f - 1) % 4)]
    if bad:
        raise LoragateError(
            f"Frame counts {bad} cannot be used: Wan trains on 4n+1 frames (1, 5, 9, ... 33, ... 81).",
            "Pick frame counts such as 1, 33 or 81.",
        )
    return sorted(set(frames))


def _optimizer(chosen: Preset, family: ModelFamily, name: str | None, learning_rate: float | None) -> OptimizerSpec:
    info = get_optimizer(name or chosen.optimizer)
    same = info.name == get_optimizer(chosen.optimizer).name
    lr = learning_rate if learning_rate is not None else (chosen.learning_rate if same else default_lr(info.name, family.id))
    scheduler = chosen.lr_scheduler if same else info.recommended_scheduler
    return OptimizerSpec(
        type=info.type_for(family.trainer),
        learning_rate=lr,
        args=list(chosen.optimizer_args if same else info.args),
        lr_scheduler=scheduler,
        extra_flags=list(info.extra_flags),
    )


def _items_per_epoch(spec: DatasetSpec) -> int:
    """Samples one pass over the data yields, times each folder's repeats."""
    return sum((s.samples or s.count) * s.num_repeats for s in spec.subsets)


def _steps_per_epoch(spec: DatasetSpec, batch: int) -> int:
    return max(1, math.ceil(_items_per_epoch(spec) / batch))


def _schedule(chosen: Preset, spec: DatasetSpec, batch: int | None = None) -> ScheduleSpec:
    # schedule_for multiplies by the preset's repeats; repeats here already vary per folder
    # (kohya N_name), so hand it the item count that gives the same product.
    items = max(1, round(_items_per_epoch(spec) / chosen.num_repeats))
    if batch is not None and batch != chosen.batch_size:
        chosen = chosen.model_copy(update={"batch_size": batch})
    s = schedule_for(chosen, items)
    return ScheduleSpec(
        max_train_epochs=s.max_train_epochs,
        save_every_n_epochs=s.save_every_n_epochs,
        batch_size=chosen.batch_size,
    )


def _weights(family: ModelFamily, models_dir: str, overrides: dict[str, str]) -> WeightPaths:
    unknown = sorted(set(overrides) - set(WeightPaths.model_fields))
    if unknown:
        raise LoragateError(
            f"Unknown weights role(s): {', '.join(unknown)}.",
            f"Use: {', '.join(WeightPaths.model_fields)}.",
        )
    sep = "\\" if "\\" in models_dir and "/" not in models_dir else "/"
    values = {role: f"{models_dir.rstrip('/')}{sep}{file}" for role, file in family.weights_files.items()}
    backend = get_backend(family.trainer)
    for encoder in family.text_encoders:
        role = backend.encoder_role(family, encoder.name)
        if role and encoder.weights_file and role not in values:
            values[role] = f"{models_dir.rstrip('/')}{sep}{encoder.weights_file}"
    values.update(overrides)
    return WeightPaths(**values)


def _memory(family: ModelFamily) -> MemorySpec:
    """Start from full quality; fit_memory adds 8-bit weights and block swap when the card needs them."""
    return MemorySpec(
        mixed_precision=family.mixed_precision,
        gradient_checkpointing=True,
        attention="sdpa",
        cache_latents=True,
        **get_backend(family.trainer).memory_defaults(family),
    )


def _experts(plan: TrainingPlan, family: ModelFamily, choice: ExpertChoice | None) -> list[ExpertPlan]:
    if not family.experts:
        if choice is not None:
            raise LoragateError(
                f"{family.display_name} has a single model; --expert applies to Wan 2.2 only.",
                "Leave out --expert.",
            )
        return []
    choice = choice or "both"
    if choice not in ("high", "low", "both"):
        raise LoragateError(f"Unknown expert {choice!r}.", "Use high, low or both.")
    wanted = ["high", "low"] if choice == "both" else [choice]
    experts: list[ExpertPlan] = []
    for facts in sorted(family.experts, key=lambda e: wanted.index(e.name) if e.name in wanted else 9):
        if facts.name not in wanted:
            continue
        dit = plan.weights.dit_high_noise if facts.name == "high" else plan.weights.dit
        experts.append(
            ExpertPlan(
                expert=facts.name,
                dit=dit or "",
                min_timestep=facts.min_timestep,
                max_timestep=facts.max_timestep,
                output_name=check_name(f"{plan.name}_{facts.name}", "LoRA file name"),
            )
        )
    return experts


def _explanations(plan: TrainingPlan, family: ModelFamily, chosen: Preset, *, planned_batch: int) -> dict[str, str]:
    """Why each value is what it is, written from the plan's final values (the artist's overrides
    and the memory fit included), never from the preset's starting point."""
    opt, sched = plan.optimizer, plan.schedule
    total = sched.max_train_epochs * _steps_per_epoch(plan.dataset, sched.batch_size)
    batch = explain_setting("batch_size", sched.batch_size)
    if sched.batch_size < planned_batch:
        batch += f" Lowered from the preset's {planned_batch} so the run fits the graphics card."
    if opt.lr_warmup_steps:
        warmup = explain_setting("warmup_ratio", f"{opt.lr_warmup_steps} steps ({opt.lr_warmup_steps / max(1, total):.0%} of the run)")
    else:
        warmup = "No warm-up: the learning rate is used at full strength from the first step."
    why = {
        "network.dim": explain_setting("rank", plan.network.dim),
        "network.alpha": explain_setting("alpha", plan.network.alpha),
        "optimizer.learning_rate": explain_setting("learning_rate", opt.learning_rate),
        "optimizer.type": explain_setting("optimizer", get_optimizer(opt.type).name),
        "optimizer.lr_scheduler": explain_setting("lr_scheduler", opt.lr_scheduler),
        "optimizer.lr_warmup_steps": warmup,
        "schedule.batch_size": batch,
        "schedule.max_train_epochs": f"{sched.max_train_epochs} passes over the dataset. " + explain_setting("target_steps", total),
        "dataset.num_repeats": _repeats_explained(plan.dataset),
        "training_type": chosen.explanations["training_type"],
    }
    if sched.save_every_n_epochs:
        why["schedule.save_every_n_epochs"] = explain_setting("checkpoints", sched.max_train_epochs // sched.save_every_n_epochs)
    why.update(explain_plan(plan, family))
    return dict(sorted(why.items()))


def _repeats_explained(spec: DatasetSpec) -> str:
    repeats = {s.num_repeats for s in spec.subsets} or {spec.num_repeats}
    if len(repeats) == 1:
        return explain_setting("num_repeats", repeats.pop())
    per_folder = ", ".join(f"{PurePosixPath(s.path).name} {s.num_repeats}x" for s in spec.subsets)
    return f"Each folder's pictures are shown as often per pass as its name says ({per_folder}), as kohya folders are meant."
