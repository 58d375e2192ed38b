"""`loragate-mcp`'s start: after one full build, a start answers tools/list with exactly the tools
a full build lists, without importing the engine or its heavy libraries; its tools still work
(arguments checked, engine loaded on the first call); a stale or damaged entry is never used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server import shipped_tools, tool_cache
from mcp_server.server import build_server, start_server

ROOT = Path(__file__).resolve().parent.parent
# What a first tools/list must not pay for: the image, video, plotting and model libraries, and the
# engine packages behind the tools.
HEAVY = ("PIL", "numpy", "imagehash", "matplotlib", "av", "safetensors", "anthropic", "modal", "typer",
         "loragate.dataset", "loragate.duplicates", "loragate.runs", "loragate.validate", "loragate.evaluate",
         "loragate.cloud", "loragate.environment", "loragate.plan", "loragate.captions", "loragate.vram",
         "loragate.diagnose", "loragate.registry", "loragate.backends")
PROBE = """
import json, sys, anyio
from mcp_server import shipped_tools
from mcp_server.server import start_server
if "--no-shipped" in sys.argv:  # as after an edit to the code: the shipped list does not match it
    shipped_tools.SHIPPED = shipped_tools.SHIPPED.with_name("absent.json")
server = start_server()
tools = anyio.run(server.list_tools)
if "--call" in sys.argv:  # a first tool call: the data check, then the entry is stored
    anyio.run(server.call_tool, "list_models", {})
print(json.dumps({"deferred": bool(server.pending), "tools": len(tools), "modules": sorted(sys.modules)}))
"""


@pytest.fixture(autouse=True)
def _no_shipped_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the cache and the full build: the package's own tool list
    (tests/test_mcp_shipped_tools.py) is out of the way, as it is after any edit to the code."""
    monkeypatch.setattr(shipped_tools, "SHIPPED", shipped_tools.SHIPPED.with_name("absent.json"))


def _listed(server: Any, call: bool = True) -> list[dict[str, Any]]:
    """tools/list, then (unless told not to) a first tool call, after which an uncached start stores its entry."""

    async def listed() -> list[dict[str, Any]]:
        async with Client(server) as client:
            tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]
            if call:
                assert not (await client.call_tool("list_models", {})).is_error
            return tools

    return anyio.run(listed)


def _probe(cache: Path, use_cache: bool = True, call: bool = False) -> dict[str, Any]:
    env = {**os.environ, "LORAGATE_CACHE_DIR": str(cache)}
    env.pop(tool_cache.DISABLE_ENV, None)
    if not use_cache:
        env[tool_cache.DISABLE_ENV] = "1"
    out = subprocess.run([sys.executable, "-c", PROBE, "--no-shipped", *(["--call"] if call else [])], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cached_start_lists_the_same_tools_as_a_full_build(workspace: Path) -> None:
    full = _listed(build_server())
    first = start_server()  # no entry yet: a full build, its data check and store at the first tool call
    assert not first.pending
    assert _listed(first, call=False) == full
    assert not tool_cache.cache_file().exists()  # the data files not checked yet: nothing vouched for
    assert _listed(first) == full
    assert tool_cache.cache_file().exists()
    cached = start_server()
    assert cached.pending and cached.cached_tools is not None
    assert _listed(cached) == full
    assert len(full) >= 30


def test_a_cached_start_imports_no_engine_and_no_heavy_library(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _probe(cache, call=True)["deferred"] is False  # the first start builds everything and stores
    probe = _probe(cache)
    assert probe["deferred"] is True and probe["tools"] >= 30
    loaded = [m for m in probe["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == [], f"imported before the first tool call: {loaded}"


# What even a start without the cache must not import: the heavy libraries, and the engines whose
# tools take their arguments from light request models (the engine loads on the tool's first call).
UNCACHED_HEAVY = ("PIL", "numpy", "imagehash", "matplotlib", "av", "safetensors", "anthropic", "modal", "typer",
                  "loragate.dataset.audit", "loragate.dataset.analyze", "loragate.dataset.image_checks", "loragate.evaluate.run",
                  "loragate.evaluate.measure", "loragate.environment.gate3", "loragate.captions.vision")


def test_an_uncached_start_imports_no_heavy_library_nor_the_request_engines(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    probe = _probe(cache, use_cache=False)
    assert probe["deferred"] is False and probe["tools"] >= 30  # every tool registered, its schema built
    loaded = [m for m in probe["modules"] if any(m == h or m.startswith(h + ".") for h in UNCACHED_HEAVY)]
    assert loaded == [], f"imported by a start without the cache: {loaded}"
    assert not (cache / tool_cache.CACHE_NAME).exists()  # switched off: nothing stored either


def test_tools_of_a_cached_start_load_the_engine_on_first_call(workspace: Path) -> None:
    _listed(start_server())  # stores the entry
    server = start_server()
    assert server.pending

    async def calls() -> tuple[Any, Any]:
        async with Client(server) as client:
            await client.list_tools()
            good = await client.call_tool("list_models", {})
            bad = await client.call_tool("estimate_vram", {"model": "sdxl", "resolution": "1024", "batch": "many"})
            return good, bad

    good, bad = anyio.run(calls)
    assert not good.is_error and good.structured_content["models"]
    assert bad.is_error
    text = bad.content[0].text
    assert "batch" in text and "validation error" not in text  # the CLI's plain sentence, not pydantic's
    assert not server.pending


@pytest.mark.parametrize("damage", ["stale", "garbled"])
def test_a_stale_or_damaged_entry_is_never_served(workspace: Path, damage: str) -> None:
    full = _listed(build_server())
    path = tool_cache.cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "stale":  # an entry written by other code: same shape, other fingerprint, other tools
        path.write_text(json.dumps({"fingerprint": "0" * 64, "tools": [{"name": "gone", "inputSchema": {"type": "object"}}]}))
    else:
        path.write_text('{"fingerprint": "' + tool_cache.fingerprint() + '", "tools": [{"na')
    server = start_server()
    assert not server.pending  # a full build
    assert _listed(server) == full
    assert json.loads(path.read_text())["fingerprint"] == tool_cache.fingerprint()  # and the entry is renewed


def test_an_uncached_start_checks_the_data_files_at_the_first_tool_call(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tools/list needs no data file, so the check waits for the first call, which then refuses as a
    full build would, and no entry vouches for the broken files."""
    from loragate.catalog import integrity

    monkeypatch.setattr(integrity, "data_problems", lambda: ["presets.toml: sdxl character quick names the optimizer 'Adamw'"])
    server = start_server()

    async def calls() -> tuple[int, Any]:
        async with Client(server) as client:
            listed = len((await client.list_tools()).tools)
            return listed, await client.call_tool("list_models", {})

    listed, refused = anyio.run(calls)
    assert listed >= 30
    assert refused.is_error and "data files are inconsistent" in refused.content[0].text
    assert "Reinstall loragate" in refused.content[0].text
    assert not tool_cache.cache_file().exists()
