"""`train.sh`: the plan's commands as a shell script a person can read and run by hand.

loragate itself never runs this file (it runs the argv lists in commands.json); it is for people
who want to see or run the exact commands.
"""

from __future__ import annotations

import shlex

from loragate.core.plan import Command, TrainingPlan

STAGE_TITLES = {
    "cache_latents": "Cache latents",
    "cache_text_encoder": "Cache text-encoder outputs",
    "train": "Train",
}


def format_command(argv: list[str], indent: str = "  ") -> str:
    """One command over several lines: the program and script first, then one option per line."""
    quoted = [shlex.quote(a) for a in argv]
    first = next((i for i, a in enumerate(argv) if a.startswith("--") and i > 0 and argv[i - 1].endswith(".py")), None)
    if first is None:
        # accelerate launch options come before the script: break after the script instead.
        first = next((i + 1 for i, a in enumerate(argv) if a.endswith(".py")), len(argv))
    lines = [" ".join(quoted[:first])]
    current: list[str] = []
    for arg, q in zip(argv[first:], quoted[first:]):
        if arg.startswith("--") and current:
            lines.append(indent + " ".join(current))
            current = []
        current.append(q)
    if current:
        lines.append(indent + " ".join(current))
    return " \\\n".join(lines)


def render_train_sh(plan: TrainingPlan, commands: list[Command] | None = None) -> str:
    commands = commands if commands is not None else plan.commands
    out = [
        "#!/usr/bin/env bash",
        f"# Training commands for {plan.name} ({plan.model}), written by loragate from plan.json.",
        "# Launch through `loragate launch` so the four gates are checked first; this file shows",
        "# exactly what will run.",
        "set -euo pipefail",
        "",
    ]
    cwd = next((c.cwd for c in commands if c.cwd), None)
    if cwd:
        out += ["# The trainer's scripts are run from its checkout.", f"cd {shlex.quote(cwd)}", ""]
    env = {key: value for c in commands for key, value in c.env.items()}
    if env:
        out += ["# What the commands need in their environment."]
        out += [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())] + [""]
    trains = [c for c in commands if c.stage == "train"]
    together = plan.experts_together and len(trains) > 1
    step = 0
    for command in commands:
        if command.stage == "train" and together:
            continue
        step += 1
        title = STAGE_TITLES[command.stage] + (f" ({command.expert}-noise expert)" if command.expert else "")
        out.append(f"# {step}. {title}. {command.description}".rstrip())
        out.append(format_command(command.argv))
        out.append("")
    if together:
        step += 1
        out.append(f"# {step}. Train both experts at the same time (each its own LoRA file).")
        pids: list[str] = []
        for command in trains:
            out.append(format_command(command.argv) + " &")
            var = f"pid_{command.expert or len(pids)}"
            out.append(f"{var}=$!")
            pids.append(var)
        out.append("failed=0")
        for var in pids:
            out.append(f'wait "${var}" || failed=1')
        out.append('exit "$failed"')
        out.append("")
    return "\n".join(out)
