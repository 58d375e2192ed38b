"""The tools/list answer shipped inside the package, so the very first start after an install answers
as fast as a cached one (`tool_cache` only helps from the second start on).

`tools.json` beside this file is written by `python -m mcp_server.shipped_tools --write`, which
builds the server in a fresh process (data check included), lists its tools and records what that
answer came from: the loragate and mcp_server files the build and the check imported, every file
under loragate/data, the tool modules' names, and the Python, pydantic and mcp versions. A start
uses the shipped answer only when all of that is identical here, compared by content, so a file
edited after the release, another pydantic or SDK, another Python or a damaged `tools.json` only
cost the full build; they never change an answer. `tests/test_mcp_shipped_tools.py` fails when the
shipped file no longer matches the code, and says to run the command above.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
from mcp.types import Tool

import loragate
import mcp_server

SHIPPED = Path(__file__).with_name("tools.json")
PACKAGES = {"loragate": loragate, "mcp_server": mcp_server}
DATA = "loragate/data"


def libraries() -> dict[str, str]:
    """What else a tool's schema comes from: the Python, pydantic and the SDK."""
    try:
        sdk = version("mcp")
    except PackageNotFoundError:  # pragma: no cover - the SDK imported without its metadata
        sdk = "unknown"
    return {"python": "%d.%d" % sys.version_info[:2], "pydantic": pydantic.VERSION,
            "pydantic_core": pydantic_core.__version__, "mcp": sdk}


def _local(relative: str) -> Path | None:
    """`loragate/core/plan.py` as a path of the installed package, or None outside both packages."""
    top, _, rest = relative.partition("/")
    package = PACKAGES.get(top)
    if package is None or not rest or ".." in Path(rest).parts:
        return None
    return Path(list(package.__path__)[0]) / rest


def _relative(path: Path) -> str | None:
    for top, package in PACKAGES.items():
        root = Path(list(package.__path__)[0])
        if path.is_relative_to(root):
            return f"{top}/{path.relative_to(root).as_posix()}"
    return None


def data_files() -> list[str]:
    """Every file under loragate/data as it is here: one added or removed changes the digest too."""
    root = _local(DATA)
    found: list[str] = []
    if root is None:  # pragma: no cover - DATA names the loragate package
        return found
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [f"{DATA}/{(Path(folder) / name).relative_to(root).as_posix()}" for name in sorted(files) if not name.endswith(".pyc")]
    return found


def tool_modules() -> list[str]:
    import pkgutil

    from mcp_server import tools

    return sorted(info.name for info in pkgutil.iter_modules(tools.__path__))


def digest(files: list[str]) -> str | None:
    """One hash of the listed files' contents (with their names), the data files and the tool modules'
    names; None when a listed file is missing or unreadable."""
    sha = hashlib.sha256()
    sha.update(("\0".join(tool_modules()) + "\n").encode())
    for relative in sorted(set(files) | set(data_files())):
        path = _local(relative)
        if path is None:
            return None
        try:
            content = path.read_bytes()
        except OSError:
            return None
        sha.update(f"{relative}\0{len(content)}\n".encode("utf-8", "surrogateescape"))
        sha.update(content)
    return sha.hexdigest()


def load() -> list[Tool] | None:
    """The shipped tools when they were built from exactly this code, data and libraries, else None."""
    try:
        shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
        if shipped.get("libraries") != libraries():
            return None
        files = shipped["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            return None
        if digest(files) != shipped["digest"]:
            return None
        return [Tool.model_validate(tool) for tool in shipped["tools"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pydantic.ValidationError):
        return None


def _imported_files() -> list[str]:
    """The loragate and mcp_server source files this process has imported."""
    found = set()
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if origin and origin.endswith(".py"):
            relative = _relative(Path(origin))
            if relative is not None:
                found.add(relative)
    return sorted(found)


def build_entry() -> dict[str, Any]:
    """Build the server as a start without any cache does (data check first), list its tools, and
    record what the answer came from. Run it in a fresh process: whatever else was imported before
    only makes the entry stricter."""
    import anyio

    from mcp_server.server import build_server

    server = build_server(check_data=True)
    tools = anyio.run(server.list_tools)
    files = _imported_files()
    entry_digest = digest(files)
    if entry_digest is None:  # pragma: no cover - a file imported a moment ago is gone
        raise SystemExit("a source file vanished while building the tool list; run it again")
    return {"libraries": libraries(), "digest": entry_digest, "files": files,
            "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mcp_server.shipped_tools", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {SHIPPED.name} (run after changing a tool, a model or a data file)")
    args = parser.parse_args(argv)
    text = json.dumps(build_entry(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if not args.write:
        sys.stdout.write(text)
        return
    from loragate.atomic import atomic_write_text

    atomic_write_text(SHIPPED, text)
    print(f"wrote {SHIPPED} ({len(text) // 1024} KB)")


if __name__ == "__main__":
    main()
