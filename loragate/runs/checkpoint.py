"""Checking a LoRA file the trainer wrote: present, non-empty, and its safetensors header readable."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from loragate.environment.safetensors_header import HeaderProblem, read_header

if TYPE_CHECKING:
    from loragate.core.plan import Command
    from loragate.runs.job import ProcessRecord


def lora_rank(path: Path) -> int | None:
    """The rank of a LoRA file: the first dimension of a `lora_down.weight` tensor."""
    try:
        tensors, _ = read_header(path)
    except (HeaderProblem, OSError):
        return None
    for name, info in tensors.items():
        if name.endswith("lora_down.weight") and info.get("shape"):
            return int(info["shape"][0])
    return None


def safetensors_problem(path: Path) -> str | None:
    """None when the file looks like a complete safetensors file, else what is wrong, in words."""
    try:
        tensors, _ = read_header(path)
    except FileNotFoundError:
        return f"{path.name} was not written."
    except HeaderProblem as exc:
        return f"{path.name} is {'incomplete' if exc.code == 'truncated' else 'damaged'}: {exc.detail}."
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.__class__.__name__})."
    if not tensors:
        return f"{path.name} holds no tensors."
    return None


def final_checkpoint(step: "Command | ProcessRecord") -> Path | None:
    """The final LoRA a training step writes, as its backend recorded it in the command (and the
    job); steps recorded before that are read by the backend from their command line."""
    from loragate.backends.argv import final_lora_of

    output = step.output or final_lora_of(step.argv)
    return Path(output) if output else None
