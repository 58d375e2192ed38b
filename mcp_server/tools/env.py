"""validate_env: Gate 3."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from loragate.core.vocabulary import BackendName
from loragate.environment.report import EnvReport
from mcp_server.common import WRITES_RECORD, call_engine, lazy

check_environment = lazy("loragate.environment.gate3:check_environment")
env_request = lazy("loragate.environment.request:env_request")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="validate_env", title="Check the machine (Gate 3)", annotations=WRITES_RECORD)
    async def validate_env_tool(
        plan: Annotated[
            str | None,
            Field(description="Project name (grimoire/training/NAME). Checks against its plan, writes environment.md and records Gate 3."),
        ] = None,
        backend: Annotated[
            BackendName | None,
            Field(description="Without a plan: which trainer to check the machine for. musubi = Wan; sdscripts = SD 1.5, SDXL, FLUX."),
        ] = None,
        ctx: Context | None = None,
    ) -> EnvReport:
        """Gate 3: check that THIS machine can run the training. Reads the GPU through the NVIDIA
        driver, asks the trainer's own Python for its PyTorch build, CUDA, packages and accelerate
        setup, checks the trainer checkout, reads only the headers of the weight files the plan names
        (right model, task and precision), and measures disk, RAM and cached tokenizers. Returns GO or
        NO-GO with findings; a version mismatch comes with the exact install command. Call it after
        Gate 2 on the machine that will train (the pod, over SSH), again after installing or fixing
        anything, and whenever gate_status says Gate 3 is stale. With `plan` it records the verdict
        that launch requires; it changes nothing else on the machine."""
        request = await call_engine(None, env_request, plan=plan, backend=backend)  # the same model as `loragate env`
        return await call_engine(ctx, check_environment, request.plan, request.backend, progress=None)
