"""musubi-tuner: the dataset TOML and the cache, cache and train commands.

What differs between musubi's models (which weight goes to which flag, the model selector) is data:
the family's recipe in loragate/data/musubi_recipes.toml, filled in here."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from loragate.backends.argv import (
    Argv, accelerate_launch, add_attention, add_length, add_loader, add_logging, add_network, add_optimizer,
    add_sampling, command_env, final_lora, logs_dir, need_dataset_toml, need_file, precision, python_of, script_of,
)
from loragate.backends.musubi_failures import MUSUBI_FAILURES
from loragate.backends.musubi_recipes import PLACEHOLDER_TASK, Recipe, get_recipe, is_placeholder
from loragate.backends.reading import ImportContext
from loragate.backends.toml_text import dataset_toml_text
from loragate.catalog.models import ModelFamily, get_family
from loragate.environment.weights import role_words
from loragate.core.errors import LoragateError
from loragate.lightning.choice import merged_file
from loragate.core.plan import Command, DatasetSubset, ExpertPlan, TimestepSpec, TrainingPlan
from loragate.validate.invocation import Invocation

# musubi-tuner docs/dataset_config.md: only these keys may sit in [general]; anything else there
# (cache_directory, target_frames...) fails voluptuous with "extra keys not allowed".
GENERAL_KEYS = ("resolution", "caption_extension", "batch_size", "num_repeats", "enable_bucket", "bucket_no_upscale")

# musubi-tuner docs/wan.md "Training": the example trains with 2 loader workers kept alive.
LOADER_WORKERS = 2

ATTENTION_FLAGS: dict[str, list[str]] = {
    # musubi-tuner training/parser_common.py: one attention flag is mandatory; --sage_attn is
    # refused for training; hunyuan_video.md: with xformers also pass --split_attn.
    "sdpa": ["--sdpa"],
    "xformers": ["--xformers", "--split_attn"],
    "flash_attn": ["--flash_attn"],
    "flash3": ["--flash3"],
}


def _subsets(plan: TrainingPlan) -> list[DatasetSubset]:
    """The plan's folders; plans without subsets fall back to image_dir / video_dir."""
    if plan.dataset.subsets:
        return list(plan.dataset.subsets)
    found: list[DatasetSubset] = []
    if plan.dataset.image_dir:
        found.append(DatasetSubset(kind="image", path=plan.dataset.image_dir, num_repeats=plan.dataset.num_repeats))
    if plan.dataset.video_dir:
        found.append(DatasetSubset(kind="video", path=plan.dataset.video_dir, num_repeats=plan.dataset.num_repeats))
    return found


def _cache_dirs(plan: TrainingPlan, subsets: list[DatasetSubset]) -> list[str]:
    """One cache folder per dataset entry; musubi refuses a shared one ("cache directory should be
    unique for each dataset", musubi-tuner dataset/config_utils.py)."""
    base = plan.dataset.cache_dir
    result: list[str] = []
    for index, subset in enumerate(subsets):
        cache = subset.cache_dir
        if not cache:
            if not base:
                raise LoragateError(
                    "The plan names no cache folder for musubi's latent and text-encoder caches.",
                    "Re-create the plan with `loragate plan new`, which puts the caches outside the dataset.",
                )
            cache = str(PurePosixPath(base) / f"{index:02d}_{subset.kind}")
        if cache in result:
            cache = f"{cache}_{index:02d}"
        result.append(cache)
    return result


class MusubiBackend:
    name = "musubi"
    failures = MUSUBI_FAILURES

    def import_setup(self, invocations: list[Invocation], dataset: dict[str, Any], dataset_where: str,
                     ctx: ImportContext, guess: str | None) -> TrainingPlan:
        """The plan an artist's own cache and training commands and dataset TOML describe (`loragate plan import`)."""
        from loragate.backends.musubi_import import import_setup

        return import_setup(invocations, dataset, dataset_where, ctx, guess)

    # ------------------------------------------------------------------ plan defaults
    def encoder_role(self, family: ModelFamily, encoder: str) -> str | None:
        """The weights role of a text encoder given as its own file: T5 (--t5); the others come with the recipe."""
        return "t5" if "t5" in encoder.lower() else None

    def memory_defaults(self, family: ModelFamily) -> dict[str, bool]:
        """Every musubi model caches its text-encoder outputs with its own script before training
        (musubi-tuner.md §1.2), and the LoRA covers the DiT alone."""
        return {"cache_text_encoder_outputs": True, "network_train_unet_only": False, "no_half_vae": False}

    def timestep_defaults(self, family: ModelFamily) -> TimestepSpec | None:
        return TimestepSpec(
            timestep_sampling=family.timestep_sampling or "shift",
            discrete_flow_shift=family.flow_shift,
            # musubi-tuner docs/advanced_config.md: recommended for a single Wan 2.2 expert's range.
            preserve_distribution_shape=bool(family.experts),
            timestep_boundary=family.timestep_boundary,
        )

    # ------------------------------------------------------------------ dataset TOML
    def dataset_config(self, plan: TrainingPlan) -> dict[str, Any]:
        """The dataset TOML as a dict (tests and the validator read it without re-parsing)."""
        ds, family = plan.dataset, get_family(plan.model)
        general: dict[str, Any] = {
            "resolution": [int(ds.resolution[0]), int(ds.resolution[1])],
            "caption_extension": ds.caption_extension,
            "batch_size": int(plan.schedule.batch_size),
            # musubi-tuner image_video_dataset.py: videos are bucketed at cache time whatever this
            # says, so keep it on to cache and train with the same buckets.
            "enable_bucket": bool(ds.enable_bucket),
            "bucket_no_upscale": bool(ds.bucket_no_upscale),
        }
        assert set(general) <= set(GENERAL_KEYS)
        subsets = _subsets(plan)
        if not subsets:
            raise LoragateError(
                f"The plan for {plan.name} lists no image or video folder to train on.",
                "Point `loragate plan new --dataset` at a folder with images (Images/) or clips (Videos/).",
            )
        datasets: list[dict[str, Any]] = []
        for subset, cache in zip(subsets, _cache_dirs(plan, subsets)):
            entry: dict[str, Any] = {}
            if subset.kind == "image":
                entry["image_directory"] = subset.path
            else:
                entry["video_directory"] = subset.path
            entry["cache_directory"] = cache
            entry["num_repeats"] = int(subset.num_repeats)
            if family.control_images:
                entry["control_directory"] = control_directory(subset, family)
                if family.control_resolution:
                    entry["control_resolution"] = [int(v) for v in family.control_resolution]
            if family.one_frame and subset.kind == "image":
                entry.update(family.one_frame.dataset_keys())  # docs/wan_1f.md: one-frame training's dataset keys
            if subset.kind == "video":
                # musubi-tuner docs/dataset_config.md: without target_frames every clip becomes one
                # frame; each value must be 4n+1; source_fps must be a float (an int fails the schema).
                entry["target_frames"] = [int(f) for f in (ds.target_frames or [1])]
                entry["frame_extraction"] = ds.frame_extraction or "head"
                if ds.source_fps is not None:
                    entry["source_fps"] = float(ds.source_fps)
            datasets.append(entry)
        return {"general": general, "datasets": datasets}

    def dataset_toml(self, plan: TrainingPlan) -> str:
        return dataset_toml_text("musubi-tuner", plan.name, self.dataset_config(plan))

    # ------------------------------------------------------------------ commands
    def commands(
        self, plan: TrainingPlan, *, max_train_steps: int | None = None, output_dir: str | None = None
    ) -> list[Command]:
        family = get_family(plan.model)
        recipe = get_recipe(family.recipe, family.id)
        need_dataset_toml(plan)
        cwd, env = plan.trainer_dir, command_env(plan)
        cmds = [
            Command(stage="cache_latents", argv=self._cache_latents(plan, family, recipe), cwd=cwd, env=env,
                    description="Encode every image and clip with the VAE once, so training reads latents."),
            Command(stage="cache_text_encoder", argv=self._cache_text(plan, family, recipe), cwd=cwd, env=env,
                    description=f"Encode every caption with the {role_words(recipe.text_role)} once."),
        ]
        runs: list[ExpertPlan | None] = list(plan.experts) or [None]
        for expert in runs:
            argv = self._train(plan, family, recipe, expert, max_train_steps=max_train_steps, output_dir=output_dir)
            what = f"Train the {expert.expert}-noise expert's LoRA." if expert else "Train the LoRA."
            output = final_lora(output_dir or plan.output_dir, expert.output_name if expert else plan.output_name)
            cmds.append(Command(stage="train", argv=argv, expert=expert.expert if expert else None, cwd=cwd, env=env, output=output,
                                logs=logs_dir(output_dir or plan.output_dir),
                                description=what))
        return cmds

    def _cache_latents(self, plan: TrainingPlan, family: ModelFamily, recipe: Recipe) -> list[str]:
        argv = Argv(python_of(plan), script_of(family, "cache_latents")).opt("--dataset_config", plan.dataset_toml)
        argv.items += _fill(recipe.cache_latents, plan, family)
        return argv.items

    def _cache_text(self, plan: TrainingPlan, family: ModelFamily, recipe: Recipe) -> list[str]:
        argv = Argv(python_of(plan), script_of(family, "cache_text_encoder")).opt("--dataset_config", plan.dataset_toml)
        argv.items += _fill(recipe.cache_text_encoder, plan, family)
        _text_fp8(argv, plan, family, recipe, True)
        return argv.items

    def _train(
        self,
        plan: TrainingPlan,
        family: ModelFamily,
        recipe: Recipe,
        expert: ExpertPlan | None,
        *,
        max_train_steps: int | None,
        output_dir: str | None,
    ) -> list[str]:
        mem, sched, ts = plan.memory, plan.schedule, plan.timesteps
        argv = Argv(*accelerate_launch(plan), script_of(family, "train"))
        argv.items += _fill(recipe.train, plan, family, expert)
        _text_fp8(argv, plan, family, recipe, _loads(recipe.train, recipe.text_role))
        argv.opt("--dataset_config", plan.dataset_toml)
        add_attention(argv, plan, _attention_flags(recipe), "musubi-tuner")
        # musubi-tuner wan_train_network.py asserts the script's own --mixed_precision against the
        # DiT file's dtype before accelerate starts (reference musubi-tuner.md §5.7).
        argv.opt("--mixed_precision", precision(plan))
        argv.switch("--fp8_base", mem.fp8_base or mem.fp8_scaled)
        argv.switch("--fp8_scaled", mem.fp8_scaled)
        if mem.blocks_to_swap > 0:
            argv.opt("--blocks_to_swap", mem.blocks_to_swap)
        argv.switch("--gradient_checkpointing", mem.gradient_checkpointing)
        add_loader(argv, plan, LOADER_WORKERS)
        # musubi-tuner docs/wan.md: "Don't forget to specify --network_module networks.lora_wan".
        add_network(argv, plan)
        _add_lightning_merge(argv, plan, expert)
        add_optimizer(argv, plan)
        if ts is not None:
            # reference musubi-tuner.md §5.3: the default 'sigma' sampling inverts min/max timestep
            # and ignores the flow shift, so always name a shift-based sampler.
            argv.opt("--timestep_sampling", ts.timestep_sampling).opt("--discrete_flow_shift", ts.discrete_flow_shift)
        low, high = (expert.min_timestep, expert.max_timestep) if expert else (
            (ts.min_timestep, ts.max_timestep) if ts else (None, None))
        argv.opt("--min_timestep", low).opt("--max_timestep", high)
        # musubi-tuner docs/advanced_config.md: keep the sampled distribution's shape inside the
        # expert's range instead of squashing it (recommended for a single Wan 2.2 expert).
        argv.switch("--preserve_distribution_shape", bool(ts and ts.preserve_distribution_shape) and low is not None)
        if ts is not None and ts.timestep_boundary is not None and not expert:
            argv.opt("--timestep_boundary", ts.timestep_boundary)
        argv.switch("--offload_inactive_dit", mem.offload_inactive_dit and plan.weights.dit_high_noise is not None and not expert)
        if not expert and plan.weights.dit_high_noise and family.experts:
            argv.opt("--dit_high_noise", plan.weights.dit_high_noise)
        add_length(argv, plan, max_train_steps)
        argv.opt("--seed", sched.seed)
        argv.opt("--output_dir", output_dir or plan.output_dir)
        add_logging(argv, output_dir or plan.output_dir)
        argv.opt("--output_name", expert.output_name if expert else plan.output_name)
        before = len(argv.items)
        add_sampling(argv, plan, max_train_steps, expert.expert if expert else None)
        if len(argv.items) > before and recipe.sample:
            # musubi-tuner wan_train_network.py: sampling encodes the prompts with the text encoder and
            # decodes with the VAE, given to the training script (docs/sampling_during_training.md).
            argv.items += _fill(recipe.sample, plan, family, expert)
            _text_fp8(argv, plan, family, recipe, _loads(recipe.sample, recipe.text_role))
        return argv.items


def _add_lightning_merge(argv: Argv, plan: TrainingPlan, expert: ExpertPlan | None) -> None:
    """musubi-tuner training/trainer_base.py _build_network: every --base_weights file is merged into
    the model loaded from --dit before the LoRA is made. With --dit_high_noise in the same run the
    high-noise weights are kept aside untouched (wan_train_network.py load_transformer), so a merge
    only works one expert per run, each run with its own expert's Lightning file."""
    spec = plan.lightning
    if spec is None or not spec.merged:
        return
    if expert is None:
        raise LoragateError(
            "Lightning is to be merged, but the plan trains both Wan 2.2 experts in one run: musubi would merge it into the "
            "low-noise expert only, and the high-noise one would train on the plain base.",
            "Make the plan again with the experts as separate runs (loragate plan new ... --expert both).",
        )
    file = merged_file(plan, expert.expert)
    if file:
        argv.opt("--base_weights", file).opt("--base_weights_multiplier", spec.strength)


def control_directory(subset: DatasetSubset, family: ModelFamily) -> str:
    """musubi-tuner docs/dataset_config.md "Image Dataset with Control Images": control_directory
    holds each target's starting image under the same name."""
    if not subset.control_path:
        if family.one_frame:
            from loragate.dataset.control_frames import no_control_folder

            raise no_control_folder(subset.path, family, family.one_frame)
        raise LoragateError(
            f"{family.display_name} learns an edit from pairs, but {subset.path} has no control/ folder with the starting pictures.",
            f"Put each picture's starting image in {subset.path}/control/ under the same file name (any image type), then plan again.",
        )
    return subset.control_path


def _attention_flags(recipe: Recipe) -> dict[str, list[str]]:
    """The attention choices this model's scripts accept, as flags (recipe: refused ones, --split_attn)."""
    choices = {name: flags for name, flags in ATTENTION_FLAGS.items() if flags[0] not in recipe.attention_refused}
    if recipe.split_attn_unless_sdpa:
        choices = {name: flags if name == "sdpa" or "--split_attn" in flags else [*flags, "--split_attn"]
                   for name, flags in choices.items()}
    return choices


def _text_fp8(argv: Argv, plan: TrainingPlan, family: ModelFamily, recipe: Recipe, loads: bool) -> None:
    """The text encoder's fp8 switch where the command loads it and the plan asks for it."""
    if not (plan.memory.fp8_text_encoder and loads):
        return
    if not recipe.text_encoder_fp8:
        raise LoragateError(f"{family.display_name}'s text encoder cannot be read in fp8 by musubi-tuner.",
                            "Set memory.fp8_text_encoder to false in plan.json; caching its captions needs a card that holds it in bf16.")
    argv.switch(recipe.text_encoder_fp8)


def _loads(items: list[str], role: str) -> bool:
    return "{" + role + "}" in items


def _fill(items: list[str], plan: TrainingPlan, family: ModelFamily, expert: ExpertPlan | None = None) -> list[str]:
    """A recipe's argv with its placeholders replaced: {task} by the family's model selector, {role}
    by the plan's weight file of that role ({dit}: the expert's own file in an expert run)."""
    out: list[str] = []
    for item in items:
        if not is_placeholder(item):
            out.append(item)
            continue
        role = item[1:-1]
        if role == PLACEHOLDER_TASK:
            if not family.task:
                raise LoragateError(f"The model family {family.id} names no task for musubi-tuner's scripts.",
                                    "Set `task` for it in loragate/data/models.toml.")
            out.append(family.task)
        else:
            value = expert.dit if expert and role == "dit" else getattr(plan.weights, role)
            out.append(need_file(value, role_words(role), role))
    return out
