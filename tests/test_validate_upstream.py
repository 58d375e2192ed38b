"""Pitfalls from the trainers' issue trackers, on the sides tests/test_validate_rules.py CASES do not
reach: the weights headers read when paths are checked, and the published configurations that must
stay GO with those files in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.validate import ValidationReport, validate_commands
from tests.family_kit import EDIT_2511_DIT, FIX, changed_example, signature_file, validate_edit_2511_dit
from tests.validate_helpers import CHROMA, DROP, LOHA, SD35, SDXL_DS, VPRED, WAN_DS, blocking, codes, edit, sds


def test_comfyuis_2511_dit_under_the_docs_2511_command_validates_go(tmp_path: Path) -> None:
    report = validate_edit_2511_dit(tmp_path, "edit-2511")
    assert report.verdict == "GO" and report.model == "qwen-image-edit-2511", blocking(report)


def test_comfyuis_2511_dit_trained_as_2509_is_refused_with_the_version_to_use(tmp_path: Path) -> None:
    report = validate_edit_2511_dit(tmp_path, "edit-2509")
    [hit] = [f for f in report.findings if f.code == "QWEN_EDIT_2511_DIT_VERSION"]
    assert hit.severity == "block" and "--model_version edit-2511" in hit.fix and hit.evidence["version"] == "edit-2509"


def test_a_dit_without_the_2511_marker_is_not_judged_by_it(tmp_path: Path) -> None:
    """Diffusers' 2511 shards and the 2509 release carry no marker: musubi-tuner loads them as any version."""
    plain = {k: v for k, v in EDIT_2511_DIT.items() if not k.startswith("__")}
    report = validate_edit_2511_dit(tmp_path, "edit-2509", dit=plain)
    assert "QWEN_EDIT_2511_DIT_VERSION" not in codes(report)


def _sd3(tmp_path: Path, tensors: dict[str, list[int]], name: str, **changes: object) -> ValidationReport:
    checkpoint = signature_file(tmp_path / name, tensors)
    command = sds(edit(SD35, pretrained_model_name_or_path=str(checkpoint), **changes), "sd3_train_network.py")
    return validate_commands([command], {"ds.toml": SDXL_DS}, check_paths=True, base_dir=tmp_path)


SD35_LARGE = {"model.diffusion_model.x_embedder.proj.weight": [2432, 16, 2, 2]}
BUNDLED = {**SD35_LARGE, "text_encoders.clip_l.transformer.text_model.final_layer_norm.weight": [768],
           "text_encoders.clip_g.transformer.text_model.final_layer_norm.weight": [1280],
           "text_encoders.t5xxl.transformer.encoder.final_layer_norm.weight": [4096]}


def test_the_sd3_docs_command_with_its_text_encoders_validates_go(tmp_path: Path) -> None:
    report = _sd3(tmp_path, SD35_LARGE, "sd3.5_large.safetensors")
    assert report.verdict == "GO" and "SDS_SD3_TEXT_ENCODERS" not in codes(report), blocking(report)


def test_an_sd3_checkpoint_read_without_the_text_encoder_blocks(tmp_path: Path) -> None:
    report = _sd3(tmp_path, SD35_LARGE, "sd3.5_large.safetensors", clip_l=DROP, clip_g=DROP)
    [hit] = [f for f in report.findings if f.code == "SDS_SD3_TEXT_ENCODERS"]
    assert hit.severity == "block" and hit.evidence["missing"] == ["--clip_l", "--clip_g"]
    assert "--clip_l clip_l.safetensors --clip_g clip_g.safetensors" in hit.fix


def test_a_checkpoint_that_bundles_its_text_encoders_needs_no_flags(tmp_path: Path) -> None:
    """docs/sd3_train_network.md: 'Skip these if the base model is a single file'; sd3_utils reads the
    text_encoders.* weights from the checkpoint, under any file name."""
    report = _sd3(tmp_path, BUNDLED, "my_merge.safetensors", clip_l=DROP, clip_g=DROP, t5xxl=DROP)
    assert "SDS_SD3_TEXT_ENCODERS" not in codes(report), blocking(report)


def test_a_release_named_as_bundled_is_trusted_when_not_read() -> None:
    named = sds(edit(SD35, pretrained_model_name_or_path="sd3_medium_incl_clips_t5xxlfp16.safetensors",
                     clip_l=DROP, clip_g=DROP, t5xxl=DROP), "sd3_train_network.py")
    only_clips = sds(edit(SD35, pretrained_model_name_or_path="sd3_medium_incl_clips.safetensors",
                          clip_l=DROP, clip_g=DROP, t5xxl=DROP), "sd3_train_network.py")
    assert "SDS_SD3_TEXT_ENCODERS" not in codes(validate_commands([named], {"ds.toml": SDXL_DS}))
    [hit] = [f for f in validate_commands([only_clips], {"ds.toml": SDXL_DS}).findings if f.code == "SDS_SD3_TEXT_ENCODERS"]
    assert hit.severity == "warn" and hit.evidence["missing"] == ["--t5xxl"]


UPSTREAM = {"MUSUBI_CACHE_OTHER_MODEL", "QWEN_EDIT_2511_DIT_VERSION", "MUSUBI_JSONL_SAME_NAME", "SDS_SD3_TEXT_ENCODERS",
            "SDS_VPRED_SCALED_LOSS_ZTSNR", "SDS_CHROMA_SETTINGS"}
DOCS = [("qwen_image_doc.sh", "qwen_ds.toml"), ("zimage_doc.sh", "qwen_ds.toml"), ("flux2_doc.sh", "qwen_ds.toml"),
        ("kontext_doc.sh", "control_ds.toml"), ("hv15_doc.sh", None), ("hv15_i2v_doc.sh", None), ("wan21_doc.sh", None)]


@pytest.mark.parametrize(("doc", "dataset"), DOCS, ids=[d for d, _ in DOCS])
def test_the_musubi_docs_examples_raise_none_of_them(doc: str, dataset: str | None, tmp_path: Path) -> None:
    text = (FIX / dataset).read_text(encoding="utf-8") if dataset else WAN_DS
    report = changed_example(doc, tmp_path, "--sdpa", "--sdpa", dataset=text)
    assert not UPSTREAM & codes(report), [f.message for f in report.findings if f.code in UPSTREAM]


@pytest.mark.parametrize("command", [sds(CHROMA, "flux_train_network.py"), sds(SD35, "sd3_train_network.py"), sds(VPRED),
                                     sds(LOHA)], ids=["chroma", "sd3.5-large", "noobai-vpred", "loha"])
def test_the_sd_scripts_docs_commands_raise_none_of_them(command: list[str]) -> None:
    report = validate_commands([command], {"ds.toml": SDXL_DS})
    assert not UPSTREAM & codes(report), [f.message for f in report.findings if f.code in UPSTREAM]
