"""The reference docs (resources/SECTION/NAME.md) as MCP resources, for clients without the skill.

Each file is listed as `loragate://resources/SECTION/NAME.md`; the same URI template also serves
files added after the server started. Only `.md` files inside resources/ can be read.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.mcpserver.resources import FileResource

import mcp_server

RESOURCES_DIR = Path(mcp_server.__file__).resolve().parents[1] / "resources"
URI_PREFIX = "loragate://resources/"
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def resource_files(root: Path = RESOURCES_DIR) -> list[Path]:
    """Every reference doc, sorted; hidden files and folders are left out."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.md") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def read_reference(section: str, name: str, root: Path = RESOURCES_DIR) -> str:
    """The text of resources/SECTION/NAME, refusing anything that is not a doc inside resources/."""
    for part in (section, name):
        if not _PART.match(part) or ".." in part:
            raise ResourceError(f"{part!r} is not a reference doc name.")
    path = (root / section / name).resolve()
    if path.suffix != ".md" or not path.is_relative_to(root.resolve()) or not path.is_file():
        raise ResourceError(f"There is no reference doc {section}/{name}; list the resources to see which exist.")
    return path.read_text(encoding="utf-8")


def _title(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("# "):
                    return line[2:].strip()
    except (OSError, UnicodeDecodeError):
        pass
    return path.stem


def register(mcp: MCPServer) -> None:
    for path in resource_files():
        rel = path.relative_to(RESOURCES_DIR).as_posix()
        mcp.add_resource(
            FileResource(
                uri=URI_PREFIX + rel,
                name=rel,
                title=_title(path),
                description=f"loragate reference: {_title(path)} ({rel}).",
                mime_type="text/markdown",
                path=path,
            )
        )

    @mcp.resource(
        URI_PREFIX + "{section}/{name}",
        name="reference_doc",
        title="loragate reference doc",
        description="A reference doc by section and file name, e.g. loragate://resources/dataset/captioning-guide.md.",
        mime_type="text/markdown",
    )
    def reference_doc(section: str, name: str) -> str:
        return read_reference(section, name)
