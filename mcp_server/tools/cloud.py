"""Cloud GPUs: offers with their cost, up (spend confirmed like launch), work on the pod, pull,
down, status, and Modal."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import AcceptedElicitation, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from loragate.cloud.model import CloudStatus, OffersReport, ProviderName, SpendQuote
from loragate.cloud.request import GuardMinutes, IdleMinutes, RentalProvider, SpendCap, offers_request, sync_request, up_request
from loragate.cloud.results import DownResult, ModalApp, ModalPull, ModalRun, PullResult, RemoteRun, SyncResult, UpResult
from loragate.core.errors import LoragateError
from mcp_server.common import call_engine, lazy

# The engines load on a tool's first call; the models above are all the tool list needs.
write_modal_app = lazy("loragate.cloud.modal_app:write_modal_app")
modal_run = lazy("loragate.cloud.modal_run:modal_run")
modal_pull = lazy("loragate.cloud.modal_run:modal_pull")
cloud_offers = lazy("loragate.cloud.offers:cloud_offers")
remote = lazy("loragate.cloud.remote:remote")
approve_spend = lazy("loragate.cloud.spend:approve_spend")
cloud_status = lazy("loragate.cloud.status:cloud_status")
down = lazy("loragate.cloud.status:down")
pull = lazy("loragate.cloud.sync:pull")
sync = lazy("loragate.cloud.sync:sync")
make_quote = lazy("loragate.cloud.up:make_quote")
up = lazy("loragate.cloud.up:up")

Project = Annotated[str, Field(description="Project name, the folder under grimoire/training/.")]
# Asks a provider's API: reads the world outside, writes nothing.
ASKS_PROVIDER = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)
# Rents, runs on or ends a machine that costs money.
SPENDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
ENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True)


class ConfirmSpend(BaseModel):
    proceed: bool = Field(description="Rent this machine now at the stated price (it bills until it is terminated).")


class UpOutcome(BaseModel):
    rented: bool
    quote: SpendQuote | None = None
    result: UpResult | None = None
    message: str


async def quote_for(project: str, provider: str, gpu: str, max_usd: float | None = None, idle_minutes: int | None = None) -> SpendQuote:
    # the same request model as `loragate cloud up`: the same bounds, choices and sentences
    request = await call_engine(None, up_request, project=project, provider=provider, gpu=gpu, max_usd=max_usd, idle_minutes=idle_minutes)
    return await call_engine(None, make_quote, **dict(request))


async def confirm_spend(quote: Annotated[SpendQuote, Resolve(quote_for)]) -> Elicit[ConfirmSpend]:
    return Elicit(quote.message + " Rent it now?", ConfirmSpend)


def register(mcp: MCPServer) -> None:
    @mcp.tool(name="cloud_offers", title="Cloud GPU offers and cost", annotations=ASKS_PROVIDER)
    async def offers_tool(
        provider: Annotated[ProviderName | None, Field(description="One provider, or all.")] = None,
        project: Annotated[str | None, Field(description="Project whose plan the cards must fit.")] = None,
    ) -> OffersReport:
        """List rentable GPUs with live prices (a dated table when a provider does not answer, with its
        date), the ones the plan fits with the 20% margin, the expected run time (the dry run scaled
        between cards, else an estimate), the total cost with storage, and the spend cap loragate
        would enforce. Call it before cloud_up and tell the artist the cost."""
        request = await call_engine(None, offers_request, provider=provider, project=project)  # as `loragate cloud offers`
        return await call_engine(None, cloud_offers, request.provider, request.project)

    @mcp.tool(name="cloud_up", title="Rent a cloud GPU", annotations=SPENDS, meta={"anthropic/requiresUserInteraction": True})
    async def up_tool(
        project: Project,
        provider: Annotated[RentalProvider, Field(description="Where to rent.")],
        gpu: Annotated[str, Field(description="The card as cloud_offers names it, e.g. 'A100 80GB'.")],
        quote: Annotated[SpendQuote, Resolve(quote_for)],
        confirm: Annotated[ElicitationResult[ConfirmSpend], Resolve(confirm_spend)],
        max_usd: Annotated[SpendCap | None, Field(description="Spend cap in dollars (default: 1.5x the expected total).")] = None,
        idle_minutes: Annotated[GuardMinutes | None, Field(description="The machine ends itself if no cloud_sync reaches it within these minutes (default 30).")] = None,
    ) -> UpOutcome:
        """Rent a GPU for a project after the user confirms the stated cost: the price, the expected
        total and the cap the pod's watchdog enforces. Records the instance in studio.md and the
        project; an instance that never starts is terminated, and one that no cloud_sync reaches
        within idle_minutes ends itself. Follow with cloud_sync."""
        if not (isinstance(confirm, AcceptedElicitation) and confirm.data.proceed):
            return UpOutcome(rented=False, quote=quote, message="Not rented: the user did not say yes to the cost. Nothing was spent.")
        try:
            approve_spend(quote)
        except LoragateError as exc:
            raise ToolError(str(exc)) from exc
        result = await call_engine(None, up, quote)
        return UpOutcome(rented=result.started, quote=quote, result=result, message=result.message)

    @mcp.tool(name="cloud_down", title="End cloud instances", annotations=ENDS)
    async def down_tool(project: Project, instance: Annotated[str | None, Field(description="Only this instance id.")] = None) -> DownResult:
        """Terminate the project's cloud instances (all that still bill, or one) and mark them
        TERMINATED in studio.md; warns about storage that still bills. Call it right after cloud_pull."""
        return await call_engine(None, down, project, instance)

    @mcp.tool(name="cloud_status", title="Cloud instances and their cost", annotations=ASKS_PROVIDER)
    async def status_tool() -> CloudStatus:
        """Every instance loragate started, in every project, with its state and cost so far; says
        what still bills. Call it at the start of every session."""
        return await call_engine(None, cloud_status)

    @mcp.tool(name="cloud_sync", title="Send the project to the pod", annotations=SPENDS)
    async def sync_tool(project: Project, idle_minutes: Annotated[IdleMinutes, Field(description="Idle minutes before the watchdog ends the pod.")] = 30) -> SyncResult:
        """Send the dataset, the project record and loragate to the pod over SSH (resumable), install
        loragate there and start the watchdog that ends the pod when idle, done or at the cap."""
        request = await call_engine(None, sync_request, project=project, idle_minutes=idle_minutes)  # as `loragate cloud sync`
        return await call_engine(None, sync, request.project, install=request.install, idle_minutes=request.idle_minutes)

    @mcp.tool(name="cloud_run", title="Gates and training on the pod", annotations=SPENDS)
    async def run_tool(
        project: Project,
        step: Annotated[Literal["env", "dry-run", "launch", "monitor"], Field(description="env: Gate 3; dry-run: Gate 4 (detached); launch; monitor.")],
    ) -> RemoteRun:
        """Run a gate, the launch or the monitor with loragate on the pod; the dry run and training
        run detached there (an SSH drop stops nothing). The pod's record comes back each time. Call it
        after cloud_sync: env first, then dry-run, then launch after the artist's yes."""
        return await call_engine(None, remote, project, step)

    @mcp.tool(name="cloud_pull", title="Bring results home", annotations=SPENDS)
    async def pull_tool(project: Project) -> PullResult:
        """Copy the LoRA, checkpoints, samples, logs and record from the pod into grimoire/ (resumable);
        marks them pulled so the watchdog may end the pod once training is over. Call it when monitor
        says the run is complete, and before cloud_down."""
        return await call_engine(None, pull, project)

    @mcp.tool(name="cloud_modal", title="Train on Modal", annotations=SPENDS)
    async def modal_tool(
        project: Project,
        action: Annotated[Literal["write", "run", "pull"], Field(description="write modal_app.py, run it (detached), or pull results.")],
        gpu: Annotated[str | None, Field(description="Modal GPU for write (default: the cheapest the plan fits).")] = None,
    ) -> ModalApp | ModalRun | ModalPull:
        """Modal: write the app for a --platform modal plan (one function per stage and per Wan 2.2
        expert), run it (check, cache, then both experts at once), or pull the results from its Volume.
        State the cost from cloud_offers before run; call pull when the run is complete."""
        if action == "write":
            return await call_engine(None, write_modal_app, project, gpu)
        if action == "run":
            return await call_engine(None, modal_run, project)
        return await call_engine(None, modal_pull, project)

