"""generate_config and check_plan: the training plan and Gate 2."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from loragate.lightning.choice import LightningChoice
from loragate.plan.results import Gate2Report, GenerateResult, ImportResult
from loragate.core.plan import RANK_MAX, RANK_MIN
from loragate.plan.request import ExpertChoice, NetworkName
from loragate.core.vocabulary import Platform, PresetName, TrainingType
from mcp_server.common import WRITES_RECORD, call_engine, is_allowed, lazy, resolve_path, resolve_program

check_plan = lazy("loragate.plan.gate2:check_plan")
make_plan = lazy("loragate.plan.request:make_plan")
plan_request = lazy("loragate.plan.request:plan_request")
import_plan = lazy("loragate.plan.import_plan:import_plan")
import_request = lazy("loragate.plan.import_plan:import_request")

def _confined(lightning: LightningChoice) -> LightningChoice:
    """The Lightning files a caller names, confined like every other path it gives."""
    return lightning.model_copy(update={"high_noise": str(resolve_path(lightning.high_noise, "Lightning file")),
                                        "low_noise": str(resolve_path(lightning.low_noise, "Lightning file"))})


def register(mcp: MCPServer) -> None:
    @mcp.tool(name="generate_config", title="Generate the training plan (Gate 2)", annotations=WRITES_RECORD)
    async def generate_config_tool(
        name: Annotated[str, Field(description="Project name; files go to grimoire/training/NAME/.")],
        model: Annotated[str, Field(description="Model family id: wan2.1-t2v-1.3b, wan2.1-t2v-14b, wan2.1-i2v-14b, "
                                                "wan2.2-t2v-a14b, wan2.2-i2v-a14b, sd15, sdxl, pony, illustrious, noobai-xl-vpred, flux1-dev, "
                                                "chroma, sd3.5-large, sd3.5-medium.")],
        dataset: Annotated[str, Field(description="Dataset folder inside the workspace (Images/ + Videos/, N_name folders, or flat).")],
        trigger: Annotated[str, Field(description="Trigger word that appears in every caption.")],
        ctx: Context,
        preset: Annotated[PresetName, Field(description="Quick test, balanced, or best quality.")] = "standard",
        training_type: Annotated[TrainingType, Field(description="What the LoRA learns.")] = "character",
        gpu_gb: Annotated[float | None, Field(description="GPU memory to fit in GB; default: grimoire/studio.md.", gt=0)] = None,
        expert: Annotated[ExpertChoice | None, Field(description="Wan 2.2 only: which expert(s) to train (default both).")] = None,
        platform: Annotated[Platform, Field(description="Where training will run; sets the paths.")] = "local",
        trainer_dir: Annotated[str | None, Field(description="The trainer's checkout (musubi-tuner or sd-scripts).")] = None,
        models_dir: Annotated[str | None, Field(description="Folder holding the model files, if not <workspace>/models.")] = None,
        trainer_python: Annotated[str | None, Field(description="The trainer's Python (its venv's bin/python), if not the one loragate finds.")] = None,
        output_dir: Annotated[str | None, Field(description="Where the LoRA files go, if not <workspace>/output/NAME.")] = None,
        weights: Annotated[dict[str, str] | None, Field(description="Model file per role (dit, dit_high_noise, vae, t5, clip, base_model, clip_l, t5xxl, ae), when the names differ from the usual releases.")] = None,
        resolution: Annotated[list[int] | None, Field(description="Training size [width, height], multiples of 16.")] = None,
        frames: Annotated[list[int] | None, Field(description="Wan clip lengths, each 4n+1 (e.g. [1, 33, 81]).")] = None,
        optimizer: Annotated[str | None, Field(description="AdamW, AdamW8bit, Prodigy, Lion or Adafactor (default from the preset).")] = None,
        experts_together: Annotated[bool | None, Field(description="Wan 2.2: run both experts at once (default: when both fit the GPU).")] = None,
        rank: Annotated[int | None, Field(ge=RANK_MIN, le=RANK_MAX, description="LoRA rank (network dim); default from the preset.")] = None,
        network: Annotated[NetworkName, Field(description="lora, or LyCORIS loha (gentler, less copying of the images' style) / lokr (finer detail, small file); LyCORIS must be installed in the trainer's Python.")] = "lora",
        learning_rate: Annotated[float | None, Field(gt=0, description="Learning rate; default from the preset and optimizer (Prodigy runs at 1.0). Gate 2 judges it against the optimizer's sourced range.")] = None,
        caption_extension: Annotated[str, Field(description="Caption file extension, the same one audit_dataset checked.")] = ".txt",
        lightning: Annotated[LightningChoice | None, Field(description="Wan 2.2: the Lightning LoRAs the artist renders with (one per "
                             "expert). By default the LoRA trains on the base and Lightning is stacked at inference; `merge` "
                             "trains the named experts on base + Lightning. Tell the artist which form they get and why.")] = None,
        replace: Annotated[bool, Field(description="Replace the project's existing plan (kept in plan-history/ first). "
                                                   "Without it, an existing plan is an error: ask the artist before replacing.")] = False,
    ) -> GenerateResult:
        """Create the training plan for a project from a model, a preset and the dataset: writes
        plan.json, the trainer's dataset.toml, commands.json (exact argv lists), train.sh and
        config.md (every value explained), then runs Gate 2 (command validation + VRAM fit) and
        records the verdict. Call it after the dataset passed Gate 1 (audit_dataset) and before
        validate_env; call it again with replace=true to change settings (ask the artist first when the model or
        trigger changes: that is a different LoRA). Returns the plan, the files and Gate 2's
        verdict with findings; explain NO-GO findings and their fixes to the artist."""
        # Every path a caller names is confined, whatever the platform: validate_env and dry_run
        # read and run them on THIS machine. Paths loragate picks itself (studio.md, the platform's
        # defaults) are not the caller's and are left as they are.
        paths = {
            "trainer_dir": str(resolve_path(trainer_dir, "trainer folder")) if trainer_dir else None,
            "models_dir": str(resolve_path(models_dir, "models folder")) if models_dir else None,
            "output_dir": str(resolve_path(output_dir, "output folder")) if output_dir else None,
            # a bare name ('python3') is looked up on the training machine's PATH; a path is confined like the others
            "trainer_python": resolve_program(trainer_python, "trainer Python"),
        }
        files = {role: str(resolve_path(path, f"{role} weights")) for role, path in (weights or {}).items()}
        if lightning is not None:
            lightning = _confined(lightning)
        # the same request model as `loragate plan new`: the same bounds, choices and sentences
        request = await call_engine(
            None, plan_request, name=name, model=model, dataset=str(resolve_path(dataset, "dataset folder")), trigger=trigger,
            replace=replace, preset=preset, training_type=training_type, gpu_gb=gpu_gb, expert=expert,
            platform=platform, weights=files, resolution=resolution, frames=frames, optimizer=optimizer,
            experts_together=experts_together, rank=rank, learning_rate=learning_rate,
            caption_extension=caption_extension, lightning=lightning, network=network, **paths,
        )
        return await call_engine(ctx, make_plan, request, progress=None)

    @mcp.tool(name="check_plan", title="Re-check the training plan (Gate 2)", annotations=WRITES_RECORD)
    async def check_plan_tool(
        name: Annotated[str, Field(description="Project name, the folder under grimoire/training/.")],
        ctx: Context,
    ) -> Gate2Report:
        """Re-run Gate 2 on a project's saved plan: regenerate its dataset.toml, commands and
        train.sh from plan.json, validate every command, estimate VRAM against the GPU, record the
        verdict and rewrite config.md. Call it after plan.json, grimoire/studio.md or the dataset
        changed, or when gate_status says Gate 2 is stale."""
        return await call_engine(ctx, check_plan, name, progress=None)

    @mcp.tool(name="import_plan", title="Import the artist's own setup as the plan (Gate 2)", annotations=WRITES_RECORD)
    async def import_plan_tool(
        name: Annotated[str, Field(description="Project name; the plan goes to grimoire/training/NAME/.")],
        trigger: Annotated[str, Field(description="Trigger word every caption contains (the trainer's files do not say it).")],
        ctx: Context,
        files: Annotated[list[str], Field(description="The artist's training script(s) (.sh/.bat/.ps1), Python launcher "
                                                      "(.py, read without running it), command files, config and dataset TOMLs.")] = [],  # noqa: B006
        command: Annotated[str | None, Field(description="A command line as the artist typed it, instead of or beside the files.")] = None,
        model: Annotated[str | None, Field(description="Model family id; leave empty to recognise it from the script, --task and weights.")] = None,
        training_type: Annotated[TrainingType, Field(description="What the LoRA learns.")] = "character",
        preset: Annotated[PresetName, Field(description="Only fills what the files leave unsaid (folder repeats).")] = "standard",
        platform: Annotated[Platform, Field(description="Where training will run.")] = "local",
        gpu_gb: Annotated[float | None, Field(gt=0, description="GPU memory to fit in GB; default: grimoire/studio.md.")] = None,
        experts_together: Annotated[bool, Field(description="Wan 2.2: launch both expert runs at once.")] = False,
        lightning: Annotated[LightningChoice | None, Field(description="Wan 2.2: the Lightning LoRAs the artist renders with (one per "
                             "expert). The experts the script merges (--base_weights) are read from it; give the files it does "
                             "not name, and `premerged` experts, here.")] = None,
        replace: Annotated[bool, Field(description="Replace the project's existing plan (kept in plan-history/ first). "
                                                   "Without it, an existing plan is an error: ask the artist before replacing.")] = False,
    ) -> ImportResult:
        """Call it when the artist brings their own musubi-tuner or sd-scripts setup and wants to train
        with it through the gates: reads their script or command line and dataset TOML into the
        project's training plan: model family, weights by role, dataset
        folders, schedule, network, optimizer, timesteps and Wan 2.2 experts, memory options and
        sampling. Writes plan.json, dataset.toml, commands.json, train.sh and config.md and runs Gate 2,
        like generate_config. `not_carried` lists, in plain words, every flag or TOML key the plan
        leaves out or sets otherwise and what loragate adds: tell the artist about each warning.
        Then continue with validate_env and dry_run as for any plan."""
        paths = [str(resolve_path(f, "file")) for f in files]
        if lightning is not None:
            lightning = _confined(lightning)
        request = await call_engine(None, import_request, name=name, files=paths, command=command, trigger=trigger, model=model,
                                 training_type=training_type, preset=preset, platform=platform, gpu_gb=gpu_gb,
                                 experts_together=experts_together, replace=replace, lightning=lightning)
        return await call_engine(ctx, import_plan, request, progress=None, allowed=is_allowed)
