"""gate_status: which of the four gates pass for what exists now."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from loragate.gates.ledger import GateStatus
from mcp_server.common import READ_ONLY, call_engine, lazy

gate_status = lazy("loragate.gates.ledger:gate_status")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="gate_status", title="Gate status", annotations=READ_ONLY)
    async def gate_status_tool(
        project: Annotated[str, Field(description="Project name, the folder under grimoire/training/.")],
    ) -> GateStatus:
        """Show the four gate verdicts (dataset, config, environment, dry run) for a project, how
        old each is, and whether each still holds for the current dataset, plan and machine. Call
        it before launch, at the start of a session, or when launch refuses; each failing gate
        names the command that re-runs it."""
        return await call_engine(None, gate_status, project)
