"""Qwen-Image through musubi-tuner: the plan, its files, the docs' own example and its pitfalls,
Gate 3 on the weight files, and the docs' VRAM table (musubi-tuner 30c658c docs/qwen_image.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.plan.new import new_plan
from loragate.validate import validate_files
from loragate.vram import base_estimate
from loragate.vram.model import VramRequest
from tests.envkit import wan_dit
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import flat_dataset, kohya_dataset
from tests.validate_helpers import blocking, codes

DOC = "qwen_image_doc.sh"


def _argv(plan, stage: str) -> list[str]:  # type: ignore[no-untyped-def]
    return next(c.argv for c in plan.commands if c.stage == stage)


@pytest.mark.parametrize("gpu_gb", [80, 24, 12])
def test_plan_new_writes_qwen_commands_that_validate_go(gpu_gb: int, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", "qwen-image", flat_dataset(tmp_path), "mira", gpu_gb=gpu_gb)
    latents, text, train = (_argv(plan, s) for s in ("cache_latents", "cache_text_encoder", "train"))
    assert latents[1].endswith("qwen_image_cache_latents.py") and "--vae" in latents
    assert text[text.index("--text_encoder") + 1].endswith("qwen_2.5_vl_7b.safetensors")
    for argv in (latents, text, train):  # docs: the model version at every step
        assert argv[argv.index("--model_version") + 1] == "original"
    assert "--task" not in train and "--t5" not in " ".join(train)
    assert train[train.index("--network_module") + 1] == "networks.lora_qwen_image"
    assert train[train.index("--discrete_flow_shift") + 1] == "2.2"
    if gpu_gb == 24:  # the docs pair --fp8_base with --fp8_scaled
        assert {"--fp8_base", "--fp8_scaled", "--blocks_to_swap"} <= set(train)
    if gpu_gb == 12:  # the 8.3 B text encoder does not fit 12 GB in bf16
        assert "--fp8_vl" in text
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == "qwen-image", blocking(report)


def test_kohya_folders_and_xformers_get_split_attention(workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", "qwen-image", kohya_dataset(tmp_path), "mira", gpu_gb=80)
    plan.memory.attention = "flash_attn"
    report = plan_files_report(plan, tmp_path / "files")
    assert "--split_attn" in _argv(plan, "train") and report.verdict == "GO", blocking(report)
    plan.memory.attention = "flash3"  # docs: "flash3 cannot be used currently"
    with pytest.raises(LoragateError, match="flash3"):
        plan_files_report(plan, tmp_path / "files")


def test_the_docs_example_validates_go() -> None:
    report = validate_files([FIX / DOC, FIX / "qwen_ds.toml"], check_paths=False)
    assert report.verdict == "GO" and report.model == "qwen-image", blocking(report)
    assert [i.stage for i in report.invocations] == ["cache_latents", "cache_text_encoder", "train"]


@pytest.mark.parametrize(("old", "new", "code"), [
    ("networks.lora_qwen_image", "networks.lora_wan", "NETWORK_MODULE"),
    ("--model_version original \\\n    --dataset_config", "--model_version edit \\\n    --dataset_config", "MUSUBI_MODEL_VERSION_MISMATCH"),
    ("--sdpa --mixed", "--flash3 --mixed", "MUSUBI_ATTENTION_REFUSED"),
    ("--network_dim 16", "--network_dim 16 --blocks_to_swap 60", "MEM_BLOCK_SWAP_MAX"),
    ("--network_dim 16", "--network_dim 16 --sample_prompts p.txt --text_encoder ''", "WAN_SAMPLE_NEEDS_ENCODERS"),
])
def test_documented_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, old, new)
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)


@pytest.mark.parametrize(("old", "new"), [
    # docs/qwen_image.md: "original (default, can be omitted)"; the scripts lower-case the value
    ("    --dit path/to/qwen_image_bf16.safetensors \\\n    --vae path/to/qwen_image_vae.safetensors \\\n"
     "    --text_encoder path/to/qwen_2.5_vl_7b.safetensors \\\n    --model_version original \\\n",
     "    --dit path/to/qwen_image_bf16.safetensors \\\n    --vae path/to/qwen_image_vae.safetensors \\\n"
     "    --text_encoder path/to/qwen_2.5_vl_7b.safetensors \\\n"),
    ("--batch_size 1 \\\n    --model_version original", "--batch_size 1 \\\n    --model_version Original"),
])
def test_model_version_as_the_scripts_resolve_it(old: str, new: str, tmp_path: Path) -> None:
    """Leaving --model_version out of one step, or writing it in capitals, is the same version to the
    scripts (qwen_image_utils.py resolve_model_version_args): no mismatch, and the model is known."""
    report = changed_example(DOC, tmp_path, old, new)
    assert report.verdict == "GO" and report.model == "qwen-image", blocking(report)


def test_edit_switch_is_the_edit_version(tmp_path: Path) -> None:
    """The older --edit switch selects the edit model: caching for it and training the plain model differ."""
    report = changed_example(DOC, tmp_path, "--vae path/to/qwen_image_vae.safetensors \\\n    --model_version original\n",
                             "--vae path/to/qwen_image_vae.safetensors \\\n    --edit\n")
    assert "MUSUBI_MODEL_VERSION_MISMATCH" in codes(report), codes(report)


def test_xformers_without_split_attn_warns(tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, "--sdpa --mixed", "--xformers --mixed")
    [hit] = [f for f in report.findings if f.code == "MUSUBI_SPLIT_ATTN"]
    assert hit.severity == "warn" and "--split_attn" in hit.fix


def _weights(tmp_path: Path, **override: Path) -> dict[str, str]:
    sig = get_family("qwen-image").weight_signatures
    files = {
        "dit": signature_file(tmp_path / "m" / "qwen_image_bf16.safetensors", sig["dit"], prefix="model.diffusion_model."),
        "text_encoder": signature_file(tmp_path / "m" / "qwen_2.5_vl_7b.safetensors", sig["text_encoder"]),
        "vae": signature_file(tmp_path / "m" / "qwen_image_vae.safetensors", {"decoder.conv_in.weight": [384, 16, 3, 3, 3]}),
        **override,
    }
    return {role: str(path) for role, path in files.items()}


def test_gate3_knows_the_qwen_files(workspace: Path, tmp_path: Path) -> None:
    data = flat_dataset(tmp_path)
    assert gate3(plan_with_weights("qwen-image", data, _weights(tmp_path))) == {}
    wan = wan_dit(tmp_path / "m" / "wan2.1_t2v_14B_bf16.safetensors")
    severity, text = gate3(plan_with_weights("qwen-image", data, _weights(tmp_path, dit=wan)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "a Wan DiT, not the Qwen-Image model (DiT)" in text and "img_in.weight (missing)" in text
    umt5 = signature_file(tmp_path / "m" / "umt5.safetensors", {"shared.weight": [256384, 4096]})
    severity, text = gate3(plan_with_weights("qwen-image", data, _weights(tmp_path, text_encoder=umt5)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert "qwen_2.5_vl_7b.safetensors" in text


def test_gate3_refuses_fp8_releases(workspace: Path, tmp_path: Path) -> None:
    sig = get_family("qwen-image").weight_signatures["dit"]
    fp8 = signature_file(tmp_path / "m" / "qwen_image_fp8_e4m3fn.safetensors", sig, dtype="F8_E4M3")
    severity, text = gate3(plan_with_weights("qwen-image", flat_dataset(tmp_path), _weights(tmp_path, dit=fp8)))["ENV_WEIGHTS_DTYPE_MISMATCH"]
    assert severity == "block" and "bf16 release" in text


def test_the_docs_no_option_row_is_met_in_gib() -> None:
    """docs/qwen_image.md: 42GB with no memory options. The bf16 DiT alone is 40.9e9 bytes, so the
    figure is GiB (45.1e9 bytes); the estimate must sit within 3% of it."""
    request = VramRequest(model="qwen-image", resolution="1024", batch=1, rank=16, optimizer="AdamW8bit", attention="xformers")
    estimate = base_estimate(request).phases["training"]
    assert abs(estimate / (42 * 1.073741824) - 1) < 0.03
