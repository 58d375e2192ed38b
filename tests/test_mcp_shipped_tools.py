"""The tool list shipped in the package: the first start after an install answers tools/list from it
without importing the tool modules, exactly as a full build would answer; it is current for the
code in this checkout; and a list that does not match the files or the libraries here is never
served."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server import shipped_tools, tool_cache
from mcp_server.server import build_server, start_server

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "mcp_server/tools.json is out of date: run `python -m mcp_server.shipped_tools --write` and commit it"
PROBE = """
import json, sys, anyio
from mcp_server.server import start_server
server = start_server()
tools = anyio.run(server.list_tools)
print(json.dumps({"deferred": bool(server.pending), "tools": len(tools), "modules": sorted(sys.modules)}))
"""


def _shipped() -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(shipped_tools.SHIPPED.read_text(encoding="utf-8"))
    return entry


def _libraries_match() -> bool:
    return bool(_shipped()["libraries"] == shipped_tools.libraries())


def _listed(server: Any) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]]:
        async with Client(server) as client:
            tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]
            assert not (await client.call_tool("list_models", {})).is_error
            return tools

    return anyio.run(listed)


def test_the_shipped_list_is_the_one_this_code_builds() -> None:
    """Built again in a fresh process, as `--write` builds it: same files, same digest and, with the
    same libraries, the same tools. Fails after any edit a schema could come from until the file is
    written again."""
    out = subprocess.run([sys.executable, "-m", "mcp_server.shipped_tools"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    fresh, shipped = json.loads(out.stdout), _shipped()
    assert fresh["files"] == shipped["files"], REGENERATE
    assert fresh["digest"] == shipped["digest"], REGENERATE
    if fresh["libraries"] == shipped["libraries"]:
        assert fresh["tools"] == shipped["tools"], REGENERATE
        assert shipped_tools.load() is not None
    else:  # other libraries here than where it was written: never served, a full build answers
        assert shipped_tools.load() is None


def test_the_first_start_after_an_install_answers_from_the_shipped_list(workspace: Path) -> None:
    if not _libraries_match():
        pytest.skip(f"tools.json was written with {_shipped()['libraries']}, this is {shipped_tools.libraries()}")
    full = _listed(build_server())
    assert not tool_cache.cache_file().exists()
    first = start_server()
    assert first.pending, "the shipped list was not used"
    assert _listed(first) == full
    assert start_server().pending  # and so does the next: nothing to store, the package holds it


def test_the_first_start_imports_no_tool_module(tmp_path: Path) -> None:
    if not _libraries_match():
        pytest.skip(f"tools.json was written with {_shipped()['libraries']}, this is {shipped_tools.libraries()}")
    env = {**os.environ, "LORAGATE_CACHE_DIR": str(tmp_path / "empty-cache")}
    env.pop(tool_cache.DISABLE_ENV, None)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["deferred"] is True and probe["tools"] >= 30
    loaded = [m for m in probe["modules"] if m.startswith(("mcp_server.tools.plan", "loragate.core.plan", "PIL", "numpy"))]
    assert loaded == []


def _damage(entry: dict[str, Any], how: str) -> str:
    if how == "edited file":  # the digest of other contents, as after an edit to a listed file
        entry["digest"] = "0" * 64
    elif how == "missing file":
        entry["files"] = [*entry["files"], "loragate/gone.py"]
    elif how == "escaping name":
        entry["files"] = [*entry["files"], "loragate/../../etc/hostname"]
    elif how == "other pydantic":
        entry["libraries"] = {**entry["libraries"], "pydantic": "2.0.0"}
    elif how == "other python":
        entry["libraries"] = {**entry["libraries"], "python": "3.99"}
    elif how == "files not a list":
        entry["files"] = "loragate/core/plan.py"
    elif how == "garbled":
        return json.dumps(entry)[:5000]
    return json.dumps(entry)


@pytest.mark.parametrize("how", ["edited file", "missing file", "escaping name", "other pydantic", "other python",
                                 "files not a list", "garbled"])
def test_a_shipped_list_that_does_not_match_is_never_served(workspace: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    copy = tmp_path / "tools.json"
    copy.write_text(_damage(_shipped(), how), encoding="utf-8")
    monkeypatch.setattr(shipped_tools, "SHIPPED", copy)
    assert shipped_tools.load() is None
    server = start_server()
    assert not server.pending  # a full build answers
    assert _listed(server) == _listed(build_server())


def test_the_digest_follows_every_kind_of_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit to a listed file, a data file added, a tool module added: each gives another digest."""
    packages = {}
    for name, package in shipped_tools.PACKAGES.items():
        shutil.copytree(Path(list(package.__path__)[0]), tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        packages[name] = SimpleNamespace(__path__=[str(tmp_path / name)])
    monkeypatch.setattr(shipped_tools, "PACKAGES", packages)
    monkeypatch.setattr(sys.modules["mcp_server.tools"], "__path__", [str(tmp_path / "mcp_server" / "tools")])
    files = _shipped()["files"]
    seen = {shipped_tools.digest(files)}
    plan = tmp_path / "loragate" / "core" / "plan.py"
    plan.write_text(plan.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    seen.add(shipped_tools.digest(files))
    (tmp_path / "loragate" / "data" / "extra.toml").write_text("x = 1\n", encoding="utf-8")
    seen.add(shipped_tools.digest(files))
    (tmp_path / "mcp_server" / "tools" / "newtool.py").write_text("def register(mcp): pass\n", encoding="utf-8")
    seen.add(shipped_tools.digest(files))
    assert None not in seen and len(seen) == 4
