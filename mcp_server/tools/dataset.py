"""audit_dataset: Gate 1."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from loragate.core.vocabulary import TrainingType
from loragate.dataset.model import AuditReport
from mcp_server.common import WRITES_RECORD, call_engine, lazy, resolve_path

audit_dataset = lazy("loragate.dataset.audit:audit_dataset")
audit_request = lazy("loragate.dataset.request:audit_request")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="audit_dataset", title="Audit a dataset (Gate 1)", annotations=WRITES_RECORD)
    async def audit_dataset_tool(
        dataset: Annotated[str, Field(description="The dataset folder, relative to the project or absolute.")],
        trigger: Annotated[str | None, Field(description="Trigger word every caption must contain, e.g. 'mira'.")] = None,
        model: Annotated[
            str | None, Field(description="Model family id from the catalog, e.g. sdxl, pony, flux1-dev, wan2.1-t2v-14b.")
        ] = None,
        training_type: Annotated[
            TrainingType | None, Field(description="What the LoRA teaches; sets the size check.")
        ] = None,
        name: Annotated[
            str | None,
            Field(description="Project name; when given, writes grimoire/training/NAME/dataset-report.md and records Gate 1."),
        ] = None,
        caption_extension: Annotated[str, Field(description="Caption file extension.")] = ".txt",
        ctx: Context | None = None,
    ) -> AuditReport:
        """Gate 1: check a training dataset before anything else. Decodes every image once, probes
        every clip, reads every caption, finds duplicates, and returns GO or NO-GO with findings
        (code, severity, plain-language message, fix, file). Call it first when an artist brings a
        folder of images or clips, again after they fix files or edit captions, and with `name` to
        record the verdict that launch requires. It never changes the artist's files; re-audits of an
        unchanged folder come from a cache and are fast."""
        # the same request model as `loragate audit`: the same choices and sentences
        request = await call_engine(None, audit_request, dataset=resolve_path(dataset, "dataset folder"), trigger=trigger,
                                    model=model, training_type=training_type, name=name, caption_extension=caption_extension)
        return await call_engine(ctx, audit_dataset, **dict(request), progress=None)
