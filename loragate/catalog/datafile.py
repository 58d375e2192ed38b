"""Reading the versioned TOML data files shipped in loragate/data/."""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_data_toml(name: str) -> dict[str, Any]:
    """Parse loragate/data/<name> (a packaged TOML file)."""
    text = resources.files("loragate.data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)
