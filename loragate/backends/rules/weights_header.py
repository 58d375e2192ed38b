"""What the rules may read of a weights file the command names: its tensor names, from the
safetensors header only, and only when paths are checked and the file may be looked at."""

from __future__ import annotations

from pathlib import PurePath

from loragate.environment.safetensors_header import HeaderProblem, read_header
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Setup


def header_keys(setup: Setup, inv: Invocation, flag: str) -> set[str] | None:
    """The tensor names in the file `flag` names; None when it is not read (not checked, not allowed,
    not there, not a safetensors file)."""
    value = inv.value(flag) or ""
    path = setup.resolve(value, setup.base_dir(inv))
    if not value or not setup.check_paths or not setup.may_look(path, value) or not path.is_file():
        return None
    try:
        header, _ = read_header(path)
    except (HeaderProblem, OSError):
        return None
    return set(header)


def file_name(value: str | None) -> str:
    return PurePath((value or "").replace("\\", "/")).name
