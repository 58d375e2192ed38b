"""write_captions and caption_dataset: approved captions to sidecar files, then the batch."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from loragate.captions.model import (
    ApprovedSample,
    CaptionBatchReport,
    CaptionWriteReport,
)
from mcp_server.common import call_engine, lazy, resolve_path

# Writes caption files beside the artist's pictures. Not destructive: a replaced caption's text is
# kept in the dataset's .caption-history/ first. The same call twice changes nothing more.
WRITES_CAPTIONS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Same files, but every call sends pictures to the Anthropic API (an outside service that costs money).
CALLS_VISION = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


write_approved = lazy("loragate.captions.approved:write_approved")
caption_dataset = lazy("loragate.captions.batch:caption_dataset")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="write_captions", title="Write approved captions", annotations=WRITES_CAPTIONS)
    async def write_captions_tool(
        dataset: Annotated[str, Field(description="The dataset folder, relative to the project or absolute.")],
        trigger: Annotated[str, Field(description="The trigger word; every caption is written starting with it.")],
        captions: Annotated[
            list[ApprovedSample],
            Field(description="The captions the artist approved: image path relative to the dataset, caption, and "
                              "the content and style elements it names.", min_length=1),
        ],
        model: Annotated[str | None, Field(description="Model family id (pony/illustrious: booru tags; flux1-dev, wan, sdxl: sentences).")] = None,
        overwrite: Annotated[bool, Field(description="Replace captions that already say something else (the old text is kept in .caption-history/). Only when the artist asked.")] = False,
        save_as: Annotated[
            str | None,
            Field(description="Also save these as the approved samples file for caption_dataset, e.g. grimoire/training/NAME/APPROVED.json."),
        ] = None,
        caption_extension: Annotated[str, Field(description="Caption file extension.")] = ".txt",
    ) -> CaptionWriteReport:
        """Write captions the artist approved as sidecar text files beside their pictures: the
        trigger word first, one line, in the model's caption style. Call it after the artist approves
        the sample captions (usually five) and whenever they correct a caption. A caption file that
        already says something else is left alone and reported as skipped unless overwrite is set;
        with overwrite the old text is saved in the dataset's .caption-history/ first, so nothing is
        lost. Pass save_as to keep the approved samples for caption_dataset. Gate 1 must be re-run
        after captions change."""
        folder = resolve_path(dataset, "dataset folder")
        approved_file = resolve_path(save_as, "approved samples file") if save_as else None
        return await call_engine(None, write_approved, folder, captions, trigger, model=model, overwrite=overwrite,
                                 caption_extension=caption_extension, save_as=approved_file)

    @mcp.tool(name="caption_dataset", title="Caption the dataset with Claude's vision", annotations=CALLS_VISION)
    async def caption_dataset_tool(
        dataset: Annotated[str, Field(description="The dataset folder, relative to the project or absolute.")],
        trigger: Annotated[str, Field(description="The trigger word; every caption starts with it.")],
        examples: Annotated[str, Field(description="The approved samples file (JSON list of {image, caption, content, style}), e.g. grimoire/training/NAME/APPROVED.json.")],
        ctx: Context,
        model: Annotated[str | None, Field(description="Model family id; sets booru tags or sentences.")] = None,
        training_type: Annotated[
            Literal["character", "style", "object"] | None,
            Field(description="What the trigger word carries (from intent.md); decides what captions leave out."),
        ] = None,
        eye: Annotated[str | None, Field(description="The artist's notes file; default grimoire/eye.md.")] = None,
        overwrite: Annotated[bool, Field(description="Also re-caption pictures that already have a caption (old text kept in .caption-history/).")] = False,
        limit: Annotated[int | None, Field(ge=0, description="Send at most this many pictures in this call.")] = None,
        caption_extension: Annotated[str, Field(description="Caption file extension.")] = ".txt",
    ) -> CaptionBatchReport:
        """Caption every picture that has no caption yet by sending it (downscaled) to Claude with
        the approved samples as worked examples and the artist's eye.md, keeping content and style
        apart as the captioning guide says. Call it only after the artist approved sample captions
        and write_captions saved them; it costs API tokens (the report counts them). Needs
        ANTHROPIC_API_KEY in the server's environment. Resumable: call it again to continue an
        interrupted run or retry failed pictures. Show the artist a few results afterwards, then
        re-run Gate 1."""
        folder = resolve_path(dataset, "dataset folder")
        examples_file = resolve_path(examples, "approved samples file")
        eye_file = resolve_path(eye, "eye.md file") if eye else None
        return await call_engine(ctx, caption_dataset, folder, trigger, examples_file, model=model, eye=eye_file,
                                 overwrite=overwrite, limit=limit, caption_extension=caption_extension,
                                 training_type=training_type, progress=None)
