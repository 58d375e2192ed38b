"""Paths: one platform per setup, and (when validating for this machine) inputs that exist.

Missing paths are warnings, not blocks: a RunPod or Modal setup is often checked on a laptop
before upload, where none of its paths exist. Gate 3 (environment) runs on the machine that
trains and is where a missing model file blocks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from loragate.validate.rules.base import Hit, Setup, rule

INPUT_FLAGS = ("--dit", "--dit_high_noise", "--vae", "--t5", "--clip", "--dataset_config", "--config_file",
               "--network_weights", "--resume", "--pretrained_model_name_or_path", "--clip_l", "--t5xxl", "--ae",
               "--sample_prompts", "--train_data_dir", "--reg_data_dir", "--in_json", "--base_weights")
OUTPUT_FLAGS = ("--output_dir", "--logging_dir")
DATASET_INPUT_KEYS = ("image_directory", "video_directory", "image_jsonl_file", "video_jsonl_file",
                      "control_directory", "image_dir", "metadata_file", "conditioning_data_dir")
DATASET_OUTPUT_KEYS = ("cache_directory",)

_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")
_HF_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_UNRESOLVED = re.compile(r"\$\{?\w|%\w+%|<[^>]+>")

PLATFORM_WORDS = {"windows": "Windows", "runpod": "RunPod (/workspace)", "modal": "Modal (/root)",
                  "posix": "Linux/macOS"}


def platform_of(value: str) -> str | None:
    if _WINDOWS.match(value):
        return "windows"
    if value == "/workspace" or value.startswith("/workspace/"):
        return "runpod"
    if value == "/root" or value.startswith("/root/"):
        return "modal"
    if value.startswith("/"):
        return "posix"
    return None


def _conflict(kinds: set[str]) -> bool:
    return ("windows" in kinds and len(kinds) > 1) or {"runpod", "modal"} <= kinds


def all_paths(setup: Setup, inputs_only: bool = False) -> Iterator[tuple[str, dict[str, Any], Path | None]]:
    """(path as written, evidence, folder a relative path is read from) for every path in the setup."""
    flags = INPUT_FLAGS if inputs_only else INPUT_FLAGS + OUTPUT_FLAGS
    for inv in setup.invocations:
        for flag in flags:
            for value in inv.values(flag):
                yield value, inv.evidence(flag, value=value), setup.base_dir(inv)
    keys = DATASET_INPUT_KEYS if inputs_only else DATASET_INPUT_KEYS + DATASET_OUTPUT_KEYS
    for config in setup.datasets.values():
        for i, ds in enumerate(config.datasets):
            tables: list[tuple[tuple[Any, ...], dict[str, Any]]] = [(("datasets", i), ds)]
            tables += [(("datasets", i, "subsets", j), s) for j, s in enumerate(ds.get("subsets", []) or [])
                       if isinstance(s, dict)]
            for where, table in tables:
                for key in keys:
                    found = table.get(key)
                    if isinstance(found, str):
                        yield found, config.evidence(*where, key, value=found), config.base_dir


@rule("PATH_MIXED_PLATFORMS", "block", "Paths from different platforms in one setup.",
      "production validation table ('Modal paths in a RunPod script or vice versa')")
def mixed_platforms(setup: Setup) -> Iterator[Hit]:
    by_kind: dict[str, tuple[str, dict[str, Any]]] = {}
    for value, evidence, _ in all_paths(setup):
        kind = platform_of(value)
        if kind:
            by_kind.setdefault(kind, (value, evidence))
    if not _conflict(set(by_kind)):
        return
    listed = "; ".join(f"{PLATFORM_WORDS[k]}: {v} ({e.get('file')}:{e.get('line') or ''})" for k, (v, e) in by_kind.items())
    first = next(k for k in ("windows", "modal", "runpod", "posix") if k in by_kind)
    yield Hit(f"This setup mixes paths of different machines ({listed}). On any one machine some of them cannot "
              "exist, so a step fails or reads the wrong files.",
              "Write every path for the machine that will train (e.g. all under /workspace on RunPod).",
              {**by_kind[first][1], "platforms": sorted(by_kind)})


@rule("PATH_MISSING", "warn", "An input path that does not exist on this machine.",
      "loragate: checked only with check_paths (CLI default); Gate 3 repeats it on the training machine")
def missing(setup: Setup) -> Iterator[Hit]:
    if not setup.check_paths:
        return
    seen: set[Path] = set()
    for value, evidence, base in all_paths(setup, inputs_only=True):
        if not value or _UNRESOLVED.search(value):
            continue
        path = setup.resolve(value, base)
        if evidence.get("flag") == "--config_file" and path.suffix != ".toml":
            path = path.with_name(path.name + ".toml")
        if path in seen:
            continue
        seen.add(path)
        if not setup.may_look(path, value) or path.exists():
            continue
        if evidence.get("flag") == "--pretrained_model_name_or_path" and _HF_ID.match(value):
            continue  # a Hugging Face id, downloaded by the trainer
        other = platform_of(value)
        note = f" It is a {PLATFORM_WORDS[other]} path." if other in ("windows", "runpod", "modal") else ""
        yield Hit(f"{value} does not exist here.{note} Fine if this setup is meant for another machine; on the "
                  "machine that trains, the step using it will fail.",
                  "Fix the path, or validate on the training machine.", {**evidence, "resolved": str(path)})


@rule("TRAIN_OUTPUT_MISSING", "block", "No --output_dir (or --output_name) for training.",
      "reference musubi-tuner.md §1.5 (not checked up front; the first save fails or writes None-000001)")
def output_missing(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if not setup.known(inv):
            continue
        if not inv.has("--output_dir"):
            yield Hit("Training has no --output_dir; the trainer does not check this at start and fails at the first "
                      "save, after the first epoch of GPU time.", "Add --output_dir.", inv.evidence("--output_dir"))
        if not inv.has("--output_name"):
            yield Hit("Training has no --output_name, so the LoRA files are named None-000001.safetensors and so on.",
                      "Add --output_name with the LoRA's name.", inv.evidence("--output_name"), severity="warn")


@rule("TRAIN_OUTPUT_COLLISION", "block", "Two training commands write the same LoRA files.",
      "reference musubi-tuner.md §3 (files are {output_dir}/{output_name}-{epoch}.safetensors)")
def output_collision(setup: Setup) -> Iterator[Hit]:
    seen: dict[tuple[str, str], str] = {}
    for inv in setup.trains():
        directory, name = inv.value("--output_dir"), inv.value("--output_name")
        if not directory or not name:
            continue
        key = (directory.rstrip("/\\"), name)
        if key in seen:
            yield Hit(f"This training writes {name}*.safetensors into {directory}, like {seen[key]}; the runs overwrite "
                      "each other's checkpoints (both experts at once, for instance).",
                      "Give each run its own --output_name (e.g. name_high / name_low).",
                      inv.evidence("--output_name", other=seen[key]))
        else:
            seen[key] = inv.source


@rule("LOG_DIR_MISSING", "block", "--log_with tensorboard/all without --logging_dir.",
      "reference sd-scripts.md §4 ('logging_dir is required when log_with is tensorboard'), musubi-tuner.md §1.5")
def log_dir(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if inv.value("--log_with") in ("tensorboard", "all") and not inv.has("--logging_dir"):
            yield Hit(f"--log_with {inv.value('--log_with')} needs --logging_dir; the trainer stops at start.",
                      "Add --logging_dir logs.", inv.evidence("--log_with"))
