"""sd-scripts setups read back into a plan: the training command and the dataset TOML.

The inverse of SdScriptsBackend: the same attention table, the same script kinds (sd / sdxl /
flux from the family's training script) and the same family data decide what each flag means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loragate.backends.reading import (
    DatasetFacts, Folder, ImportContext, Number, no_dataset_toml, attention_of, dataset_from, finish, network_from, on_cpu, optimizer_from,
    precision_from, preset_repeats, recognise_family, resolution_of, sampling_from, schedule_from, toml_table, trains_of, updated,
)
from loragate.backends.sdscripts import ATTENTION_FLAGS, _script_kind
from loragate.catalog.models import get_family, load_catalog
from loragate.core.errors import LoragateError
from loragate.core.plan import TimestepSpec, TrainingPlan, WeightPaths
from loragate.validate.invocation import Invocation

# sd-scripts library/config_util.py: what a key defaults to when no table sets it (reference
# sd-scripts.md §3.1, §6.1: the caption extension is ".caption", buckets are off).
DEFAULTS: dict[str, Any] = {"caption_extension": ".caption", "batch_size": 1, "enable_bucket": False,
                            "bucket_no_upscale": False, "num_repeats": 1}


def dataset_facts(data: dict[str, Any], where: str) -> DatasetFacts:
    """sd-scripts' [general] + [[datasets]] + [[datasets.subsets]]: a subset's keys override its
    dataset's, a dataset's override [general]. The plan holds one resolution and batch: the first
    dataset's (a second dataset's different values are reported when the commands are compared)."""
    general = {**DEFAULTS, **toml_table(data, "general")}
    datasets = [{**general, **d} for d in data.get("datasets", []) if isinstance(d, dict)]
    folders: list[Folder] = []
    for dataset in datasets:
        for subset in dataset.get("subsets", []):
            entry = {**dataset, **subset} if isinstance(subset, dict) else {}
            if not entry.get("image_dir"):
                raise LoragateError(f"A subset in {where} names no image_dir (metadata files cannot be imported).",
                                    "Point each [[datasets.subsets]] at a folder of pictures with their captions.")
            folders.append(Folder(kind="image", path=str(entry["image_dir"]), num_repeats=int(entry.get("num_repeats", 1))))
    if not folders:
        raise LoragateError(f"The dataset TOML {where} lists no [[datasets.subsets]] folder.",
                            "Give the dataset TOML the training command uses.")
    first = datasets[0]
    return DatasetFacts(
        folders=folders, resolution=resolution_of(first.get("resolution", 512), where),
        caption_extension=str(first["caption_extension"]), batch_size=int(first["batch_size"]),
        enable_bucket=bool(first["enable_bucket"]), bucket_no_upscale=bool(first["bucket_no_upscale"]),
    )


def dataset_from_flags(train: Invocation) -> dict[str, Any]:
    """The dataset TOML a command without one means: each `N_name` folder inside --train_data_dir
    with N repeats (reference sd-scripts.md §3.1), and the bucket and caption flags as [general]."""
    from loragate.dataset.scan import REPEAT_FOLDER

    raw = train.value("--train_data_dir") or ""
    root = Path(raw).expanduser()
    subsets = [{"image_dir": str(d), "num_repeats": int(m.group(1))} for d in sorted(root.iterdir() if root.is_dir() else [])
               if d.is_dir() and (m := REPEAT_FOLDER.match(d.name))]
    if not subsets:
        raise LoragateError(
            f"--train_data_dir {raw} ({train.where('--train_data_dir')}) " + (
                "holds no `N_name` folders (N = repeats), which sd-scripts needs without a dataset TOML."
                if root.is_dir() else "is not a folder on this machine."),
            "Import on the machine that holds the pictures, or give the dataset TOML your training uses.")
    size = [int(v) for v in (train.value("--resolution") or "512").replace(" ", "").split(",")]
    num = Number(train)
    general = {"caption_extension": train.value("--caption_extension") or DEFAULTS["caption_extension"],
               "enable_bucket": train.has("--enable_bucket"), "bucket_no_upscale": train.has("--bucket_no_upscale")}
    dataset: dict[str, Any] = {"resolution": size if len(size) == 2 else size[0], "batch_size": num.int("--train_batch_size", 1) or 1}
    for flag in ("--min_bucket_reso", "--max_bucket_reso", "--bucket_reso_steps"):
        if train.has(flag):
            dataset[flag[2:]] = num.int(flag, 1)
    return {"general": general, "datasets": [{**dataset, "subsets": subsets}]}


def import_setup(invocations: list[Invocation], dataset: dict[str, Any], dataset_where: str, ctx: ImportContext,
                 guess: str | None) -> TrainingPlan:
    """The plan this sd-scripts training command and dataset TOML describe."""
    from loragate.backends.sdscripts import SdScriptsBackend
    from loragate.plan.new import _memory
    from loragate.plan.paths import plan_paths

    train = trains_of(invocations, "sd-scripts", "sdxl_train_network.py", "its dataset TOML")[0]
    families = [f for f in load_catalog().families.values() if f.trainer == "sdscripts"]
    family = get_family(ctx.model) if ctx.model else recognise_family(families, train, guess)
    kind = _script_kind(family)
    num = Number(train)
    if not dataset and not train.has("--train_data_dir"):
        raise no_dataset_toml(train)
    facts = dataset_facts(dataset or dataset_from_flags(train), dataset_where or train.where("--train_data_dir"))
    te_cache = train.has("--cache_text_encoder_outputs")
    memory = updated(_memory(family), {
        "mixed_precision": precision_from(train), "fp8_base": train.has("--fp8_base"),
        "blocks_to_swap": (num.int("--blocks_to_swap", 0) or 0) if family.block_swap_max > 0 else 0,
        "gradient_checkpointing": train.has("--gradient_checkpointing"), "attention": attention_of(train, ATTENTION_FLAGS),
        "cache_latents": train.has("--cache_latents"),
        "cache_text_encoder_outputs": te_cache if kind != "sd" else _memory(family).cache_text_encoder_outputs,
        "network_train_unet_only": train.has("--network_train_unet_only"), "no_half_vae": train.has("--no_half_vae"),
    })
    timesteps = SdScriptsBackend().timestep_defaults(family)
    if kind == "flux":
        timesteps = updated(timesteps or TimestepSpec(), {
            "timestep_sampling": train.value("--timestep_sampling") or "sigma",
            "discrete_flow_shift": num.float("--discrete_flow_shift") if train.value("--timestep_sampling") == "shift" else None,
            "model_prediction_type": train.value("--model_prediction_type") or "sigma_scaled",
            "guidance_scale": num.float("--guidance_scale") if train.has("--guidance_scale") else 3.5,
        })
    output_dir = train.value("--output_dir")
    paths = plan_paths(ctx.name, ctx.platform, "sdscripts", Path(facts.folders[0].path), output_dir=output_dir)
    plan = TrainingPlan(
        name=ctx.name, model=family.id, backend="sdscripts", training_type=ctx.training_type, preset=ctx.preset,
        platform=ctx.platform, trigger=ctx.trigger, gpu_gb=ctx.gpu_gb, device="cpu" if on_cpu(train) else "gpu",
        trainer_dir=paths.trainer_dir, trainer_python=paths.trainer_python,
        output_dir=output_dir or paths.output_dir, output_name=train.value("--output_name") or ctx.name,
        dataset=dataset_from(facts, family, preset_repeats(family, ctx), None),
        weights=WeightPaths(),  # read by finish(), from the flags the backend writes for each role
        network=network_from(train, family), optimizer=optimizer_from(train, "sdscripts"),
        schedule=schedule_from(train, facts.batch_size), memory=memory, timesteps=timesteps,
        sampling=sampling_from(train), dataset_toml=paths.dataset_toml,
    )
    return finish(plan, family, [train])
