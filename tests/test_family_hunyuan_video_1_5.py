"""HunyuanVideo 1.5 text-to-video through musubi-tuner: the plan (clips at 24 fps), its files, the
docs' own example and its pitfalls, Gate 3 (musubi-tuner 30c658c docs/hunyuan_video_1_5.md; the
docs publish no VRAM figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.models import get_family
from loragate.plan.new import new_plan
from loragate.validate import validate_files
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import wan_dataset
from tests.validate_helpers import WAN_DS, blocking, codes

DOC = "hv15_doc.sh"
FAMILY = "hunyuan-video-1.5-t2v"


@pytest.mark.parametrize("gpu_gb", [80, 24])
def test_plan_new_writes_hv15_commands_that_validate_go(gpu_gb: int, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", FAMILY, wan_dataset(tmp_path, fps=30), "mira", gpu_gb=gpu_gb)
    text, train = plan.commands[1].argv, plan.commands[2].argv
    assert {"--text_encoder", "--byt5"} <= set(text) and {"--vae", "--text_encoder", "--byt5"} <= set(train)
    assert train[train.index("--task") + 1] == "t2v" and train[train.index("--network_module") + 1] == "networks.lora_hv_1_5"
    videos = [d for d in get_backend("musubi").dataset_config(plan)["datasets"] if "video_directory" in d]
    # 30 fps clips are read at HunyuanVideo 1.5's 24 fps: source_fps says so, and the 40-frame clips give 32
    assert videos and videos[0]["source_fps"] == 30.0 and plan.dataset.longest_clip_frames == 32
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)


def test_the_docs_example_validates_go(tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, "--sdpa", "--sdpa", dataset=WAN_DS)
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)
    assert not {c for c in codes(report) if c.startswith("WAN_")}  # its --task is not Wan's


@pytest.mark.parametrize(("old", "new", "code"), [
    ("networks.lora_hv_1_5", "networks.lora_wan", "NETWORK_MODULE"),
    ("--network_dim 32", "--network_dim 32 --blocks_to_swap 52", "MEM_BLOCK_SWAP_MAX"),
    ("--network_dim 32", "--network_dim 32 --sample_prompts p.txt --text_encoder ''", "WAN_SAMPLE_NEEDS_ENCODERS"),
])
def test_documented_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, old, new)
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)


def test_gate3_knows_the_files_and_warns_on_comfys_fp16_dit(workspace: Path, tmp_path: Path) -> None:
    sig = get_family(FAMILY).weight_signatures
    files = {"dit": str(signature_file(tmp_path / "m" / "dit.safetensors", sig["dit"])),
             "text_encoder": str(signature_file(tmp_path / "m" / "qwen_2.5_vl_7b.safetensors", sig["text_encoder"])),
             "vae": str(signature_file(tmp_path / "m" / "vae.safetensors", {"decoder.conv_in.conv.weight": [1024, 32, 3, 3, 3]})),
             "byt5": str(signature_file(tmp_path / "m" / "byt5.safetensors", {"shared.weight": [384, 1472]}))}
    data = wan_dataset(tmp_path)
    assert gate3(plan_with_weights(FAMILY, data, files)) == {}
    # docs: ComfyUI's repackaged DiT "is converted to fp16": not for bf16 training
    fp16 = signature_file(tmp_path / "c" / "hunyuanvideo1.5_720p_t2v_fp16.safetensors", sig["dit"], dtype="F16")
    severity, text = gate3(plan_with_weights(FAMILY, data, {**files, "dit": str(fp16)}))["ENV_WEIGHTS_DTYPE_MISMATCH"]
    assert severity == "warn" and "fp16" in text and "bf16 release" in text
    wan = signature_file(tmp_path / "w" / "wan.safetensors", {"patch_embedding.weight": [5120, 16, 1, 2, 2]})
    assert "ENV_WEIGHTS_ARCH_MISMATCH" in gate3(plan_with_weights(FAMILY, data, {**files, "dit": str(wan)}))


def test_a_plain_validate_without_the_model_is_still_read_as_hv15() -> None:
    report = validate_files([FIX / DOC], check_paths=False)
    assert report.model == FAMILY and report.verdict == "GO", blocking(report)


# ---- image-to-video ----------------------------------------------------------------------------
I2V_DOC = "hv15_i2v_doc.sh"
I2V = "hunyuan-video-1.5-i2v"


def test_i2v_plan_caches_and_trains_with_the_image_encoder(workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", I2V, wan_dataset(tmp_path, fps=30), "mira", gpu_gb=80)
    latents, train = plan.commands[0].argv, plan.commands[2].argv
    assert "--i2v" in latents and "--image_encoder" in latents and "--image_encoder" in train
    assert train[train.index("--task") + 1] == "i2v"
    assert plan.weights.image_encoder and plan.weights.image_encoder.endswith("sigclip_vision_patch14_384.safetensors")
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == I2V, blocking(report)


def test_the_i2v_docs_example_validates_go(tmp_path: Path) -> None:
    report = changed_example(I2V_DOC, tmp_path, "--sdpa", "--sdpa", dataset=WAN_DS)
    assert report.verdict == "GO" and report.model == I2V, blocking(report)


@pytest.mark.parametrize(("old", "new", "code"), [
    # docs: "For I2V training, --image_encoder is required"
    ("    --image_encoder path/to/sigclip_vision_patch14_384.safetensors \\\n    --dataset_config",
     "    --dataset_config", "MUSUBI_IMAGE_ENCODER_MISSING"),
    # hv_1_5_cache_latents.py: "--i2v requires --image_encoder to be set."
    ("--i2v --image_encoder path/to/sigclip_vision_patch14_384.safetensors\n", "--i2v\n", "MUSUBI_IMAGE_ENCODER_MISSING"),
    # an I2V training on latents cached without the first-frame conditioning
    ("--i2v --image_encoder path/to/sigclip_vision_patch14_384.safetensors\n", "--vae_sample_size 128\n", "WAN_I2V_CACHE"),
])
def test_i2v_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(I2V_DOC, tmp_path, old, new, dataset=WAN_DS)
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)
