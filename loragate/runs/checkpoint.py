"""Checking a LoRA file the trainer wrote: present, non-empty, and its safetensors header readable."""

from __future__ import annotations

from pathlib import Path

from loragate.environment.safetensors_header import HeaderProblem, read_header
from loragate.runs.classify import argv_values


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


def final_checkpoint(argv: list[str]) -> Path | None:
    """`{output_dir}/{output_name}.safetensors`, the name both trainers give the final LoRA
    (musubi-tuner.md §3 "Checkpoints", sd-scripts.md §4.3)."""
    values = argv_values(argv)
    if "--output_dir" not in values or "--output_name" not in values:
        return None
    return Path(values["--output_dir"]) / f"{values['--output_name']}.safetensors"
