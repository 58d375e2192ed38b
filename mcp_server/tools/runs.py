"""dry_run, launch, stop, adopt_run, continue_run: Gate 4 and the supervised training."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from loragate.core.errors import LoragateError
from loragate.runs.request import DryRunSteps
from loragate.runs.results import AdoptResult, ContinueResult, DryRunReport, LaunchResult, StopResult
from mcp_server.common import RUNS_TRAINING, call_engine, lazy, resolve_path
from mcp_server.nextstep import error_text

# Runs the trainer and writes its record (dry-run.md/json, Gate 4): not read-only, not destructive.
RUNS_DRY_RUN = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


class ConfirmLaunch(BaseModel):
    proceed: bool = Field(description="Start the training now (it uses the GPU until it finishes or is stopped).")


class LaunchOutcome(BaseModel):
    launched: bool
    job: LaunchResult | None = None
    message: str


async def confirm_launch(project: str) -> Elicit[ConfirmLaunch]:
    # Refuse before asking: a person should never confirm a launch the gates would block.
    try:
        require_all_gates(project)
    except LoragateError as exc:
        raise ToolError(error_text(exc)) from exc
    return Elicit(
        f"Start training '{project}' now? It runs in the background on the GPU until it finishes or you stop it.",
        ConfirmLaunch,
    )


require_all_gates = lazy("loragate.gates.ledger:require_all_gates")
dry_run = lazy("loragate.runs.dryrun:dry_run")
dry_run_request = lazy("loragate.runs.request:dry_run_request")
launch = lazy("loragate.runs.launch:launch")
continue_run = lazy("loragate.runs.resume:continue_run")
stop = lazy("loragate.runs.stop:stop")
adopt = lazy("loragate.runs.adopt:adopt")
require_orphan = lazy("loragate.runs.adopt:require_orphan")


class ConfirmAdopt(BaseModel):
    proceed: bool = Field(description="Supervise the running training again (it may then start the runs still to come).")


class AdoptOutcome(BaseModel):
    adopted: bool
    job: AdoptResult | None = None
    message: str


async def confirm_adopt(project: str) -> Elicit[ConfirmAdopt]:
    # Refuse before asking: nobody should confirm adopting a training that is no orphan.
    try:
        require_orphan(project)
    except LoragateError as exc:
        raise ToolError(error_text(exc)) from exc
    return Elicit(
        f"Supervise the training of '{project}' again? Its trainer keeps running as it is; the new supervisor also "
        "starts what the launch still has to run (the other expert, out-of-memory retries) on the GPU.",
        ConfirmAdopt,
    )


def register(mcp: MCPServer) -> None:
    @mcp.tool(name="dry_run", title="Dry run (Gate 4)", annotations=RUNS_DRY_RUN)
    async def dry_run_tool(
        project: Annotated[str, Field(description="Project name, the folder under grimoire/training/.")],
        ctx: Context,
        steps: Annotated[DryRunSteps, Field(description="Training steps to run (2-5).")] = 5,
    ) -> DryRunReport:
        """Gate 4: run the plan's real caching and training commands for 2-5 steps into a scratch
        folder, classify any failure in plain words with its fix, measure seconds per step and peak
        GPU memory (Wan 2.2 experts placed as launch will run them, so their combined peak too), and
        record the verdict. Call it after Gates 1-3 pass and before launch, and again
        after any change to the plan. Takes minutes on a real model (it loads it)."""
        request = await call_engine(None, dry_run_request, name=project, steps=steps)  # the same model as `loragate dry-run`
        return await call_engine(ctx, dry_run, request.name, steps=request.steps, progress=None)

    @mcp.tool(
        name="launch",
        title="Launch training",
        annotations=RUNS_TRAINING,
        meta={"anthropic/requiresUserInteraction": True},
    )
    async def launch_tool(
        project: Annotated[str, Field(description="Project name, the folder under grimoire/training/.")],
        confirm: Annotated[ElicitationResult[ConfirmLaunch], Resolve(confirm_launch)],
    ) -> LaunchOutcome:
        """Start the training of a project in the background after the user confirms. Refuses unless
        all four gates are GO for the current dataset, plan and machine (there is no override; the
        error names the gate to re-run). Returns a job handle at once; the job lives until it
        completes, fails or is stopped, and survives this server exiting. Follow it with monitor."""
        if not (isinstance(confirm, AcceptedElicitation) and confirm.data.proceed):
            return LaunchOutcome(launched=False, message=f"Not launched: the user did not confirm starting '{project}'.")
        result = await call_engine(None, launch, project)
        return LaunchOutcome(launched=True, job=result, message=result.message)

    @mcp.tool(name="stop", title="Stop training", annotations=RUNS_TRAINING)
    async def stop_tool(
        project: Annotated[str, Field(description="Project name.")],
        grace_seconds: Annotated[float, Field(ge=0, le=600, description="Time the trainer gets to save after the interrupt.")] = 30.0,
    ) -> StopResult:
        """Stop a running training: interrupt it so it can save, then terminate, then kill. Call it
        when the user asks to stop, or when monitor reports a diverged or stalled run."""
        return await call_engine(None, stop, project, interrupt_grace_s=grace_seconds)

    @mcp.tool(
        name="adopt_run",
        title="Adopt an unsupervised training",
        annotations=RUNS_TRAINING,
        meta={"anthropic/requiresUserInteraction": True},
    )
    async def adopt_tool(
        project: Annotated[str, Field(description="Project name.")],
        confirm: Annotated[ElicitationResult[ConfirmAdopt], Resolve(confirm_adopt)],
    ) -> AdoptOutcome:
        """Give a training whose supervisor was killed (monitor reports the trainer running
        unsupervised) a new supervisor, after the user confirms: it watches the running trainer to
        its end, records COMPLETE or FAILED with the cause, and runs what the launch still had to
        run (the other Wan 2.2 expert, out-of-memory retries). The running trainer keeps its
        settings. Errors when there is nothing to adopt."""
        if not (isinstance(confirm, AcceptedElicitation) and confirm.data.proceed):
            return AdoptOutcome(adopted=False, message=f"Not adopted: the user did not confirm for '{project}'.")
        result = await call_engine(None, adopt, project)
        return AdoptOutcome(adopted=True, job=result, message=result.message)

    @mcp.tool(name="continue_run", title="Continue from a checkpoint", annotations=RUNS_TRAINING)
    async def continue_tool(
        project: Annotated[str, Field(description="Project name.")],
        checkpoint: Annotated[str, Field(description="The checkpoint .safetensors to continue from (path in the workspace).")],
        learning_rate: Annotated[float | None, Field(gt=0, description="New learning rate, usually lower (Prodigy runs at 1.0; Gate 2 judges it against the optimizer's range).")] = None,
        epochs: Annotated[int | None, Field(ge=1, description="Epochs to train from the checkpoint.")] = None,
    ) -> ContinueResult:
        """Write a new plan version that continues a run from a chosen checkpoint with
        --network_weights (never --resume, which restarts the step count with stale settings). The
        plan changes, so Gates 2 and 4 must pass again before launch; the result lists the commands."""
        path = resolve_path(checkpoint, "checkpoint")
        return await call_engine(None, continue_run, project, str(path), learning_rate=learning_rate, epochs=epochs)
