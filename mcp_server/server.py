"""`loragate-mcp`: the MCP server. stdio by default, streamable HTTP with --http."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from loragate.errors import LoragateError, unexpected_error_sentence
from loragate.plain import describe_validation

INSTRUCTIONS = (
    "loragate checks a LoRA training run before any GPU time is spent. Work through the gates in "
    "order: audit_dataset (Gate 1), generate_config (or import_plan for the artist's own script) / validate_config / estimate_vram (Gate 2), "
    "validate_env (Gate 3), dry_run (Gate 4). launch refuses until all four are GO for the current "
    "dataset, plan and machine; gate_status says which gate is missing or stale. Explain every "
    "finding to the artist in plain words with its fix."
)


class LoragateServer(MCPServer):
    """The SDK's server, with every tool failure said as a plain sentence: bad arguments the way the
    CLI says them (not pydantic's text), and a crash as what happened, never a bare
    "Error executing tool X"."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise ToolError(f"Error executing tool {name}: {unexpected_error_sentence(cause)}") from exc
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: The arguments are not valid: "
                                f"{describe_validation(exc.__cause__, 'argument')}") from exc.__cause__
            raise


def build_server() -> MCPServer:
    from loragate.catalog.integrity import check_data

    check_data()  # refuse to serve on inconsistent data files rather than answer wrongly
    server = LoragateServer("loragate", instructions=INSTRUCTIONS)
    from mcp_server import tools

    for info in sorted(pkgutil.iter_modules(tools.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{tools.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(server)
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="loragate-mcp", description="loragate MCP server")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="beyond this machine: a Host name clients use (repeatable); needs LORAGATE_MCP_TOKEN")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)  # stderr; stdout belongs to the protocol
    server = build_server()
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
