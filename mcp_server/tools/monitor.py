"""monitor: how a launched training is going."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from loragate.runs.results import MonitorReport
from mcp_server.common import call_engine, lazy

# It reads the logs and never touches the training or its checkpoints, but it does refresh
# progress.md, loss.png and monitor-state.json in the project folder: not strictly read-only.
MONITOR = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


monitor = lazy("loragate.runs.monitor:monitor")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="monitor", title="Monitor training", annotations=MONITOR)
    async def monitor_tool(
        project: Annotated[str, Field(description="Project name, the folder under grimoire/training/.")],
        ctx: Context,
    ) -> MonitorReport:
        """Report how a launched training is going: status (RUNNING, COMPLETE, FAILED, STALLED)
        with the cause and the fix in plain words, step and total, epoch, loss, time left, GPU
        memory, loss warnings (NaN, divergence, plateau), the checkpoints and the job's events
        (out-of-memory retries). Call it after `launch` and whenever the artist asks about a
        running training; poll it every few minutes rather than continuously. It refreshes the
        project's progress.md and loss.png."""
        return await call_engine(ctx, monitor, project, progress=None)
