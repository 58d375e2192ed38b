"""The real trainers' own code reads every command and dataset TOML `plan new` writes as loragate
means them: their argparse parsers and dataset-config sanitizers, imported from the checkouts
(heavy libraries stubbed, in a separate process; tests/contract/probe.py).

Skips, saying how to run it, without SD_SCRIPTS_DIR / MUSUBI_TUNER_DIR or ../shared/trainers/.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

from loragate.backends import get_backend
from loragate.backends.musubi_recipes import get_recipe
from loragate.catalog.models import family_ids, get_family
from loragate.catalog.networks import load_networks, network_kinds
from loragate.core.plan import Command, TrainingPlan
from loragate.plan.new import PLATFORMS, new_plan
from tests.contract.realcode import ask
from tests.plan_helpers import control_dataset, flat_dataset, frames_dataset, kohya_dataset, wan_dataset

PRESETS = ("quick", "standard", "thorough")
TYPES = ("character", "style", "object")


def _variants(family: str) -> list[dict[str, Any]]:
    """Every preset and training type, every platform, and (Wan 2.2) every expert choice."""
    options = [{"preset": p, "training_type": t} for p, t in product(PRESETS, TYPES)]
    options += [{"platform": p} for p in PLATFORMS if p != "local"]
    if get_family(family).experts:
        options += [{"expert": e} for e in ("high", "low", "both")]
        # Wan 2.2 with Lightning: stacked only (no trainer flag), and merged into one or both expert runs
        files = {"high_noise": "/m/lightning/high_noise_model.safetensors", "low_noise": "/m/lightning/low_noise_model.safetensors"}
        options += [{"lightning": {**files, "merge": merge, "strength": 0.75}} for merge in ([], ["low"], ["both"])]
    options += [{"network": kind} for kind in network_kinds()[1:]
                if getattr(load_networks()[kind], get_family(family).trainer) is not None]
    return options


def _plans(root: Path) -> list[tuple[str, TrainingPlan]]:
    wan, kohya, flat, pairs, frames = wan_dataset(root), kohya_dataset(root), flat_dataset(root), control_dataset(root), frames_dataset(root)
    plans = []
    for family in family_ids():
        facts = get_family(family)
        datasets = [wan] if facts.video else [frames] if facts.one_frame else [pairs] if facts.control_images else [flat, kohya]
        for data, options in product(datasets, _variants(family)):
            label = f"{family} {data.name} " + " ".join(f"{k}={v}" for k, v in options.items())
            plans.append((label, new_plan("mira", family, data, "mira", gpu_gb=24, **options)))
    return plans


def _script_argv(command: Command) -> tuple[str, list[str]]:
    """The script's base name and the arguments after it (whatever launches it)."""
    at = next(i for i, item in enumerate(command.argv) if item.endswith(".py"))
    return command.argv[at].rsplit("/", 1)[-1], command.argv[at + 1:]


def _intended(plan: TrainingPlan, command: Command) -> dict[str, Any]:
    """What loragate means each command to do, as the trainer's parsed arguments (dest -> value)."""
    family = get_family(plan.model)
    w, mem = plan.weights, plan.memory
    common = {"dataset_config": plan.dataset_toml}
    expert = next((e for e in plan.experts if e.expert == command.expert), None)
    recipe = get_recipe(family.recipe, family.id) if plan.backend == "musubi" else None
    if recipe and command.stage == "cache_latents":
        return {**common, **_recipe_values(recipe.cache_latents, plan, expert)}
    if recipe and command.stage == "cache_text_encoder":
        fp8 = {recipe.text_encoder_fp8.lstrip("-"): mem.fp8_text_encoder} if recipe.text_encoder_fp8 else {}
        return {**common, **_recipe_values(recipe.cache_text_encoder, plan, expert), **fp8}
    net, opt, sched = plan.network, plan.optimizer, plan.schedule
    want = {
        **common, "network_module": net.module, "network_dim": net.dim, "network_alpha": net.alpha,
        "network_args": net.args or None, "optimizer_type": opt.type, "learning_rate": opt.learning_rate,
        "lr_scheduler": opt.lr_scheduler, "max_train_epochs": sched.max_train_epochs, "seed": sched.seed,
        "save_every_n_epochs": sched.save_every_n_epochs, "mixed_precision": mem.mixed_precision,
        "gradient_checkpointing": mem.gradient_checkpointing, "output_dir": plan.output_dir,
        "output_name": expert.output_name if expert else plan.output_name, mem.attention: True,
    }
    if plan.backend == "sdscripts":
        want["pretrained_model_name_or_path"] = w.base_model
        # the side files a family names (FLUX: clip_l, t5xxl, ae; Chroma: no clip_l; SD 3.5: clip_l, clip_g, t5xxl)
        want.update({role: getattr(w, role) for role in ("clip_l", "clip_g", "t5xxl", "ae") if role in family.weights_files})
        want.update(v_parameterization=family.v_prediction, zero_terminal_snr=family.zero_terminal_snr)
        if family.model_type:
            want.update(model_type=family.model_type, apply_t5_attn_mask=family.t5_attn_mask,
                        guidance_scale=family.guidance_scale)
        return want
    ts = plan.timesteps
    assert recipe is not None
    want.update(_recipe_values(recipe.train, plan, expert))
    want.update(fp8_base=mem.fp8_base or mem.fp8_scaled, blocks_to_swap=mem.blocks_to_swap or None)
    if ts:
        want.update(timestep_sampling=ts.timestep_sampling)
        if ts.discrete_flow_shift is not None:  # flux2_shift reads none
            want.update(discrete_flow_shift=ts.discrete_flow_shift)
    if expert:
        want.update(min_timestep=expert.min_timestep, max_timestep=expert.max_timestep, dit_high_noise=None)
        spec = plan.lightning
        if spec is not None and expert.expert in spec.merged:
            want.update(base_weights=[spec.high_noise if expert.expert == "high" else spec.low_noise],
                        base_weights_multiplier=[spec.strength])
        else:
            want.update(base_weights=None, base_weights_multiplier=None)
    elif family.experts:
        want.update(dit_high_noise=w.dit_high_noise, timestep_boundary=ts.timestep_boundary if ts else None)
    return want


def _recipe_values(items: list[str], plan: TrainingPlan, expert: Any) -> dict[str, Any]:
    """dest -> value for a recipe's argv: each flag with the value after it (True for a switch);
    {role} is the plan's weight file, {task} the family's model selector."""
    family = get_family(plan.model)
    values: dict[str, Any] = {}
    for at, item in enumerate(items):
        if not item.startswith("--"):
            continue
        nxt = items[at + 1] if at + 1 < len(items) else "--"
        if nxt.startswith("--"):
            values[item[2:]] = True
        elif nxt == "{task}":
            values[item[2:]] = family.task
        elif nxt.startswith("{"):
            role = nxt[1:-1]
            values[item[2:]] = expert.dit if expert and role == "dit" else getattr(plan.weights, role)
        else:
            values[item[2:]] = int(nxt) if nxt.isdigit() else nxt
    return values


def _dataset_intended(plan: TrainingPlan) -> list[dict[str, Any]]:
    """What each dataset (musubi) or subset (sd-scripts) should hold after the trainer reads the TOML."""
    ds = plan.dataset
    rows = []
    subsets = [s for s in ds.subsets if plan.backend == "musubi" or s.kind == "image"]
    for subset in subsets:
        row: dict[str, Any] = {"num_repeats": subset.num_repeats, "caption_extension": ds.caption_extension,
                               "resolution": list(ds.resolution), "batch_size": plan.schedule.batch_size,
                               "enable_bucket": ds.enable_bucket}
        if plan.backend == "sdscripts":
            row["image_dir"] = subset.path
        else:
            row["image_directory" if subset.kind == "image" else "video_directory"] = subset.path
            row["cache_directory"] = subset.cache_dir
            if subset.control_path:
                row["control_directory"] = subset.control_path
                if get_family(plan.model).control_resolution:
                    row["control_resolution"] = get_family(plan.model).control_resolution
            one_frame = get_family(plan.model).one_frame
            if one_frame and subset.kind == "image":  # musubi's own reading of the one-frame keys
                row.update(fp_1f_clean_indices=one_frame.clean_indices, fp_1f_target_index=one_frame.target_index)
            if subset.kind == "video":
                row.update(target_frames=ds.target_frames, frame_extraction=ds.frame_extraction or "head")
        rows.append(row)
    return rows


def _mismatches(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    return [f"{key}: loragate means {value!r}, the trainer reads {got.get(key)!r}"
            for key, value in want.items() if got.get(key) != value]


def test_every_plan_command_and_dataset_toml_reads_as_loragate_means(checkouts: dict[str, Path], workspace: Path) -> None:
    requests: dict[str, list[dict[str, Any]]] = {"sdscripts": [], "musubi": []}
    expected: dict[str, list[tuple[str, str, Any]]] = {"sdscripts": [], "musubi": []}
    for number, (label, plan) in enumerate(_plans(workspace)):
        backend = get_backend(plan.backend)
        toml = workspace / "tomls" / f"{number:04d}.toml"
        toml.parent.mkdir(exist_ok=True)
        toml.write_text(backend.dataset_toml(plan), encoding="utf-8")
        for command in backend.commands(plan):
            script, argv = _script_argv(command)
            argv = [str(toml) if item == plan.dataset_toml else item for item in argv]
            requests[plan.backend].append({"op": "parse", "script": script, "argv": argv})
            want = {**_intended(plan, command), "dataset_config": str(toml)}
            expected[plan.backend].append((f"{label} {command.stage} {command.expert or ''}", "args", want))
        requests[plan.backend].append({"op": "dataset", "script": script, "argv": argv, "toml": str(toml)})
        expected[plan.backend].append((f"{label} dataset TOML", "dataset", _dataset_intended(plan)))

    problems: list[str] = []
    for trainer, checkout in checkouts.items():
        assert expected[trainer], f"no {trainer} plan was made"
        for (label, kind, want), answer in zip(expected[trainer], ask(trainer, checkout, requests[trainer])):
            if "error" in answer:
                problems.append(f"{label}: {answer['error']}")
            elif kind == "args":
                problems += [f"{label}: {m}" for m in _mismatches(want, answer["args"])]
            else:
                got = [{**d["params"], **s} for d in answer["datasets"] for s in (d["subsets"] or [{}])]
                if len(got) != len(want):
                    problems.append(f"{label}: {len(want)} folders meant, the trainer reads {len(got)}")
                problems += [f"{label}: {m}" for w, g in zip(want, got) for m in _mismatches(w, g)]
    assert not problems, "\n".join(problems[:60])
