"""Disk for caches and checkpoints, host RAM for block swap, tokenizers in the Hugging Face cache.

Sizes are estimates with a margin, from the plan and the model facts in the catalog; a shortfall
blocks because each one ends a run hours in (disk full at a save, the host killing the process,
a download failing on an offline pod).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily
from loragate.environment.trainer import TokenizerFacts
from loragate.core.findings import Finding
from loragate.core.plan import TrainingPlan

GB = 1024**3
MARGIN = 1.2  # over every estimate: file-system overhead, logs, sample images
DISK_HEADROOM_GB = 2.0
# Per family tuning. reference musubi-tuner.md §1.2 text_len 512; the cache keeps one umt5 (4096-wide)
# output per caption (Wan's figure, counted alike for the other musubi DiTs).
TE_CACHE_BYTES = {"musubi-dit": 512 * 4096 * 2, "flux": 512 * 4096 * 2, "sd": 77 * 2048 * 2}
CHECKPOINT_BYTES_PER_PARAM = 4  # musubi v0.3 and sd-scripts save LoRA weights in fp32 by default (reference musubi-tuner.md §5.17)
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "sentencepiece.bpe.model", "vocab.json")


class DiskNeed(BaseModel):
    purpose: str
    folder: str
    need_gb: float


class DiskCheck(BaseModel):
    filesystem: str = Field(description="The existing folder the space was measured on.")
    free_gb: float
    need_gb: float
    needs: list[DiskNeed]


class TokenizerCheck(BaseModel):
    repo: str
    subfolder: str = ""
    purpose: str
    cached: bool
    where: str | None = None


class ResourcesSection(BaseModel):
    disk: list[DiskCheck] = Field(default_factory=list)
    ram_available_gb: float | None = None
    ram_total_gb: float | None = None
    ram_need_gb: float | None = None
    ram_reason: str = ""
    hf_cache: str = ""
    hf_offline: bool = False
    tokenizers: list[TokenizerCheck] = Field(default_factory=list)


# ----------------------------------------------------------------------------------- disk
def _items(plan: TrainingPlan) -> tuple[int, int]:
    ds = plan.dataset
    if ds.subsets:
        images = sum(s.count for s in ds.subsets if s.kind == "image")
        videos = sum(s.count for s in ds.subsets if s.kind == "video")
        return images, videos
    return ds.image_count, ds.video_count


def cache_bytes(plan: TrainingPlan, family: ModelFamily) -> int:
    """Latent and text-encoder caches the trainer writes before training."""
    images, videos = _items(plan)
    width, height = plan.dataset.resolution
    plane = (width // family.latent_downscale) * (height // family.latent_downscale)
    # bf16 latents (musubi caches in the VAE dtype, bf16 for Wan: reference musubi-tuner.md §1.1).
    per_image = family.latent_channels * plane * 2
    if family.i2v:
        per_image += 20 * plane * 2  # latents_image: 4-ch mask + 16-ch first-frame latent (musubi §1.1)
    total = images * per_image
    if videos:
        frames = plan.dataset.target_frames or family.default_frames or [1]
        extraction = (plan.dataset.frame_extraction or "head").lower()
        clips_per_target = 1 if extraction == "head" else 4  # chunk/slide/uniform cut several clips per video
        for frame_count in frames:
            latent_frames = (frame_count - 1) // max(family.latent_frame_stride, 1) + 1
            total += videos * clips_per_target * per_image * latent_frames
    if traits(plan.backend).caches_in_steps or plan.memory.cache_text_encoder_outputs:
        total += (images + videos) * TE_CACHE_BYTES[family.tuning]
    return total


def checkpoint_bytes(plan: TrainingPlan, family: ModelFamily) -> tuple[int, int]:
    """(bytes of one saved LoRA, how many the run leaves on disk)."""
    params = family.lora_params_per_rank * plan.network.dim
    if traits(plan.backend).trains_text_encoder and not plan.memory.network_train_unet_only:
        params += family.te_lora_params_per_rank * plan.network.dim
    schedule = plan.schedule
    saves = max(1, schedule.max_train_epochs // max(schedule.save_every_n_epochs, 1)) + 1
    runs = max(1, len(plan.experts))
    return params * CHECKPOINT_BYTES_PER_PARAM, saves * runs


def _existing(folder: Path) -> Path:
    """The folder, or its nearest existing parent (what the trainer will create it in)."""
    current = folder.expanduser().absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def disk_needs(plan: TrainingPlan, family: ModelFamily) -> list[DiskNeed]:
    from loragate.lightning.checks import expert_copy_gb, premerged_files

    needs: list[DiskNeed] = []
    cache_folder = plan.dataset.cache_dir or next((s.cache_dir for s in plan.dataset.subsets if s.cache_dir), None) or plan.dataset.path
    needs.append(DiskNeed(purpose="latent and text-encoder caches", folder=cache_folder, need_gb=round(cache_bytes(plan, family) * MARGIN / GB, 2)))
    one, count = checkpoint_bytes(plan, family)
    needs.append(DiskNeed(purpose=f"{count} LoRA checkpoints of {one / GB * 1024:.0f} MB", folder=plan.output_dir, need_gb=round(one * count * MARGIN / GB, 2)))
    for expert, path, here in premerged_files(plan):
        if path and not here:  # a Lightning-merged copy of the expert the artist still has to write
            needs.append(DiskNeed(purpose=f"the Lightning-merged {expert}-noise expert still to be made",
                                  folder=str(Path(path).parent), need_gb=round(expert_copy_gb(family), 2)))
    return needs


def check_disk(needs: list[DiskNeed]) -> list[DiskCheck]:
    """Free space on each file system the needs land on, summed per file system."""
    checks: dict[int, DiskCheck] = {}
    for need in needs:
        existing = _existing(Path(need.folder))
        try:
            device = existing.stat().st_dev
            free = shutil.disk_usage(existing).free / GB
        except OSError:
            continue
        check = checks.setdefault(device, DiskCheck(filesystem=str(existing), free_gb=round(free, 2), need_gb=0.0, needs=[]))
        check.needs.append(need)
        check.need_gb = round(check.need_gb + need.need_gb, 2)
    for check in checks.values():
        check.need_gb = round(check.need_gb + DISK_HEADROOM_GB, 2)
    return list(checks.values())


def disk_findings(checks: list[DiskCheck]) -> list[Finding]:
    findings: list[Finding] = []
    for check in checks:
        what = ", ".join(f"{n.purpose} ({n.need_gb:.1f} GB)" for n in check.needs)
        if check.free_gb < check.need_gb:
            findings.append(
                Finding(
                    code="ENV_DISK_FULL",
                    severity="block",
                    message=f"{check.filesystem} has {check.free_gb:.1f} GB free; training needs about {check.need_gb:.1f} GB there for {what}.",
                    fix="Free space there, or move the cache / output folders in the plan to a larger disk (on a pod: the network volume).",
                    path=check.filesystem,
                    evidence=check.model_dump(),
                )
            )
        elif check.free_gb < 2 * check.need_gb:
            findings.append(
                Finding(
                    code="ENV_DISK_LOW",
                    severity="warn",
                    message=f"{check.filesystem} has {check.free_gb:.1f} GB free, little above the {check.need_gb:.1f} GB this training needs ({what}).",
                    fix="Free some space before a long run; extra saves or sample videos could fill it.",
                    path=check.filesystem,
                    evidence=check.model_dump(),
                )
            )
    return findings


# ----------------------------------------------------------------------------------- RAM
def read_meminfo(path: Path = Path("/proc/meminfo")) -> tuple[float | None, float | None]:
    """(MemAvailable, MemTotal) in GB, None where the system does not say."""
    values: dict[str, float] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * 1024 / 1e9  # kB; GB of 1e9 bytes, as the VRAM estimator counts
    except OSError:
        return None, None
    return values.get("MemAvailable"), values.get("MemTotal")


def ram_need(plan: TrainingPlan, family: ModelFamily) -> tuple[float, str] | None:
    """Host RAM the run needs (GB of 1e9 bytes) and why, from the VRAM estimator's host figure.

    The estimator counts the model loaded to RAM and the blocks block swap keeps there (reference
    musubi-tuner.md §1.5, §4.2). `--offload_inactive_dit` also parks the other Wan 2.2 expert in RAM
    (§4.1: about 96 GB for two fp8 experts on Windows), which the estimator's request does not carry.
    """
    from loragate.core.errors import LoragateError
    from loragate.lightning.checks import merge_ram_gb
    from loragate.vram import base_estimate
    from loragate.vram.plan import request_from_plan

    try:
        estimate = base_estimate(request_from_plan(plan))  # the machine correction scales GPU memory, not RAM
    except LoragateError:
        return None
    need = estimate.host_ram_gb
    reason = "the model loaded to RAM, the trainer" + (f", {plan.memory.blocks_to_swap} swapped blocks" if plan.memory.blocks_to_swap else "")
    if plan.memory.offload_inactive_dit:
        expert_gb = family.params_b * (1 if plan.memory.fp8_base else 2)
        need += expert_gb
        reason += f", the inactive Wan 2.2 expert ({expert_gb:.0f} GB)"
    merge_gb = merge_ram_gb(plan, family)
    if merge_gb:
        need += merge_gb
        reason += f", the Lightning file merged at start ({merge_gb:.1f} GB)"
    runs = runs_at_once(plan)
    if runs > 1:
        # each expert's run is its own trainer process with its own copy in RAM
        need *= runs
        reason += f"; {runs} trainings at once, one per Wan 2.2 expert, each with its own"
    return round(need, 1), reason


def runs_at_once(plan: TrainingPlan) -> int:
    """Trainer processes running at the same time: 2 for Wan 2.2 experts trained together."""
    trains = [c for c in plan.commands if c.stage == "train"] or plan.experts
    return 2 if plan.experts_together and len(trains) > 1 else 1


def ram_findings(section: ResourcesSection) -> list[Finding]:
    if section.ram_available_gb is None or section.ram_need_gb is None:
        return []
    if section.ram_available_gb < section.ram_need_gb:
        return [
            Finding(
                code="ENV_RAM_SHORT",
                severity="block",
                message=(
                    f"The machine has {section.ram_available_gb:.0f} GB of RAM available; this plan needs about {section.ram_need_gb:.0f} GB "
                    f"({section.ram_reason}). When memory runs out while the model loads, the system stops the training at "
                    "once, with no message of its own (the log only says it was killed, exit code 137)."
                ),
                fix="Close other programs, rent a pod with more RAM, or lower block swap / turn off offloading the inactive expert (more GPU memory instead).",
                evidence={"available_gb": section.ram_available_gb, "need_gb": section.ram_need_gb, "total_gb": section.ram_total_gb},
            )
        ]
    return []


# ----------------------------------------------------------------------------------- tokenizers
def hf_hub_cache() -> Path:
    """The Hugging Face hub cache, resolved as huggingface_hub does (HF_HUB_CACHE, HF_HOME)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def hf_offline() -> bool:
    return any(os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"} for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def tokenizer_cached(cache: Path, repo: str, subfolder: str) -> Path | None:
    """The snapshot folder holding the tokenizer files, if any snapshot has them."""
    snapshots = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    try:
        revisions = sorted(snapshots.iterdir())
    except OSError:
        return None
    for revision in revisions:
        folder = revision / subfolder if subfolder else revision
        if any((folder / name).exists() for name in TOKENIZER_FILES):  # exists() follows the blob symlink
            return folder
    return None


def needed_tokenizers(tokenizers: list[TokenizerFacts], plan: TrainingPlan | None, family: ModelFamily | None) -> list[TokenizerFacts]:
    result: list[TokenizerFacts] = []
    for tok in tokenizers:
        if tok.when_weight and (plan is None or not getattr(plan.weights, tok.when_weight, None)):
            continue
        if tok.families and (family is None or not ({family.id, family.variant_of} & set(tok.families))):
            continue
        result.append(tok)
    return result


def check_tokenizers(tokenizers: list[TokenizerFacts]) -> list[TokenizerCheck]:
    cache = hf_hub_cache()
    checks = []
    for tok in tokenizers:
        where = tokenizer_cached(cache, tok.repo, tok.subfolder)
        checks.append(TokenizerCheck(repo=tok.repo, subfolder=tok.subfolder, purpose=tok.purpose, cached=where is not None, where=str(where) if where else None))
    return checks


def download_command(python: str, check: TokenizerCheck) -> str:
    """Fetch only the tokenizer files (never a repo's multi-GB weights)."""
    base = f"{check.subfolder}/" if check.subfolder else ""
    patterns = [f"{base}*.json", f"{base}*.txt", f"{base}*.model"]
    code = f"from huggingface_hub import snapshot_download; snapshot_download({json.dumps(check.repo)}, allow_patterns={json.dumps(patterns)})"
    return f"{shlex.quote(python)} -c {shlex.quote(code)}"


def tokenizer_findings(section: ResourcesSection, python: str) -> list[Finding]:
    findings: list[Finding] = []
    for check in section.tokenizers:
        if check.cached:
            continue
        name = f"{check.repo}{'/' + check.subfolder if check.subfolder else ''}"
        offline = section.hf_offline
        findings.append(
            Finding(
                code="ENV_TOKENIZER_MISSING" if offline else "ENV_TOKENIZER_NOT_CACHED",
                severity="block" if offline else "warn",
                message=(
                    f"The tokenizer {name} ({check.purpose}) is not in the Hugging Face cache ({section.hf_cache})"
                    + (", and HF_HUB_OFFLINE is set, so caching will fail." if offline else "; the trainer downloads it at caching time, which fails without internet.")
                ),
                fix=f"Download it now, while online: `{download_command(python, check)}`",
                evidence=check.model_dump(),
            )
        )
    return findings

