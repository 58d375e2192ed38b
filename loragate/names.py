"""Names that end up in paths or trainer arguments are checked against one strict pattern."""

from __future__ import annotations

import re

from loragate.core.errors import LoragateError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str, what: str = "project name") -> str:
    """Return the name unchanged, or raise if it could escape a folder or break a command line."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise LoragateError(
            f"The {what} {name!r} is not allowed.",
            "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (for example 'mira_v1').",
        )
    return name
