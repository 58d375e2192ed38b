"""musubi-tuner setups read back into a plan: the cache and training commands and the dataset TOML.

The inverse of MusubiBackend: the same flag tables (ATTENTION_FLAGS, GENERAL_KEYS) and the same
family data (scripts, task, experts) decide what each flag means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loragate.backends.musubi import ATTENTION_FLAGS
from loragate.backends.reading import (
    DatasetFacts, Folder, ImportContext, Number, no_dataset_toml, attention_of, common_parent, dataset_from, finish, network_from, on_cpu,
    optimizer_from, precision_from, preset_repeats, recognise_family, resolution_of, sampling_from, schedule_from, toml_table, trains_of, updated,
)
from loragate.catalog.models import ModelFamily, get_family, load_catalog
from loragate.core.errors import LoragateError
from loragate.lightning.choice import LIGHTNING_STRENGTH_MAX, imported_spec
from loragate.core.plan import ExpertName, ExpertPlan, TimestepSpec, TrainingPlan, WeightPaths
from loragate.validate.invocation import Invocation
from loragate.validate.weights import read_weights_name

# musubi-tuner dataset/config_utils.py: what a [general] or [[datasets]] key defaults to.
DEFAULTS: dict[str, Any] = {"caption_extension": ".txt", "batch_size": 1, "enable_bucket": False,
                            "bucket_no_upscale": False, "num_repeats": 1}
FOLDER_KEYS = {"image_directory": "image", "video_directory": "video"}


def dataset_facts(data: dict[str, Any], where: str) -> DatasetFacts:
    """musubi's [general] + [[datasets]] (each dataset one folder; its keys override [general])."""
    general = {**DEFAULTS, **toml_table(data, "general")}
    entries = [{**general, **d} for d in data.get("datasets", []) if isinstance(d, dict)]
    folders: list[Folder] = []
    for entry in entries:
        key = next((k for k in FOLDER_KEYS if entry.get(k)), None)
        if key is None:
            raise LoragateError(
                f"A [[datasets]] entry in {where} names no image_directory or video_directory "
                "(JSONL metadata files cannot be imported).",
                "Point each [[datasets]] entry at a folder of pictures or clips with their caption files.")
        folders.append(Folder(kind=FOLDER_KEYS[key], path=str(entry[key]), num_repeats=int(entry.get("num_repeats", 1)),
                              cache_dir=entry.get("cache_directory"), control_path=entry.get("control_directory")))
    if not folders:
        raise LoragateError(f"The dataset TOML {where} lists no [[datasets]].", "Give the dataset TOML the commands use.")
    first = entries[0]
    video = next((e for e in entries if e.get("video_directory")), {})
    return DatasetFacts(
        folders=folders, resolution=resolution_of(first.get("resolution", [960, 544]), where),
        caption_extension=str(first["caption_extension"]), batch_size=int(first["batch_size"]),
        enable_bucket=bool(first["enable_bucket"]), bucket_no_upscale=bool(first["bucket_no_upscale"]),
        target_frames=[int(f) for f in video.get("target_frames", [1])] if video else [],
        frame_extraction=video.get("frame_extraction", "head") if video else None,
        source_fps=float(video["source_fps"]) if video and video.get("source_fps") is not None else None,
    )


def _expert_of(inv: Invocation, family: ModelFamily) -> ExpertName:
    """Which Wan 2.2 expert a training command trains: its timestep range as the family's data
    gives it, else what the DiT file's name says, else the nearer range."""
    num = Number(inv)
    low, high = num.int("--min_timestep"), num.int("--max_timestep")
    for facts in family.experts:
        if (facts.min_timestep, facts.max_timestep) == (low, high):
            return facts.name
    named = read_weights_name(inv.value("--dit") or "").expert
    by_name = next((f.name for f in family.experts if f.name == named), None)
    if by_name is not None:
        return by_name
    middle = ((low or 0) + (high if high is not None else 1000)) / 2
    return min(family.experts, key=lambda f: abs((f.min_timestep + f.max_timestep) / 2 - middle)).name


def _lightning_merges(trains: list[Invocation], experts: list[ExpertPlan]) -> tuple[dict[str, str], float | None]:
    """Each expert run's --base_weights file (musubi merges it into that run's --dit) and the one
    multiplier they share (musubi: 1.0 when not given). Only expert runs are read: elsewhere the
    plan has no place for a merged file, and the import lists it as not carried."""
    merged: dict[str, str] = {}
    multipliers: set[float] = set()
    for inv, expert in zip(trains, experts):
        files = inv.values("--base_weights")
        if not files:
            continue
        if len(files) > 1:
            raise LoragateError(
                f"The {expert.expert}-noise run merges {len(files)} files ({inv.where('--base_weights')}); "
                "a plan merges one Lightning file per expert.",
                "Keep only that expert's Lightning file in --base_weights and import again.")
        merged[expert.expert] = files[0]
        multiplier = Number(inv).float("--base_weights_multiplier", above=0) or 1.0
        if multiplier > LIGHTNING_STRENGTH_MAX:
            raise LoragateError(
                f"The {expert.expert}-noise run merges Lightning at --base_weights_multiplier {multiplier:g} "
                f"({inv.where('--base_weights_multiplier')}); a plan takes a Lightning strength up to {LIGHTNING_STRENGTH_MAX:g}.",
                f"Lower --base_weights_multiplier to {LIGHTNING_STRENGTH_MAX:g} or less (1.0 is Lightning as released) and import again.")
        multipliers.add(multiplier)
    if len(multipliers) > 1:
        raise LoragateError(
            f"The expert runs merge Lightning at different strengths ({', '.join(f'{m:g}' for m in sorted(multipliers))}); "
            "a plan uses one strength for both experts.",
            "Use the same --base_weights_multiplier in both runs and import again.")
    return merged, next(iter(multipliers), None)


def import_setup(invocations: list[Invocation], dataset: dict[str, Any], dataset_where: str, ctx: ImportContext,
                 guess: str | None) -> TrainingPlan:
    """The plan these musubi-tuner commands and dataset TOML describe."""
    from loragate.backends.musubi import MusubiBackend
    from loragate.plan.new import _memory
    from loragate.plan.paths import given_path, plan_paths

    trains = trains_of(invocations, "musubi-tuner", "wan_train_network.py", "its cache commands and dataset TOML")
    families = [f for f in load_catalog().families.values() if f.trainer == "musubi"]
    family = get_family(ctx.model) if ctx.model else recognise_family(families, trains[0], guess)
    text = next((i for i in invocations if i.stage == "cache_text_encoder"), None)
    first = trains[0]
    split = bool(family.experts) and (len(trains) > 1 or (first.has("--min_timestep") and not first.has("--dit_high_noise")))
    experts: list[ExpertPlan] = []
    if split:
        for inv in trains:
            name = _expert_of(inv, family)
            expert = next(f for f in family.experts if f.name == name)
            num = Number(inv)
            low, high = num.int("--min_timestep"), num.int("--max_timestep")
            experts.append(ExpertPlan(expert=expert.name, dit=inv.value("--dit") or "",
                                      min_timestep=expert.min_timestep if low is None else low,
                                      max_timestep=expert.max_timestep if high is None else high,
                                      output_name=inv.value("--output_name") or f"{ctx.name}_{name}"))
    by_expert = {e.expert: e.dit for e in experts}
    # an expert run's --dit is that expert's file; every other weights flag is read by finish()
    weights = WeightPaths(dit=by_expert.get("low"), dit_high_noise=by_expert.get("high")) if split else WeightPaths()
    if not dataset:
        raise no_dataset_toml(first)
    facts = dataset_facts(dataset, dataset_where)
    caches = [f.cache_dir for f in facts.folders if f.cache_dir]
    num = Number(first)
    memory = updated(_memory(family), {
        "mixed_precision": precision_from(first), "fp8_base": first.has("--fp8_base"), "fp8_scaled": first.has("--fp8_scaled"),
        "blocks_to_swap": num.int("--blocks_to_swap", 0) or 0, "gradient_checkpointing": first.has("--gradient_checkpointing"),
        "attention": attention_of(first, ATTENTION_FLAGS), "offload_inactive_dit": first.has("--offload_inactive_dit"),
        "fp8_text_encoder": any(i.has("--fp8_t5") for i in (text, *trains) if i is not None),
    })
    timesteps = MusubiBackend().timestep_defaults(family) or TimestepSpec()
    timesteps = updated(timesteps, {
        "timestep_sampling": first.value("--timestep_sampling") or "sigma",
        "discrete_flow_shift": num.float("--discrete_flow_shift"),
        "min_timestep": None if split else num.int("--min_timestep"),
        "max_timestep": None if split else num.int("--max_timestep"),
        "preserve_distribution_shape": first.has("--preserve_distribution_shape") if (split or first.has("--min_timestep"))
        else timesteps.preserve_distribution_shape,
        "timestep_boundary": num.int("--timestep_boundary") if not split else timesteps.timestep_boundary,
    })
    samplers = [i for i in trains if i.has("--sample_prompts")]
    sampling = sampling_from(samplers[0]) if samplers else None
    if sampling is not None and experts and len(samplers) < len(trains):
        sampling.expert = experts[trains.index(samplers[0])].expert
    output_dir = first.value("--output_dir")
    root = Path(facts.folders[0].path)
    paths = plan_paths(ctx.name, ctx.platform, "musubi", root, output_dir=output_dir)
    plan = TrainingPlan(
        name=ctx.name, model=family.id, backend="musubi", training_type=ctx.training_type, preset=ctx.preset,
        platform=ctx.platform, trigger=ctx.trigger, gpu_gb=ctx.gpu_gb, device="cpu" if on_cpu(first) else "gpu",
        trainer_dir=paths.trainer_dir, trainer_python=paths.trainer_python,
        output_dir=output_dir or paths.output_dir,
        output_name=(None if split else first.value("--output_name")) or ctx.name,
        dataset=dataset_from(facts, family, preset_repeats(family, ctx), common_parent(caches) if caches else None),
        weights=weights, network=network_from(first, family), optimizer=optimizer_from(first, "musubi"),
        schedule=schedule_from(first, facts.batch_size), memory=memory, timesteps=timesteps, experts=experts,
        experts_together=ctx.experts_together and len(experts) > 1, sampling=sampling,
        dataset_toml=paths.dataset_toml,
    )
    merged, strength = _lightning_merges(trains, experts) if split else ({}, None)
    lightning = ctx.lightning
    where = {"high": "", "low": ""} if lightning is None else {
        "high": given_path(lightning.high_noise, ctx.platform) or lightning.high_noise,
        "low": given_path(lightning.low_noise, ctx.platform) or lightning.low_noise}
    # The script's paths and the artist's read the same way, so `~/x` or a relative path in both is one file.
    merged = {expert: given_path(path, ctx.platform) or path for expert, path in merged.items()}
    plan.lightning = imported_spec(lightning, family, [e.expert for e in experts], merged, strength, where)
    return finish(plan, family, invocations)
