"""Checks on the plan's Lightning files: Gate 2 says which form the artist gets; Gate 3 reads the
files' headers on the machine that trains (rank, expert, T2V/I2V, the naming musubi can merge)."""

from __future__ import annotations

from pathlib import Path, PurePath

from loragate.catalog.models import ModelFamily
from loragate.core.findings import Finding
from loragate.lightning.choice import lightning_file
from loragate.lightning.files import LightningFile, convert_command, read_lightning
from loragate.core.plan import TrainingPlan

GB = 1024**3
BYTES_16BIT = 2
# lightx2v's Wan2.2-Lightning files are rank 64 (Kijai's copies too; NVlabs/rcm issue #9 "kj 2.2的rank只给了64");
# used only to size a file loragate cannot see yet.
RELEASE_RANK = 64
# musubi merges each layer in fp32 on the CPU, two at a time (networks/lora.py merge_to: ThreadPoolExecutor(max_workers=2));
# the largest Wan 14B layer (ffn 13824 x 5120) is 0.28 GB in fp32.
MERGE_WORKSPACE_GB = 1.0
# Wan width (hidden size) by model size: musubi-tuner wan/configs.
WIDTHS = {5120: "Wan 14B", 1536: "Wan 1.3B", 3072: "Wan 2.2 TI2V-5B"}


def choice_findings(plan: TrainingPlan) -> list[Finding]:
    """Gate 2: the form the artist gets and why (an info line), so it is never a surprise."""
    spec = plan.lightning
    if spec is None:
        return []
    on = sorted([*spec.merged, *spec.premerged])
    message = spec.note
    if spec.merged:
        message += (" Merged experts train with 16-bit weights, never --fp8_scaled (musubi would add Lightning to the scaled "
                    "8-bit weights without their scale), so they need more graphics memory; where that does not fit, give a "
                    "pre-merged 16-bit expert file instead (--lightning-premerged) or train on the base.")
    return [Finding(
        code="PLAN_LIGHTNING_MERGED" if on else "PLAN_LIGHTNING_STACKED", severity="info", message=message,
        fix=("To train on the plain base instead (the usual advice), make the plan again without --lightning-merge / "
             "--lightning-premerged." if on else "Nothing to do; to train on base + Lightning instead, see --lightning-merge."),
        evidence={"high_noise": spec.high_noise, "low_noise": spec.low_noise, "merged": spec.merged, "premerged": spec.premerged,
                  "strength": spec.strength},
    )]


def lightning_file_gb(plan: TrainingPlan, family: ModelFamily) -> float:
    """One Lightning file's size: read from disk when it is here, else a rank-64 16-bit LoRA of this model."""
    spec = plan.lightning
    if spec is not None:
        seen = [info.size_gb for info in map(read_lightning, (spec.high_noise, spec.low_noise))
                if isinstance(info, LightningFile) and info.size_gb]
        if seen:
            return max(seen)
    return family.lora_params_per_rank * RELEASE_RANK * BYTES_16BIT / GB


def merge_ram_gb(plan: TrainingPlan, family: ModelFamily) -> float:
    """RAM a --base_weights merge adds to one run: the Lightning file loaded whole (safetensors load_file)
    plus the merge's fp32 workspace. Nothing is added when no expert is merged by the trainer."""
    if plan.lightning is None or not plan.lightning.merged:
        return 0.0
    return lightning_file_gb(plan, family) + MERGE_WORKSPACE_GB


def expert_copy_gb(family: ModelFamily) -> float:
    return family.params_b * 1e9 * BYTES_16BIT / GB


def premerged_files(plan: TrainingPlan) -> list[tuple[str, str | None, bool]]:
    """(expert, the plan's file for it, whether it is on this machine) for each pre-merged expert."""
    if plan.lightning is None:
        return []
    out: list[tuple[str, str | None, bool]] = []
    for expert in plan.lightning.premerged:
        path = next((e.dit for e in plan.experts if e.expert == expert), None)
        out.append((expert, path, bool(path and Path(path).expanduser().is_file())))
    return out


def extra_disk_gb(plan: TrainingPlan, family: ModelFamily) -> float:
    """Weights the Lightning choice adds beside the plain experts: both Lightning files (rendering needs
    them) and each pre-merged expert already made, a second 16-bit copy of that expert (the plain one
    stays for rendering). Copies still to be made count in Gate 3's disk needs instead."""
    if plan.lightning is None:
        return 0.0
    made = sum(1 for _, _, here in premerged_files(plan) if here)
    return 2 * lightning_file_gb(plan, family) + made * expert_copy_gb(family)


def file_findings(plan: TrainingPlan, family: ModelFamily) -> list[Finding]:
    """Gate 3: each expert's Lightning file, from its header and name."""
    spec = plan.lightning
    if spec is None:
        return []
    findings: list[Finding] = []
    for expert in ("high", "low"):
        path = lightning_file(spec, expert)
        info = read_lightning(path)
        merged = expert in spec.merged
        if isinstance(info, str):
            findings.append(Finding(
                code="ENV_LIGHTNING_MISSING", severity="block" if merged else "warn",
                message=f"The {expert}-noise expert's Lightning file cannot be used: {info}."
                        + (" The trainer merges it at start and would stop." if merged else " The evaluation grid needs it."),
                fix="Download the Lightning release (lightx2v Wan2.2-Lightning, one file per expert) to that path, or fix the path in the plan.",
                path=path, evidence={"expert": expert},
            ))
            continue
        findings += _judge(plan, family, expert, info, merged)
    return findings + _premerged_findings(plan, family)


def _premerged_findings(plan: TrainingPlan, family: ModelFamily) -> list[Finding]:
    """A pre-merged expert cannot be told from the plain one by its header (same layers, same shapes);
    the plain release's own file name is the one sign that the merge did not happen (the silent
    fall-back to the plain base public templates are reported to make)."""
    out = []
    for expert, path, _ in premerged_files(plan):
        release = family.weights_files.get("dit_high_noise" if expert == "high" else "dit")
        if path and release and PurePath(path).name == PurePath(release).name:
            out.append(Finding(
                code="ENV_LIGHTNING_PREMERGED_PLAIN", severity="warn",
                message=f"The {expert}-noise expert is said to hold Lightning already, but its file has the plain release's "
                        f"name ({PurePath(path).name}): if it is the plain expert, the LoRA trains without Lightning.",
                fix="Point the plan at the file saved after the merge, or drop --lightning-premerged for that expert "
                    "(--lightning-merge lets the trainer merge it).",
                path=path, evidence={"expert": expert}))
    return out


def _judge(plan: TrainingPlan, family: ModelFamily, expert: str, info: LightningFile, merged: bool) -> list[Finding]:
    name = PurePath(info.path).name
    evidence = {"expert": expert, "rank": info.rank, "key_format": info.key_format, "layers": info.layers,
                "expert_by_name": info.expert_by_name, "task_by_name": info.task_by_name, "width": info.width}
    if not info.is_lora:
        return [Finding(
            code="ENV_LIGHTNING_NOT_LORA", severity="block",
            message=f"{name}, given as the {expert}-noise expert's Lightning file, holds no LoRA layers: it is a whole model or another file.",
            fix="Give the Lightning LoRA file (high_noise_model.safetensors / low_noise_model.safetensors of the release); "
                "a model that already has Lightning merged in goes in the plan's weights with --lightning-premerged.",
            path=info.path, evidence=evidence)]
    out: list[Finding] = []
    other = "low" if expert == "high" else "high"
    if info.expert_by_name == other:
        out.append(Finding(
            code="ENV_LIGHTNING_WRONG_EXPERT", severity="block",
            message=f"{name} is named for the {other}-noise expert but the plan uses it for the {expert}-noise expert. "
                    "Both files have the same layers, so nothing would fail: the expert would just get the other's speed-up.",
            fix="Swap the two Lightning files in the plan (--lightning-high / --lightning-low).", path=info.path, evidence=evidence))
    if info.width is not None and info.width != 5120:
        made = WIDTHS.get(info.width, f"a model {info.width} wide")
        out.append(Finding(
            code="ENV_LIGHTNING_SIZE", severity="block",
            message=f"{name} was made for {made}, not the 14B Wan 2.2 experts: its layers do not fit and would not load.",
            fix="Use the Wan 2.2 A14B Lightning release for this model.", path=info.path, evidence=evidence))
    task = "i2v" if family.i2v else "t2v"
    if info.task_by_name and info.task_by_name != task:
        out.append(Finding(
            code="ENV_LIGHTNING_TASK", severity="block",
            message=f"{name} is the {info.task_by_name.upper()} Lightning release, but the plan trains {family.display_name}. "
                    "The layers have the same shapes, so it loads without an error, distilled for the other task.",
            fix=f"Use the {task.upper()} release (Wan2.2-{task.upper()}-A14B-4steps-lora...).", path=info.path, evidence=evidence))
    wanted_channels = 36 if family.i2v else 16  # Wan 2.2 A14B patch_embedding input: I2V 36, T2V 16
    if info.in_channels is not None and info.in_channels != wanted_channels:
        made = "I2V" if info.in_channels == 36 else ("T2V" if info.in_channels == 16 else f"{info.in_channels}-channel")
        out.append(Finding(
            code="ENV_LIGHTNING_TASK", severity="block",
            message=f"{name} changes the input layer of an {made} model ({info.in_channels} channels), but {family.display_name} "
                    f"takes {wanted_channels}: that layer cannot load.",
            fix=f"Use the {task.upper()} Lightning release.", path=info.path, evidence=evidence))
    if info.image_layers:
        out.append(Finding(
            code="ENV_LIGHTNING_TASK", severity="warn",
            message=f"{name} has image cross-attention layers (k_img, v_img) that only Wan 2.1 I2V has: it is a Wan 2.1 "
                    f"speed-up LoRA, and {family.display_name} lacks those layers (ComfyUI logs 'lora key not loaded' for each).",
            fix="Use the Wan 2.2 Lightning release made for this model.", path=info.path, evidence=evidence))
    if info.key_format != "lora_unet":
        convert = convert_command(plan.trainer_python or "python", info.path)
        out.append(Finding(
            code="ENV_LIGHTNING_NAMING", severity="block" if merged else "info",
            message=f"{name} names its layers the release's way (diffusion_model.blocks...), which musubi does not read: "
                    + ("--base_weights would merge nothing, without an error, and the expert would train on the plain base." if merged
                       else "ComfyUI loads it, but wan_generate_video.py skips such layers silently, so `loragate eval "
                            "--engine scripts` would render without Lightning."),
            fix=(f"Convert a copy to musubi's naming and put the copy in the plan: `{convert}`." if merged
                 else f"For musubi, convert a copy: `{convert}`; ComfyUI needs nothing."),
            path=info.path, evidence=evidence))
    if info.expert_by_name is None:
        out.append(Finding(
            code="ENV_LIGHTNING_EXPERT_UNKNOWN", severity="info",
            message=f"Neither {name}'s name nor its header says which expert it is for (both experts' files have the same layers); "
                    f"loragate takes your word that it is the {expert}-noise one.",
            fix="Check it came from the release's high_noise_model / low_noise_model file; renaming the copy to say HIGH or LOW avoids mix-ups.",
            path=info.path, evidence=evidence))
    out.append(Finding(
        code="ENV_LIGHTNING_FILE", severity="info",
        message=f"{expert}-noise Lightning: {name}, rank {info.rank}, {info.layers} layers over {info.blocks} blocks, "
                f"{'musubi' if info.key_format == 'lora_unet' else 'release'} naming"
                + (f", {info.task_by_name.upper()} by name" if info.task_by_name else "") + ".",
        fix="Nothing to do.", path=info.path, evidence=evidence))
    return out
