"""`loragate-mcp`: the MCP server. stdio by default, streamable HTTP with --http."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import Tool
from pydantic import ValidationError

from loragate.checks import install_strict_check
from loragate.core.errors import LoragateError, unexpected_error_sentence
from loragate.plain import describe_validation
from mcp_server import shipped_tools, tool_cache
from mcp_server.nextstep import SCHEMA_HINT, error_text

INSTRUCTIONS = (
    "loragate checks a LoRA training run before any GPU time is spent. Work through the gates in "
    "order: audit_dataset (Gate 1), generate_config (or import_plan for the artist's own script) / validate_config / estimate_vram (Gate 2), "
    "validate_env (Gate 3), dry_run (Gate 4). launch refuses until all four are GO for the current "
    "dataset, plan and machine; gate_status says which gate is missing or stale. Explain every "
    "finding to the artist in plain words with its fix."
)


# Modules that register no tools and import no engine: always registered at start.
AT_START = ("prompts", "resources")


class LoragateServer(MCPServer):
    """The SDK's server, with every tool failure said as a plain sentence: bad arguments the way the
    CLI says them (not pydantic's text), and a crash as what happened, never a bare
    "Error executing tool X".

    Started by `start_server`, it may answer tools/list from `tool_cache` and register its tool
    modules (`pending`) on the first request that needs a tool; without a cache entry it registers
    them all but checks the data files (`data_checked`) on the first tool call, which tools/list does
    not need, and stores its tools/list answer only once that check passed."""

    cached_tools: list[Tool] | None = None
    pending: list[str] = []
    store_key: str | None = None
    data_checked: bool = True
    unstored: list[Tool] | None = None

    def ensure_tools(self) -> None:
        if self.pending:
            pending, self.pending = self.pending, []
            _register(self, pending)
            self.cached_tools = None

    async def list_tools(self) -> list[Tool]:
        if self.cached_tools is not None:
            return list(self.cached_tools)
        tools = await super().list_tools()
        self.unstored = tools
        self._store()
        return tools

    def _store(self) -> None:
        # An entry says the data check passed for these files: written only after it did.
        if self.store_key is not None and self.unstored is not None and self.data_checked:
            tool_cache.store(self.store_key, self.unstored)
            self.store_key, self.unstored = None, None

    async def check_data(self) -> None:
        """The data files' consistency check, once, before the first tool answers."""
        if not self.data_checked:
            from loragate.catalog.integrity import check_data

            await anyio.to_thread.run_sync(check_data)
            self.data_checked = True
            self._store()

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # The SDK validates a call's arguments against this before call_tool runs.
        self.ensure_tools()
        return super()._tool_input_schema(name)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            await self.check_data()
            self.ensure_tools()
            return await super().call_tool(name, arguments, context)
        except LoragateError as exc:  # the data check: a broken install, said as the CLI says it
            raise ToolError(f"Error executing tool {name}: {error_text(exc)}") from exc
        except UnexpectedToolError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise ToolError(f"Error executing tool {name}: {unexpected_error_sentence(cause)}") from exc
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: The arguments are not valid: "
                                f"{describe_validation(exc.__cause__, 'argument')}. {SCHEMA_HINT}") from exc.__cause__
            raise


def _modules() -> list[str]:
    from mcp_server import tools

    return sorted(info.name for info in pkgutil.iter_modules(tools.__path__))


def _register(server: MCPServer, names: list[str]) -> None:
    for name in names:
        register = getattr(importlib.import_module(f"mcp_server.tools.{name}"), "register", None)
        if register is not None:
            register(server)


def build_server(check_data: bool = True) -> LoragateServer:
    """The server with every tool registered. It refuses to serve on inconsistent data files rather
    than answer wrongly: here, or with check_data=False on its first tool call."""
    server = LoragateServer("loragate", instructions=INSTRUCTIONS)
    if check_data:
        from loragate.catalog.integrity import check_data as check

        check()
    else:
        server.data_checked = False
    _register(server, _modules())
    return server


def start_server() -> LoragateServer:
    """The server as `loragate-mcp` starts it. With a cache entry for this very code, data and SDK
    (written only after a full build passed the data check), or else the tool list shipped in the
    package when it was built from identical files and libraries (`shipped_tools`, the same
    guarantee), tools/list answers from it and the tool modules, with the engine they import, load
    on the first tool call; without either, a full build whose first tools/list answer is stored
    for the next start."""
    if not tool_cache.enabled():
        return build_server(check_data=False)
    key = tool_cache.fingerprint()
    cached = tool_cache.load(key)
    if cached is None:  # the first start after an install: the list shipped for this very code, if it is
        cached = shipped_tools.load()
    if cached is None:
        server = build_server(check_data=False)
        server.store_key = key
        return server
    server = LoragateServer("loragate", instructions=INSTRUCTIONS)
    names = _modules()
    _register(server, [name for name in names if name in AT_START])
    server.cached_tools = cached
    server.pending = [name for name in names if name not in AT_START]
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="loragate-mcp", description="loragate MCP server")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="beyond this machine: a Host name clients use (repeatable); needs LORAGATE_MCP_TOKEN")
    args = parser.parse_args(argv)
    install_strict_check()  # only with LORAGATE_STRICT_CHECKS set: the test suite's servers
    logging.basicConfig(level=logging.WARNING)  # stderr; stdout belongs to the protocol
    server = build_server() if args.http else start_server()
    if args.http:
        from mcp_server.http import serve_http

        try:
            serve_http(server, args.host, args.port, args.allow_host)
        except LoragateError as exc:
            print(f"loragate-mcp: {exc.message}\n{exc.fix}", file=sys.stderr)
            raise SystemExit(2) from None
    else:
        server.run()


if __name__ == "__main__":
    main()
