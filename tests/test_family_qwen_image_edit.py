"""Qwen-Image-Edit (and 2509 / 2511) through musubi-tuner: Qwen-Image's scripts with
--model_version edit* at every step and edit pairs in the dataset (musubi-tuner 30c658c
docs/qwen_image.md, docs/dataset_config.md "Qwen-Image-Edit and Qwen-Image-Edit-2509/2511")."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.plan.new import new_plan
from loragate.validate import ValidationReport, validate_files
from loragate.vram import base_estimate
from loragate.vram.model import VramRequest
from tests.family_kit import EDIT_2511_DIT, FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import control_dataset, flat_dataset
from tests.validate_helpers import blocking, codes

DOC = "qwen_image_doc.sh"
EDIT_DS = (FIX / "qwen_edit_ds.toml").read_text(encoding="utf-8")
VERSIONS = {"qwen-image-edit": "edit", "qwen-image-edit-2509": "edit-2509", "qwen-image-edit-2511": "edit-2511"}


@pytest.mark.parametrize("family", VERSIONS)
def test_plan_new_writes_edit_commands_and_pairs(family: str, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", family, control_dataset(tmp_path), "mira", gpu_gb=24)
    for command in plan.commands:  # docs: edit models cache their control images and prompts with the version
        assert command.argv[command.argv.index("--model_version") + 1] == VERSIONS[family]
    [entry] = get_backend("musubi").dataset_config(plan)["datasets"]
    assert entry["control_directory"].endswith("/control") and entry["control_resolution"] == [1024, 1024]
    assert plan.commands[-1].argv[plan.commands[-1].argv.index("--dit") + 1].endswith(get_family(family).weights_files["dit"])
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == family, blocking(report)


def test_pictures_without_their_starting_images_are_refused(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="control/"):
        new_plan("mira", "qwen-image-edit", flat_dataset(tmp_path), "mira", gpu_gb=24)


def test_control_images_cost_memory() -> None:
    """docs: 'Qwen-Image-Edit training requires additional memory for the control images.'"""
    def training(model: str) -> float:
        request = VramRequest(model=model, resolution="1024", batch=1, rank=16, optimizer="AdamW8bit", fp8_base=True, fp8_scaled=True)
        return base_estimate(request).phases["training"]
    assert training("qwen-image-edit") > training("qwen-image") + 1.0


def _edit_doc(tmp_path: Path, dataset: str = EDIT_DS) -> ValidationReport:
    """The docs' Qwen-Image example as its Qwen-Image-Edit-2511 form (QI: add --model_version edit-2511)."""
    folder = tmp_path / "doc"
    folder.mkdir(parents=True, exist_ok=True)
    text = (FIX / DOC).read_text(encoding="utf-8").replace("--model_version original", "--model_version edit-2511")
    text = text.replace("qwen_image_bf16.safetensors", "qwen_image_edit_2511_bf16.safetensors")
    (folder / "dataset.toml").write_text(dataset, encoding="utf-8")
    (folder / DOC).write_text(text.replace("path/to/toml", str(folder / "dataset.toml")), encoding="utf-8")
    return validate_files([folder / DOC], check_paths=False)


def test_the_docs_edit_example_validates_go(tmp_path: Path) -> None:
    report = _edit_doc(tmp_path)
    assert report.verdict == "GO" and report.model == "qwen-image-edit-2511", blocking(report)


def test_edit_pitfalls(tmp_path: Path) -> None:
    no_control = _edit_doc(tmp_path / "a", dataset=(FIX / "qwen_ds.toml").read_text(encoding="utf-8"))
    assert "MUSUBI_CONTROL_MISSING" in codes(no_control) and no_control.verdict == "NO-GO"
    no_resolution = _edit_doc(tmp_path / "b", dataset=EDIT_DS.replace("control_resolution = [1024, 1024]\n", ""))
    [hit] = [f for f in no_resolution.findings if f.code == "MUSUBI_CONTROL_RESOLUTION"]
    assert hit.severity == "warn" and "[1024, 1024]" in hit.fix
    # caches made for the original model lack the control latents the edit training reads
    stale = changed_example(DOC, tmp_path / "c", "--model_version original \\\n    --dataset_config",
                            "--model_version edit-2511 \\\n    --dataset_config", dataset=EDIT_DS)
    assert "MUSUBI_MODEL_VERSION_MISMATCH" in codes(stale) and stale.model == "qwen-image-edit-2511"


def test_older_control_keys_are_read_as_musubi_reads_them(tmp_path: Path) -> None:
    """musubi-tuner still reads qwen_image_edit_control_resolution (renamed on load): a warning that
    names the new key, not an 'unknown key' block, and the control resolution counts as given."""
    old = _edit_doc(tmp_path, dataset=EDIT_DS.replace("control_resolution = [1024, 1024]",
                                                      "qwen_image_edit_control_resolution = [1024, 1024]"))
    assert old.verdict == "GO", blocking(old)
    [hit] = [f for f in old.findings if f.code == "TOML_DEPRECATED_KEY"]
    assert hit.severity == "warn" and "control_resolution" in hit.fix
    assert "MUSUBI_CONTROL_RESOLUTION" not in codes(old) and "TOML_UNKNOWN_KEY" not in codes(old)


@pytest.mark.parametrize("prefix", ["", "model.diffusion_model."])
def test_gate3_refuses_comfyuis_2511_dit_under_another_edit_version(prefix: str, workspace: Path, tmp_path: Path) -> None:
    """ComfyUI's 2511 file has Qwen-Image's tensors, so the signature passes; its marker makes musubi-tuner
    stop unless it trains edit-2511 (30c658c qwen_image/qwen_image_model.py:1497-1499)."""
    full = {**get_family("qwen-image-edit-2511").weight_signatures["dit"], **EDIT_2511_DIT}
    dit = signature_file(tmp_path / "qwen_image_edit_2511_bf16.safetensors", full, prefix=prefix)
    wrong = gate3(plan_with_weights("qwen-image-edit-2509", control_dataset(tmp_path), {"dit": str(dit)}))
    severity, text = wrong["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "Qwen-Image-Edit-2511" in text and "for the model qwen-image-edit-2511" in text
    right = gate3(plan_with_weights("qwen-image-edit-2511", control_dataset(tmp_path / "b"), {"dit": str(dit)}))
    assert "ENV_WEIGHTS_ARCH_MISMATCH" not in right


def test_gate3_does_not_judge_a_dit_without_the_marker(workspace: Path, tmp_path: Path) -> None:
    dit = signature_file(tmp_path / "qwen_image_edit_2509_bf16.safetensors", get_family("qwen-image-edit-2509").weight_signatures["dit"])
    found = gate3(plan_with_weights("qwen-image-edit-2509", control_dataset(tmp_path), {"dit": str(dit)}))
    assert "ENV_WEIGHTS_ARCH_MISMATCH" not in found
