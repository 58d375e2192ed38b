"""gate_status: which gates pass for what exists now."""

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
        """Show the gate verdicts for a project: the four a launch needs (dataset, config,
        environment, dry run), Gate 5, the evaluation a registration needs (its LoRA files
        unchanged since), and the spend gate (the user's yes to a cloud cost, valid 30 minutes); how old each is, and whether each still holds for the current dataset,
        plan, machine and checkpoints. Call it before launch, at the start of a session, or when
        launch or register_lora refuses; each failing gate names the tool call that re-runs it."""
        return await call_engine(None, gate_status, project)
