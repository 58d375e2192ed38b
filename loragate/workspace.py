"""Where the record lives: `grimoire/` under the workspace root.

The root is `LORAGATE_ROOT` when set, else `CLAUDE_PROJECT_DIR` (Claude Code sets it for the MCP
server), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from loragate.names import check_name


def workspace_root() -> Path:
    for var in ("LORAGATE_ROOT", "CLAUDE_PROJECT_DIR"):
        value = os.environ.get(var)
        if value:
            return Path(value).expanduser().resolve()
    return Path.cwd().resolve()


def cache_dir() -> Path:
    """`LORAGATE_CACHE_DIR`, else ~/.cache/loragate: what loragate may recompute (analyses, the MCP
    tool list), kept outside every dataset and project."""
    return Path(os.environ.get("LORAGATE_CACHE_DIR") or Path.home() / ".cache" / "loragate").expanduser().resolve()


def grimoire_dir(root: Path | None = None) -> Path:
    return (root or workspace_root()) / "grimoire"


def training_dir(root: Path | None = None) -> Path:
    return grimoire_dir(root) / "training"


def project_dir(name: str, root: Path | None = None, create: bool = False) -> Path:
    """The folder of one training project, `grimoire/training/NAME/`."""
    path = training_dir(root) / check_name(name)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
