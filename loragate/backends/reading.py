"""Reading a trainer's own commands and dataset TOML back into a plan: the parts both backends share.

Each backend reads its own flags (backends/musubi_import.py, backends/sdscripts_import.py); the
flags both trainers spell the same (network, optimizer, length, sampling: the ones argv.py writes
for both) are read here, and so is the dataset folder list, which both turn into the same
DatasetSpec. What a setup says that the plan cannot hold is found afterwards by writing the plan's
commands again and comparing (loragate.plan.import_plan), so nothing is lost without a word.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from loragate.catalog.models import ModelFamily
from loragate.core.errors import LoragateError
from loragate.lightning.choice import LightningChoice
from loragate.core.plan import (
    DatasetSpec, DatasetSubset, NetworkSpec, OptimizerSpec, SamplingSpec, ScheduleSpec, TrainingPlan, WeightPaths,
)
from loragate.validate.invocation import Invocation
from loragate.core.vocabulary import Platform, PresetName, TrainingType


T = TypeVar("T", int, float)
P = TypeVar("P", bound=BaseModel)

# What both trainers use when a flag is left out (sd-scripts library/train_util.py,
# musubi-tuner training/parser_common.py): --learning_rate 2e-6, --max_train_steps 1600.
TRAINER_DEFAULT_LR = 2e-6
TRAINER_DEFAULT_STEPS = 1600


# sd-scripts library/train_util.py add_dataset_arguments: without a dataset TOML, the folders and
# their settings are flags; the plan carries them in the dataset TOML it writes instead.
DATASET_FLAGS = ("--train_data_dir", "--resolution", "--caption_extension", "--enable_bucket", "--bucket_no_upscale",
                 "--train_batch_size", "--min_bucket_reso", "--max_bucket_reso", "--bucket_reso_steps")

# Flags of an imported command that the plan's commands set otherwise on purpose, with the reason.
CARRIED_ELSEWHERE: dict[str, str] = {
    "--dataset_config": "loragate writes the dataset TOML into the project folder from the plan (yours is left as it is)",
    **{flag: "the dataset TOML loragate writes carries it" for flag in DATASET_FLAGS},
}


def no_dataset_toml(train: Invocation) -> LoragateError:
    named = train.value("--dataset_config")
    return LoragateError(
        f"The dataset TOML{' ' + named if named else ''} could not be read: it says which folders to train on.",
        "Give the dataset TOML too (beside the script), or correct the path after --dataset_config.")


class ImportContext(BaseModel):
    """What the trainer's files do not say, given by the person importing them."""

    name: str
    trigger: str
    training_type: TrainingType = "character"
    preset: PresetName = Field(default="standard", description="Only for what the files leave unsaid (the repeats default).")
    model: str | None = Field(default=None, description="Model family id; default: recognised from the script, task and weights.")
    platform: Platform = "local"
    gpu_gb: float | None = Field(default=None, gt=0)
    experts_together: bool = False
    lightning: LightningChoice | None = Field(default=None, description="Wan 2.2: the Lightning files the artist renders with.")


class Folder(BaseModel):
    """One folder of a dataset TOML as the trainer reads it."""

    kind: str
    path: str
    num_repeats: int = 1
    cache_dir: str | None = None
    control_path: str | None = None  # musubi control_directory: the starting images of edit pairs


class DatasetFacts(BaseModel):
    """A dataset TOML's settings in the plan's words (each backend reads its own schema into this)."""

    folders: list[Folder]
    resolution: tuple[int, int]
    caption_extension: str
    batch_size: int = 1
    enable_bucket: bool = False
    bucket_no_upscale: bool = False
    target_frames: list[int] = Field(default_factory=list)
    frame_extraction: str | None = None
    source_fps: float | None = None


class Number:
    """Values read from flags; a value that is not a number is an error that names the flag."""

    def __init__(self, inv: Invocation) -> None:
        self.inv = inv

    def float(self, flag: str, above: float | None = None) -> float | None:
        raw = self.inv.value(flag)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise LoragateError(f"{flag} {raw!r} ({self.inv.where(flag)}) is not a number.",
                                f"Correct {flag} in your script and import it again.") from None
        if above is not None and not value > above:
            raise LoragateError(f"{flag} {raw} ({self.inv.where(flag)}) must be above {above:g}.",
                                f"Correct {flag} in your script and import it again.")
        return value

    def int(self, flag: str, least: int | None = None) -> int | None:
        value = self.float(flag)
        if value is not None and value != int(value):
            raise LoragateError(f"{flag} {self.inv.value(flag)!r} ({self.inv.where(flag)}) is not a whole number.",
                                f"Correct {flag} in your script and import it again.")
        if value is not None and least is not None and value < least:
            raise LoragateError(f"{flag} {self.inv.value(flag)} ({self.inv.where(flag)}) must be at least {least}.",
                                f"Correct {flag} in your script and import it again.")
        return None if value is None else int(value)


def trains_of(invocations: list[Invocation], trainer: str, example: str, rest: str) -> list[Invocation]:
    """The training commands among a setup's; none is an error that says what to give."""
    trains = [i for i in invocations if i.stage == "train"]
    if not trains:
        raise LoragateError(f"No {trainer} training command ({example} ...) was found.",
                            f"Give the script or command line that trains, with {rest}.")
    return trains


def recognise_family(families: list[ModelFamily], train: Invocation, guess: str | None) -> ModelFamily:
    """The family whose training script (and musubi --task) the command runs. Families sharing a
    script (SDXL, Pony, Illustrious) are told apart by `guess` (what the weights' names say), else
    the family the others derive from."""
    task = train.value("--task")
    fitting = [f for f in families if _script_name(f.scripts.get("train")) == train.script
               and (f.task is None or _selected(f, train) in (f.task, *f.distilled_versions))]
    if not fitting:
        raise LoragateError(
            f"loragate does not know which model {train.script}" + (f" --task {task}" if task else "")
            + f" ({train.source}) trains.",
            "Give the model family with --model (see `loragate models`), or check the script and --task.")
    chosen = next((f for f in fitting if f.id == guess), None)
    return chosen or next((f for f in fitting if f.variant_of is None), fitting[0])


def _selected(family: ModelFamily, train: Invocation) -> str | None:
    """The model version the command selects with the family's selector option (musubi --task,
    --model_version; the script's default when a --model_version is left out)."""
    from loragate.backends.musubi_recipes import get_recipe
    from loragate.backends.command_family import selector_value

    flag = get_recipe(family.recipe, family.id).selector_flag() if family.recipe else "--task"
    if not flag or flag == "--task":
        return train.value("--task")
    return selector_value(train, flag)


def _script_name(path: str | None) -> str:
    return (path or "").replace("\\", "/").rsplit("/", 1)[-1]


def network_from(inv: Invocation, family: ModelFamily) -> NetworkSpec:
    """--network_module/dim/alpha/args/weights (argv.add_network). sd-scripts defaults alpha to 1."""
    num = Number(inv)
    dim = _or(num.int("--network_dim", 1), 4)  # sd-scripts and musubi: None means 4
    alpha = num.float("--network_alpha", 0)
    return NetworkSpec(module=inv.value("--network_module") or family.network_module, dim=dim,
                       alpha=alpha if alpha is not None else 1.0, args=list(inv.values("--network_args")),
                       weights=inv.value("--network_weights"))


def optimizer_from(inv: Invocation, trainer: str) -> OptimizerSpec:
    """Optimizer, learning rate and schedule (argv.add_optimizer), and the extra flags the optimizer
    catalog says that optimizer needs."""
    from loragate.catalog.optimizers import get_optimizer, optimizer_names

    num = Number(inv)
    kind = inv.value("--optimizer_type") or "AdamW"
    known = [get_optimizer(n) for n in optimizer_names()]
    info = next((o for o in known if o.type_for(trainer).lower() == kind.lower()), None)
    extra = [f for f in (info.extra_flags if info else []) if inv.has(f)]
    return OptimizerSpec(
        type=kind, learning_rate=_or(num.float("--learning_rate", 0), TRAINER_DEFAULT_LR),
        args=list(inv.values("--optimizer_args")), lr_scheduler=inv.value("--lr_scheduler") or "constant",
        lr_scheduler_min_lr_ratio=num.float("--lr_scheduler_min_lr_ratio"), lr_warmup_steps=_or(num.int("--lr_warmup_steps", 0), 0),
        extra_flags=extra,
    )


def schedule_from(inv: Invocation, batch_size: int) -> ScheduleSpec:
    """Epochs or a step limit, save cadence, accumulation and seed (argv.add_length)."""
    num = Number(inv)
    epochs, steps = num.int("--max_train_epochs", 1), num.int("--max_train_steps", 1)
    return ScheduleSpec(
        max_train_epochs=_or(epochs, ScheduleSpec().max_train_epochs),
        max_train_steps=_or(steps, TRAINER_DEFAULT_STEPS) if epochs is None else None,
        save_every_n_epochs=_or(num.int("--save_every_n_epochs", 0), 0),
        batch_size=batch_size,
        gradient_accumulation_steps=_or(num.int("--gradient_accumulation_steps", 1), 1),
        seed=_or(num.int("--seed", 0), ScheduleSpec().seed),  # no seed: random in the trainer; the plan fixes one
    )


def _or(value: T | None, default: T) -> T:
    """The value read, else the default: a 0 written in a script stays 0 (and the plan's bounds judge it)."""
    return default if value is None else value


def sampling_from(inv: Invocation) -> SamplingSpec | None:
    """--sample_prompts and its cadence (argv.add_sampling)."""
    prompts = inv.value("--sample_prompts")
    if not prompts:
        return None
    num = Number(inv)
    return SamplingSpec(prompts_file=prompts, every_n_epochs=num.int("--sample_every_n_epochs", 1),
                        every_n_steps=num.int("--sample_every_n_steps", 1), at_first=inv.has("--sample_at_first"),
                        note=f"Samples as your setup makes them, with the prompts in {prompts}.")


def precision_from(inv: Invocation) -> str:
    """The script's --mixed_precision ("no" is fp32); without it both trainers train in fp32."""
    value = inv.value("--mixed_precision") or inv.launcher_args.get("--mixed_precision", ["no"])[-1]
    return "fp32" if value == "no" else value


def attention_of(inv: Invocation, choices: dict[str, list[str]]) -> str:
    """The attention whose flag the command sets (the first of each choice's flags names it)."""
    return next((name for name, flags in choices.items() if inv.has(flags[0])), "sdpa")


def updated(part: P, changes: dict[str, Any]) -> P:
    """A plan part with values read from the setup, validated (model_copy would not check the bounds,
    so a `--blocks_to_swap -3` would slip into the plan)."""
    return type(part).model_validate({**part.model_dump(), **changes})


def output_name(inv: Invocation) -> str | None:
    """The name a training command gives its LoRA files (both trainers: --output_name)."""
    return inv.value("--output_name")


def on_cpu(inv: Invocation) -> bool:
    return "--cpu" in inv.launcher_args


def dataset_from(facts: DatasetFacts, family: ModelFamily, num_repeats: int, cache_dir: str | None) -> DatasetSpec:
    """The plan's dataset from a TOML's folders: the folder they share is the dataset; when it is on
    this machine, its pictures and clips are counted as `plan new` counts them (the steps per epoch
    and Gate 1 need the counts); a folder the TOML names that the scan did not find keeps count 0."""
    from loragate.plan.dataset_spec import build_dataset_spec

    root = dataset_root([f.path for f in facts.folders])
    found: dict[str, DatasetSubset] = {}
    spec = DatasetSpec(path=root, caption_extension=facts.caption_extension)
    local = Path(root)
    if local.is_dir():
        spec = build_dataset_spec(local, root, family, caption_extension=facts.caption_extension, num_repeats=num_repeats,
                                  resolution=facts.resolution, cache_dir=cache_dir or "",
                                  frames=facts.target_frames or None, frame_extraction=facts.frame_extraction or "head")
        found = {s.path: s for s in spec.subsets}
    subsets = [updated(found[f.path], {"num_repeats": f.num_repeats, "cache_dir": f.cache_dir, "control_path": f.control_path})
               if f.path in found else DatasetSubset(kind=f.kind, path=f.path, num_repeats=f.num_repeats,  # type: ignore[arg-type]
                                                     cache_dir=f.cache_dir, control_path=f.control_path)
               for f in facts.folders]
    images = [s.path for s in subsets if s.kind == "image"]
    videos = [s.path for s in subsets if s.kind == "video"]
    return updated(spec, {
        "subsets": subsets, "image_dir": images[0] if images else None, "video_dir": videos[0] if videos else None,
        "resolution": facts.resolution, "num_repeats": num_repeats, "enable_bucket": facts.enable_bucket,
        "bucket_no_upscale": facts.bucket_no_upscale, "target_frames": facts.target_frames if videos else [],
        "frame_extraction": facts.frame_extraction if videos else None, "source_fps": facts.source_fps,
        "cache_dir": cache_dir,
        "image_count": sum(s.count for s in subsets if s.kind == "image"),
        "video_count": sum(s.count for s in subsets if s.kind == "video"),
    })


def dataset_root(paths: list[str]) -> str:
    """The dataset folder: the one the folders share; for a single `Images/`, `Videos/` or kohya
    `N_name` folder, the folder holding it (the layouts `plan new` makes)."""
    from loragate.dataset.scan import REPEAT_FOLDER

    windows = any("\\" in p and "/" not in p for p in paths)
    pure = PureWindowsPath if windows else PurePosixPath
    if len(paths) > 1:
        return os.path.commonpath(paths) if not windows else str(pure(os.path.commonpath([p.replace("\\", "/") for p in paths])))
    only = pure(paths[0])
    if only.name.lower() in ("images", "videos") or REPEAT_FOLDER.match(only.name):
        return str(only.parent)
    return str(only)


def common_parent(paths: list[str]) -> str | None:
    """The folder every path sits directly in, or None when they differ."""
    parents = {str(PurePosixPath(p).parent) for p in paths}
    return parents.pop() if len(parents) == 1 else None


def toml_table(data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key)
    return table if isinstance(table, dict) else {}


def resolution_of(value: Any, where: str) -> tuple[int, int]:
    """A TOML resolution: [W, H] or one number for a square."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return int(value[0]), int(value[1])
    raise LoragateError(f"The dataset TOML's resolution ({where}) is {value!r}, not a size.",
                        "Write resolution = [width, height] in the dataset TOML, e.g. [1024, 1024].")


PROBE = "/loragate-probe/"


def weight_flags(plan: TrainingPlan) -> dict[tuple[str, str], str]:
    """(step, flag) -> weights role, as the plan's backend writes them: its commands for a copy of the
    plan whose every role names a marker file, read back. The writer is the only list, so a family
    or role added to the backend is imported without a second table."""
    from loragate.backends import get_backend

    probe = plan.model_copy(deep=True)
    probe.weights = WeightPaths(**{role: PROBE + role for role in WeightPaths.model_fields})
    try:
        commands = get_backend(plan.backend).commands(probe)
    except LoragateError:
        return {}
    found: dict[tuple[str, str], str] = {}
    for command in commands:
        for flag, value in zip(command.argv, command.argv[1:]):
            if flag.startswith("--") and value.startswith(PROBE):
                found.setdefault((command.stage, flag), value.removeprefix(PROBE))
    return found


def finish(plan: TrainingPlan, family: ModelFamily, invocations: list[Invocation]) -> TrainingPlan:
    """The weights every command names, by the role the backend gives each flag (what the importer
    set already stays), and explanations for what the plan holds, as `plan new` gives them."""
    from loragate.plan.explain import explain_plan

    roles = plan.weights.model_dump()
    for (stage, flag), role in weight_flags(plan).items():
        value = next((i.value(flag) for i in invocations if i.stage == stage and i.value(flag)), None)
        if value and not roles.get(role):
            roles[role] = value
    plan.weights = WeightPaths(**roles)
    plan.explanations = explain_plan(plan, family)
    return plan


def preset_repeats(family: ModelFamily, ctx: ImportContext) -> int:
    """The repeats a folder gets when the TOML does not say (the preset's, as in `plan new`)."""
    from loragate.catalog.presets import get_preset

    return get_preset(family.id, ctx.training_type, ctx.preset).num_repeats
