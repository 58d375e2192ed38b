"""What the rules may read of a weights file the command names: its safetensors header (tensor
names and metadata) only, and only when the file may be looked at. One reader for every rule."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from loragate.environment.safetensors_header import HeaderProblem, read_header
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Setup


def weights_header(setup: Setup, inv: Invocation, value: str | None) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The header (tensor name -> entry) and metadata of the file `value` names, resolved as the
    trainer resolves it; None when it may not be looked at, is not there or is not a readable
    safetensors file."""
    if not value:
        return None
    path = setup.resolve(value, setup.base_dir(inv))
    if not setup.may_look(path, value) or not path.is_file():
        return None
    try:
        return read_header(path)
    except (HeaderProblem, OSError):
        return None


def header_keys(setup: Setup, inv: Invocation, flag: str) -> set[str] | None:
    """The tensor names in the file `flag` names, when paths are checked; None when not read."""
    read = weights_header(setup, inv, inv.value(flag)) if setup.check_paths else None
    return None if read is None else set(read[0])


def file_name(value: str | None) -> str:
    return PurePath((value or "").replace("\\", "/")).name
