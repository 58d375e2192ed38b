"""Z-Image through musubi-tuner: the plan, its files, the docs' own example and its pitfalls, and
Gate 3 on the weight files (musubi-tuner 30c658c docs/zimage.md; the docs publish no VRAM figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.catalog.models import get_family
from loragate.plan.new import new_plan
from loragate.validate import validate_files
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import flat_dataset
from tests.validate_helpers import WAN_DS, blocking, codes

DOC = "zimage_doc.sh"


@pytest.mark.parametrize("gpu_gb", [80, 24, 12])
def test_plan_new_writes_zimage_commands_that_validate_go(gpu_gb: int, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", "zimage", flat_dataset(tmp_path), "mira", gpu_gb=gpu_gb)
    latents, text, train = (next(c.argv for c in plan.commands if c.stage == s) for s in ("cache_latents", "cache_text_encoder", "train"))
    assert latents[1].endswith("zimage_cache_latents.py") and latents[latents.index("--vae") + 1].endswith("ae.safetensors")
    assert text[text.index("--text_encoder") + 1].endswith("qwen_3_4b.safetensors")
    assert {"--dit", "--vae", "--text_encoder"} <= set(train)  # docs: training requires --vae and --text_encoder
    assert "--task" not in train and "--model_version" not in train
    assert train[train.index("--network_module") + 1] == "networks.lora_zimage"
    assert train[train.index("--discrete_flow_shift") + 1] == "2"
    if "--fp8_base" in train:  # docs: specify both together
        assert "--fp8_scaled" in train
    if "--blocks_to_swap" in train:
        assert int(train[train.index("--blocks_to_swap") + 1]) <= 28
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == "zimage", blocking(report)


def test_the_docs_example_validates_go() -> None:
    report = validate_files([FIX / DOC, FIX / "qwen_ds.toml"], check_paths=False)
    assert report.verdict == "GO" and report.model == "zimage", blocking(report)


@pytest.mark.parametrize(("old", "new", "code"), [
    ("networks.lora_zimage", "networks.lora_qwen_image", "NETWORK_MODULE"),
    ("--network_dim 32", "--network_dim 32 --blocks_to_swap 29", "MEM_BLOCK_SWAP_MAX"),
    ("--network_dim 32", "--network_dim 32 --sample_prompts p.txt --vae ''", "WAN_SAMPLE_NEEDS_ENCODERS"),
])
def test_documented_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, old, new)
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)


def test_a_video_dataset_is_refused(tmp_path: Path) -> None:
    """docs: 'The dataset should be an image dataset.'"""
    report = changed_example(DOC, tmp_path, "--sdpa", "--sdpa", dataset=WAN_DS)
    assert report.verdict == "NO-GO" and "MUSUBI_IMAGE_MODEL_VIDEO" in codes(report)
    images = (FIX / "qwen_ds.toml").read_text(encoding="utf-8")
    assert "MUSUBI_IMAGE_MODEL_VIDEO" not in codes(changed_example(DOC, tmp_path / "ok", "--sdpa", "--sdpa", dataset=images))


def test_the_turbo_model_warns_unless_its_adapter_or_de_turbo(tmp_path: Path) -> None:
    turbo = changed_example(DOC, tmp_path / "t", "z_image_bf16", "z_image_turbo_bf16")
    [hit] = [f for f in turbo.findings if f.code == "ZIMAGE_TURBO_DIT"]
    assert hit.severity == "warn" and "de_turbo" in hit.fix and "--base_weights" in hit.fix
    adapter = changed_example(DOC, tmp_path / "a", "z_image_bf16.safetensors",
                              "z_image_turbo_bf16.safetensors --base_weights zimage_turbo_training_adapter_v2.safetensors")
    de_turbo = changed_example(DOC, tmp_path / "d", "z_image_bf16", "z_image_de_turbo_v1_bf16")
    assert "ZIMAGE_TURBO_DIT" not in codes(adapter) | codes(de_turbo)


def _weights(tmp_path: Path, **override: Path) -> dict[str, str]:
    sig = get_family("zimage").weight_signatures
    files = {
        "dit": signature_file(tmp_path / "m" / "z_image_bf16.safetensors", sig["dit"]),
        "text_encoder": signature_file(tmp_path / "m" / "qwen_3_4b.safetensors", sig["text_encoder"]),
        "vae": signature_file(tmp_path / "m" / "ae.safetensors", {"decoder.conv_in.weight": [512, 16, 3, 3]}),
        **override,
    }
    return {role: str(path) for role, path in files.items()}


def test_gate3_knows_the_zimage_files(workspace: Path, tmp_path: Path) -> None:
    data = flat_dataset(tmp_path)
    assert gate3(plan_with_weights("zimage", data, _weights(tmp_path))) == {}
    qwen_dit = signature_file(tmp_path / "m" / "qwen_image_bf16.safetensors", get_family("qwen-image").weight_signatures["dit"])
    severity, text = gate3(plan_with_weights("zimage", data, _weights(tmp_path, dit=qwen_dit)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "cap_embedder.1.weight (missing)" in text
    qwen_te = signature_file(tmp_path / "m" / "qwen_2.5_vl_7b.safetensors", get_family("qwen-image").weight_signatures["text_encoder"])
    _, text = gate3(plan_with_weights("zimage", data, _weights(tmp_path, text_encoder=qwen_te)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert "model.embed_tokens.weight [152064, 3584], not [151936, 2560]" in text
