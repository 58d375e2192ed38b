"""evaluate, diagnose, register_lora, list_loras: after training."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from loragate.diagnose.results import Diagnosis
from loragate.evaluate.model import DEFAULT_WEIGHTS, EvalReport
from loragate.evaluate.request import EngineChoice, EvalWeight, PromptCount, SampleSteps, Seed
from loragate.registry.results import LoraList, Registration
from mcp_server.common import READ_ONLY, WRITES_RECORD, call_engine, lazy, resolve_path

evaluate = lazy("loragate.evaluate.run:evaluate")
diagnose = lazy("loragate.diagnose.diagnose:diagnose")
register_lora = lazy("loragate.registry.register:register_lora")
list_loras = lazy("loragate.registry.register:list_loras")
eval_request = lazy("loragate.evaluate.request:eval_request")

# Generates pictures on the GPU (or through ComfyUI) and writes the record: not idempotent.
RUNS_GENERATION = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
Project = Annotated[str, Field(description="Project name, the folder under grimoire/training/.")]


def register(mcp: MCPServer) -> None:
    @mcp.tool(name="evaluate", title="Evaluation grid", annotations=RUNS_GENERATION)
    async def evaluate_tool(
        project: Project,
        ctx: Context,
        checkpoints: Annotated[list[str], Field(description="LoRA files to test; empty: early, middle and final.")] = [],  # noqa: B006
        weights: Annotated[list[EvalWeight], Field(description="Weights to try; 0.0 is always added as the reference.")] = list(DEFAULT_WEIGHTS),  # noqa: B006
        prompts: Annotated[list[str], Field(description="The artist's own prompts, added to the standard ones.")] = [],  # noqa: B006
        max_standard_prompts: Annotated[PromptCount | None, Field(description="Use only the first N standard prompts.")] = None,
        seeds: Annotated[list[Seed] | None, Field(description="Seed per prompt (more for more pictures); default one fixed seed.")] = None,
        steps: Annotated[SampleSteps | None, Field(description="Sampling steps per picture; default the model's usual, fewer for a quick look.")] = None,
        engine: Annotated[EngineChoice, Field(description="auto: ComfyUI if it answers, else the trainer's scripts, else export.")] = "auto",
        comfyui_url: Annotated[str | None, Field(description="ComfyUI's address; default studio.md's comfyui_url.")] = None,
        lightning: Annotated[list[str], Field(description="Wan 2.2 Lightning LoRAs (low, high) for a 4-step preview, stacked, never merged; default: the plan's Lightning files.")] = [],  # noqa: B006
        estimate_only: Annotated[bool, Field(description="Only return the cost (cells x seconds, price on a cloud GPU).")] = True,
        clip_model: Annotated[str | None, Field(description="Optional scores, off by default: a local CLIP model folder the artist has; "
                                                            "run with the trainer's Python (torch, transformers).")] = None,
        references: Annotated[str | None, Field(description="Optional: a folder of pictures the artist held back from training, "
                                                            "scored for similarity with clip_model.")] = None,
    ) -> EvalReport:
        """Evaluate a trained LoRA: a labelled grid per checkpoint (rows = weights 0.0 to 1.0, columns =
        the standard prompts for the training type with the trigger, plus the artist's), fixed seeds,
        through ComfyUI's API, the trainer's own generation scripts, or exported workflows. Measures
        whether the LoRA takes effect (each weight against 0.0), how strength grows, and whether
        outputs copy training pictures; writes eval.json (needed to register) and a draft eval.md.
        With clip_model (and references), also scores each picture against its prompt and the
        artist's held-back pictures with that CLIP model. Records Gate 5 (evaluation), which
        register_lora needs for the file. Call first with estimate_only=true and tell the artist the
        cost; then with false to spend it. Refuses to run while a training holds the GPU."""
        for path in checkpoints + lightning:
            resolve_path(path, "LoRA file")
        for folder, what in ((clip_model, "CLIP model folder"), (references, "reference pictures folder")):
            if folder:
                resolve_path(folder, what)
        # the same request model as `loragate eval`: the same bounds, choices and sentences
        request = await call_engine(None, eval_request, project=project, checkpoints=checkpoints, weights=weights, prompts=prompts,
                                    seeds=seeds, max_standard_prompts=max_standard_prompts, steps=steps, engine=engine,
                                    comfyui_url=comfyui_url, lightning=lightning, estimate_only=estimate_only,
                                    clip_model=clip_model, references=references)
        return await call_engine(ctx, evaluate, request, progress=None)

    @mcp.tool(name="diagnose", title="Diagnose the LoRA's pictures", annotations=READ_ONLY)
    async def diagnose_tool(
        project: Project,
        symptom: Annotated[str, Field(description='What the pictures look like, in the artist\'s words, e.g. "burnt at 1.0".')],
    ) -> Diagnosis:
        """Map what the artist sees (blurry, ignores the trigger, copies, colours, no effect, hazy or
        static Wan video...) to its likely causes, check each against the project's record (steps
        per picture, learning rate, alpha and rank, captions, loss anomalies, Wan experts and
        boundary, the evaluation's measurements), rank them, and give one change as the next step.
        Call it when the artist says the pictures look wrong, after an evaluation."""
        return await call_engine(None, diagnose, project, symptom)

    @mcp.tool(name="register_lora", title="Register the LoRA", annotations=WRITES_RECORD)
    async def register_lora_tool(
        project: Project,
        checkpoint: Annotated[str, Field(description="The evaluated LoRA file (name in the output folder, or path).")],
        weight: Annotated[float, Field(gt=0, le=2, description="The recommended weight the artist chose from the grid.")],
        good_for: Annotated[str | None, Field(description="What it does well, in the artist's words.")] = None,
    ) -> Registration:
        """After the artist approves: add the LoRA to grimoire/studio.md (file, type, trigger,
        recommended weight, base model, good for, date, preset, epochs, rank) so /art can use it,
        set status.md to COMPLETE, archive the evaluation pictures and write a JSON beside the LoRA.
        Refused unless a current evaluation covers that exact file."""
        return await call_engine(None, register_lora, project, checkpoint, weight, good_for)

    @mcp.tool(name="list_loras", title="Registered LoRAs", annotations=READ_ONLY)
    async def list_loras_tool() -> LoraList:
        """The LoRAs registered in grimoire/studio.md with their trigger words, recommended weights
        and files. Call it when the artist wants to use a trained LoRA (/art) or asks what they have."""
        return await call_engine(None, list_loras)
