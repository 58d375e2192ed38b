"""Building trainer command lines as argv lists, the same way every time for the same plan."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from loragate.backends.cpu import CPU_ENV, accelerate_cpu_options, is_cpu
from loragate.catalog.models import ModelFamily
from loragate.core.errors import LoragateError
from loragate.core.plan import Stage, TrainingPlan


def fmt(value: object) -> str:
    """A value as the trainer's argparse reads it: 1e-4 -> '0.0001', 3.0 -> '3', True -> 'True'."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


LOGS_DIR = "logs"


class Argv:
    """An argv list with helpers that leave out unset options, so the result never holds 'None'."""

    def __init__(self, *head: str) -> None:
        self.items: list[str] = list(head)

    def opt(self, flag: str, value: object) -> "Argv":
        if value is not None:
            self.items += [flag, fmt(value)]
        return self

    def switch(self, flag: str, on: bool = True) -> "Argv":
        if on:
            self.items.append(flag)
        return self

    def many(self, flag: str, values: list[str]) -> "Argv":
        if values:
            self.items += [flag, *values]
        return self

    def flags(self) -> list[str]:
        """The option names used (for checks against the script's parser)."""
        return [item for item in self.items if item.startswith("--")]


def final_lora(output_dir: str, output_name: str) -> str:
    """`{output_dir}/{output_name}.safetensors`, the name both trainers give the final LoRA
    (reference musubi-tuner.md §3 "Checkpoints", sd-scripts.md §4.3)."""
    return str(Path(output_dir) / f"{output_name}.safetensors")


def argv_values(argv: list[str]) -> dict[str, str]:
    """flag -> value for `--flag value` and `--flag=value` pairs."""
    values: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if not arg.startswith("--"):
            continue
        if "=" in arg:
            flag, value = arg.split("=", 1)
            values[flag] = value
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            values[arg] = argv[i + 1]
    return values

def final_lora_of(argv: list[str]) -> str | None:
    """The final LoRA a training argv writes, for commands recorded before `Command.output` existed."""
    values = argv_values(argv)
    if "--output_dir" not in values or "--output_name" not in values:
        return None
    return final_lora(values["--output_dir"], values["--output_name"])


def logs_of(argv: list[str]) -> str | None:
    """The TensorBoard folder a training argv writes, for commands recorded before `Command.logs` existed."""
    return argv_values(argv).get("--logging_dir")


def python_of(plan: TrainingPlan) -> str:
    return plan.trainer_python or "python"


def accelerate_of(plan: TrainingPlan) -> str:
    """`accelerate` from the trainer's own environment when its interpreter is a path in a venv."""
    python = plan.trainer_python
    if python and "/" in python:
        return str(PurePosixPath(python).parent / "accelerate")
    return "accelerate"


def precision(plan: TrainingPlan) -> str:
    """The plan's mixed precision as accelerate and both trainers spell it: full fp32 is "no"."""
    value = plan.memory.mixed_precision
    return "no" if value == "fp32" else value


def accelerate_launch(plan: TrainingPlan) -> list[str]:
    # Every upstream example launches through accelerate with one CPU thread per process and the
    # mixed precision given here as well as to the script (reference sd-scripts.md §1, §6.9;
    # musubi-tuner docs/wan.md "Training").
    if is_cpu(plan):
        return [accelerate_of(plan), "launch", *accelerate_cpu_options(), "--mixed_precision", precision(plan)]
    return [
        accelerate_of(plan), "launch", "--num_cpu_threads_per_process", "1",
        "--mixed_precision", precision(plan),
    ]


def add_loader(argv: Argv, plan: TrainingPlan, workers: int) -> None:
    """Data-loader worker processes, kept alive between epochs; none on the CPU, where they only
    compete with the training for the same cores."""
    if is_cpu(plan):
        argv.opt("--max_data_loader_n_workers", 0)
    else:
        argv.opt("--max_data_loader_n_workers", workers).switch("--persistent_data_loader_workers")


def add_logging(argv: Argv, output_dir: str) -> None:
    """TensorBoard logs under the output folder: per-step loss and learning rate, which the monitor
    reads for the loss curve. Both trainers log to TensorBoard when --logging_dir is set, and
    accelerate skips the logger without a word when the trainer's environment lacks tensorboard."""
    argv.opt("--logging_dir", logs_dir(output_dir))


def logs_dir(output_dir: str) -> str:
    return str(PurePosixPath(output_dir) / LOGS_DIR)


def command_env(plan: TrainingPlan) -> dict[str, str]:
    """Environment variables every command of the plan needs."""
    return dict(CPU_ENV) if is_cpu(plan) else {}


def script_of(family: ModelFamily, stage: Stage) -> str:
    """The script for a stage, relative to the trainer checkout (commands run from there)."""
    script = family.scripts.get(stage)
    if not script:
        raise LoragateError(
            f"The model family {family.id} has no script for the {stage.replace('_', ' ')} step.",
            "Fix `scripts` for this family in loragate/data/models.toml.",
        )
    return script


def add_length(argv: Argv, plan: TrainingPlan, max_train_steps: int | None) -> None:
    """Epochs with per-epoch saves, or a hard step limit.

    Both trainers let --max_train_epochs override --max_train_steps (reference musubi-tuner.md
    §5.19, sd-scripts.md §2), so a step limit drops the epochs; it drops the per-epoch saves too,
    so a short run writes only its final LoRA.
    """
    sched = plan.schedule
    if max_train_steps is not None:
        argv.opt("--max_train_steps", int(max_train_steps))
        return
    if sched.max_train_steps is not None:
        argv.opt("--max_train_steps", sched.max_train_steps)
    else:
        argv.opt("--max_train_epochs", sched.max_train_epochs)
    if sched.save_every_n_epochs:
        argv.opt("--save_every_n_epochs", sched.save_every_n_epochs)


def add_sampling(argv: Argv, plan: TrainingPlan, max_train_steps: int | None, expert: str | None = None) -> None:
    """Samples at the checkpoints' cadence plus one before training (plan.sampling). A short run
    (the dry run's step limit) makes none: it saves no checkpoints to compare, and sampling would
    dominate its measured time."""
    spec = plan.sampling
    if spec is None or max_train_steps is not None or (spec.expert is not None and expert not in (None, spec.expert)):
        return
    argv.opt("--sample_prompts", spec.prompts_file)
    argv.opt("--sample_every_n_epochs", spec.every_n_epochs).opt("--sample_every_n_steps", spec.every_n_steps)
    argv.switch("--sample_at_first", spec.at_first)


def need_file(value: str | None, what: str, field: str) -> str:
    """A weights path the command cannot run without."""
    if not value:
        raise LoragateError(
            f"The plan does not say where the {what} file is.",
            f"Set weights.{field} in plan.json, or pass it to `loragate plan new`.",
        )
    return value


def need_dataset_toml(plan: TrainingPlan) -> str:
    """The dataset TOML path every command names."""
    if not plan.dataset_toml:
        raise LoragateError("The plan has no dataset TOML path.", "Re-create it with `loragate plan new`.")
    return plan.dataset_toml


def add_network(argv: Argv, plan: TrainingPlan) -> None:
    """The LoRA: module, rank, alpha, its args, and the weights a continued run starts from."""
    net = plan.network
    argv.opt("--network_module", net.module).opt("--network_dim", net.dim).opt("--network_alpha", net.alpha)
    argv.many("--network_args", net.args)
    # Continuing a run starts from a checkpoint's LoRA weights, never --resume (reference
    # musubi-tuner.md §5.11: --resume restarts the step count with the saved scheduler state).
    argv.opt("--network_weights", net.weights)


def add_optimizer(argv: Argv, plan: TrainingPlan) -> None:
    """Optimizer, learning rate and its schedule: the same flags in both trainers."""
    opt, sched = plan.optimizer, plan.schedule
    argv.opt("--optimizer_type", opt.type).many("--optimizer_args", opt.args)
    argv.opt("--learning_rate", opt.learning_rate).opt("--lr_scheduler", opt.lr_scheduler)
    if opt.lr_warmup_steps:
        argv.opt("--lr_warmup_steps", opt.lr_warmup_steps)
    argv.opt("--lr_scheduler_min_lr_ratio", opt.lr_scheduler_min_lr_ratio)
    argv.items += opt.extra_flags
    if sched.gradient_accumulation_steps > 1:
        argv.opt("--gradient_accumulation_steps", sched.gradient_accumulation_steps)


def add_attention(argv: Argv, plan: TrainingPlan, choices: dict[str, list[str]], trainer: str) -> None:
    """The plan's attention as the trainer's flags (`choices`: attention name -> flags)."""
    attention = plan.memory.attention
    if attention not in choices:
        raise LoragateError(
            f"{trainer} cannot train with the attention {attention!r}.",
            f"Set memory.attention to one of: {', '.join(choices)}.",
        )
    for flag in choices[attention]:
        argv.switch(flag)
