"""A next step as the `loragate` command line that does it.

Each action maps to its command words, its positional arguments and its options, by the
argument names the engine (and the MCP tool) use. An argument the step leaves out is shown as a
placeholder in capitals (DATASET), for the person to fill in.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from loragate.core.nextstep import NextStep


@dataclass(frozen=True)
class CliForm:
    words: tuple[str, ...]
    positional: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    """Options the command cannot run without: shown as placeholders when the step lacks them."""
    off: dict[str, str] = field(default_factory=dict)
    """Yes/no options whose 'no' is a flag of its own (--together/--one-after-another)."""


CLI_FORMS: dict[str, CliForm] = {
    "audit_dataset": CliForm(("audit",), ("dataset",), {
        "trigger": "--trigger", "model": "--model", "training_type": "--type",
        "caption_extension": "--caption-ext", "name": "--name"}),
    "find_duplicates": CliForm(("duplicates",), ("dataset",), {"name": "--name", "caption_extension": "--caption-ext"}),
    "quarantine_files": CliForm(("quarantine",), ("dataset", "files"), {"undo": "--undo", "caption_extension": "--caption-ext"}),
    "generate_config": CliForm(("plan", "new"), ("name",), {
        "model": "--model", "dataset": "--dataset", "trigger": "--trigger", "preset": "--preset",
        "training_type": "--type", "gpu_gb": "--gpu-gb", "expert": "--expert", "platform": "--platform",
        "optimizer": "--optimizer", "rank": "--rank", "learning_rate": "--lr",
        "caption_extension": "--caption-extension", "output_dir": "--output-dir", "experts_together": "--together",
        "replace": "--replace"},
        required=("model", "dataset", "trigger"), off={"experts_together": "--one-after-another"}),
    "check_plan": CliForm(("plan", "check"), ("name",)),
    "validate_config": CliForm(("validate",), ("files",), {"model": "--model"}),
    "validate_env": CliForm(("env",), (), {"plan": "--plan", "backend": "--backend"}),
    "dry_run": CliForm(("dry-run",), ("project",), {"steps": "--steps"}),
    "gate_status": CliForm(("gates",), ("project",)),
    "launch": CliForm(("launch",), ("project",)),
    "monitor": CliForm(("monitor",), ("project",)),
    "stop": CliForm(("stop",), ("project",), {"grace_seconds": "--grace"}),
    "adopt_run": CliForm(("adopt",), ("project",)),
    "continue_run": CliForm(("continue",), ("project",), {
        "checkpoint": "--from", "learning_rate": "--lr", "epochs": "--epochs"}, required=("checkpoint",)),
    "evaluate": CliForm(("eval",), ("project",), {"checkpoints": "--checkpoint"}),
    "cloud_up": CliForm(("cloud", "up"), ("project",), {"provider": "--provider", "gpu": "--gpu"}, required=("provider", "gpu")),
}


def _values(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [f"{value:g}" if isinstance(value, float) else str(value)]


def command_line(next_step: NextStep) -> str:
    """`loragate WORDS POSITIONALS --option value ...` for the step, quoted for a POSIX shell."""
    form = CLI_FORMS[next_step.action]
    args = next_step.args
    quoted = [shlex.quote(w) for w in ("loragate", *form.words)]
    for name in form.positional:
        quoted += [shlex.quote(v) for v in _values(args[name])] if name in args else [name.upper()]
    for name, flag in form.options.items():
        value = args.get(name)
        if value is None:
            if name in form.required:
                quoted += [flag, name.upper()]
        elif isinstance(value, bool):
            quoted += [flag] if value else [form.off[name]] if name in form.off else []
        else:
            for v in _values(value):
                quoted += [flag, shlex.quote(v)]
    return " ".join(quoted)
