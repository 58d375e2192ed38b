"""Shared steps of the per-family tests: a plan's own files through the validator, Gate 3 on
header-only weight files, and a published doc example with one change."""

from __future__ import annotations

from pathlib import Path

from loragate.backends import get_backend
from loragate.catalog.models import get_family
from loragate.environment.weights import read_weights, weights_findings
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from loragate.plan.train_script import render_train_sh
from loragate.validate import ValidationReport, validate_files
from tests.media import write_safetensors_header

FIX = Path(__file__).parent / "fixtures" / "validate"


def plan_files_report(plan: TrainingPlan, folder: Path, model: str | None = None) -> ValidationReport:
    """The validator's verdict on the train.sh and dataset TOML loragate writes for `plan`."""
    backend = get_backend(plan.backend)
    folder.mkdir(parents=True, exist_ok=True)
    plan.dataset_toml = str(folder / "dataset.toml")
    plan.commands = backend.commands(plan)
    (folder / "dataset.toml").write_text(backend.dataset_toml(plan), encoding="utf-8")
    (folder / "train.sh").write_text(render_train_sh(plan), encoding="utf-8")
    return validate_files([folder / "train.sh", folder / "dataset.toml"], model=model, check_paths=False)


def changed_example(fixture: str, folder: Path, old: str, new: str, dataset: str | None = None) -> ValidationReport:
    """A published example from tests/fixtures/validate with one text change, validated; with
    `dataset`, that TOML text is the example's --dataset_config (path/to/toml)."""
    text = (FIX / fixture).read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {fixture}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / fixture
    text = text.replace(old, new)
    if dataset is not None:
        (folder / "dataset.toml").write_text(dataset, encoding="utf-8")
        text = text.replace("path/to/toml", str(folder / "dataset.toml"))
    path.write_text(text, encoding="utf-8")
    return validate_files([path], check_paths=False)


def gate3(plan: TrainingPlan) -> dict[str, tuple[str, str]]:
    """Gate 3's weight findings for the plan: code -> (severity, message and fix)."""
    family = get_family(plan.model)
    section = read_weights(plan, family)
    return {f.code: (f.severity, f.message + " " + f.fix) for f in weights_findings(plan, family, section)}


def signature_file(path: Path, signature: dict[str, list[int]], dtype: str = "BF16", prefix: str = "",
                   extra: dict[str, tuple[str, list[int]]] | None = None) -> Path:
    """A header-only file holding the given tensors (sparse: no disk use)."""
    tensors = {prefix + key: (dtype, shape) for key, shape in signature.items()}
    return write_safetensors_header(path, {**tensors, **(extra or {})})


def plan_with_weights(model: str, data: Path, weights: dict[str, str], **options: object) -> TrainingPlan:
    return new_plan("mira", model, data, "mira", gpu_gb=24, weights=weights, **options)  # type: ignore[arg-type]


# ComfyUI's Qwen-Image-Edit-2511 DiT: Qwen-Image's tensors plus the marker musubi-tuner checks
# (30c658c qwen_image/qwen_image_model.py:1497-1499)
EDIT_2511_DIT = {"img_in.weight": [3072, 64], "txt_in.weight": [3072, 3584], "__index_timestep_zero__": [0]}


def validate_edit_2511_dit(folder: Path, version: str, dit: dict[str, list[int]] | None = None) -> ValidationReport:
    """musubi-tuner's Qwen-Image doc example run as --model_version `version` on a header-only DiT file
    (ComfyUI's 2511 release unless `dit` says otherwise), with paths checked so the header is read."""
    weights = signature_file(folder / "qwen_image_edit_2511_bf16.safetensors", dit if dit is not None else EDIT_2511_DIT)
    text = (FIX / "qwen_image_doc.sh").read_text(encoding="utf-8").replace("--model_version original", f"--model_version {version}")
    (folder / "dataset.toml").write_text((FIX / "qwen_edit_ds.toml").read_text(encoding="utf-8"), encoding="utf-8")
    script = folder / "train.sh"
    script.write_text(text.replace("path/to/qwen_image_bf16.safetensors", str(weights))
                      .replace("path/to/toml", str(folder / "dataset.toml")), encoding="utf-8")
    return validate_files([script], check_paths=True)
