"""Weight files judged by their safetensors headers only, against what the plan trains."""

from __future__ import annotations

from pathlib import Path

from loragate.catalog.models import get_family
from loragate.environment.weights import read_weights, weights_findings
from loragate.core.plan import DatasetSpec, MemorySpec, NetworkSpec, TrainingPlan, WeightPaths
from tests.envkit import wan_dit, wan_plan, wan_vae
from tests.media import write_safetensors_header


def judge(plan: TrainingPlan) -> dict[str, tuple[str, str]]:
    family = get_family(plan.model)
    section = read_weights(plan, family)
    return {f.code: (f.severity, f.message + " " + f.fix) for f in weights_findings(plan, family, section)}


def test_matching_wan22_expert_passes(workspace: Path, tmp_path: Path) -> None:
    plan = wan_plan(tmp_path)  # fp16 T2V expert (16 channels, no image keys), fp16 training
    assert judge(plan) == {}
    section = read_weights(plan, get_family(plan.model))
    dit = next(f for f in section.files if f.role == "dit")
    assert dit.inspection is not None
    assert (dit.inspection.kind, dit.inspection.dim, dit.inspection.in_dim, dit.inspection.layers) == ("wan_dit", 5120, 16, 40)


def test_t2v_weights_for_an_i2v_plan(workspace: Path, tmp_path: Path) -> None:
    plan = wan_plan(tmp_path, model="wan2.2-i2v-a14b")
    severity, text = judge(plan)["ENV_WEIGHTS_TASK_MISMATCH"]
    assert severity == "block" and "text-to-video" in text and "36" in text


def test_i2v_weights_for_a_t2v_plan_names_the_trainer_error(workspace: Path, tmp_path: Path) -> None:
    i2v = wan_dit(tmp_path / "models" / "wan2.2_i2v_low_noise_14B_fp16.safetensors", in_dim=36, dtype="F16")
    _, text = judge(wan_plan(tmp_path, weights={"dit": str(i2v)}))["ENV_WEIGHTS_TASK_MISMATCH"]
    assert "size mismatch for patch_embedding.weight" in text


def test_wan21_i2v_needs_its_image_cross_attention_keys(workspace: Path, tmp_path: Path) -> None:
    wan22_i2v = wan_dit(tmp_path / "models" / "wan22_i2v.safetensors", in_dim=36, dtype="BF16")
    clip = write_safetensors_header(tmp_path / "models" / "clip.safetensors", {"visual.proj": ("F16", [1280, 1024])})
    plan = wan_plan(tmp_path, model="wan2.1-i2v-14b", weights={"dit": str(wan22_i2v), "clip": str(clip)}, mixed_precision="bf16")
    _, text = judge(plan)["ENV_WEIGHTS_TASK_MISMATCH"]
    assert "k_img" in text and "Wan 2.2 I2V" in text
    wan21_i2v = wan_dit(tmp_path / "models" / "wan21_i2v.safetensors", in_dim=36, image_keys=True, dtype="BF16", prefix="model.diffusion_model.")
    ok = wan_plan(tmp_path, model="wan2.1-i2v-14b", weights={"dit": str(wan21_i2v), "clip": str(clip)}, mixed_precision="bf16")
    assert judge(ok) == {}  # ComfyUI's model.diffusion_model. prefix is understood
    wrong_way = wan_plan(tmp_path, model="wan2.2-i2v-a14b", weights={"dit": str(wan21_i2v)})
    assert "ENV_WEIGHTS_TASK_MISMATCH" in judge(wrong_way)


def test_flf2v_is_not_i2v(workspace: Path, tmp_path: Path) -> None:
    clip = write_safetensors_header(tmp_path / "models" / "clip.safetensors", {"visual.proj": ("F16", [1280, 1024])})
    flf2v = wan_dit(tmp_path / "models" / "flf2v.safetensors", in_dim=36, image_keys=True, dtype="BF16", first_last_frame=True)
    plan = wan_plan(tmp_path, model="wan2.1-i2v-14b", weights={"dit": str(flf2v), "clip": str(clip)}, mixed_precision="bf16")
    severity, text = judge(plan)["ENV_WEIGHTS_TASK_MISMATCH"]
    assert severity == "block" and "img_emb.emb_pos" in text and "first-last-frame" in text


def test_dit_key_prefixes_musubi_cannot_load_block(workspace: Path, tmp_path: Path) -> None:
    # musubi-tuner wan/modules/model.py:967-974 and :1054-1057: bare keys or model.diffusion_model. only
    for prefix in ("diffusion_model.", "model."):
        dit = wan_dit(tmp_path / "models" / f"{prefix}safetensors", dtype="F16", prefix=prefix)
        severity, text = judge(wan_plan(tmp_path, weights={"dit": str(dit)}))["ENV_WEIGHTS_KEY_PREFIX"]
        assert severity == "block" and f"'{prefix}...'" in text and "Could not find the dtype" in text
    comfy = wan_dit(tmp_path / "models" / "comfy.safetensors", dtype="F16", prefix="model.diffusion_model.")
    assert judge(wan_plan(tmp_path, weights={"dit": str(comfy)})) == {}


def test_a_13b_file_for_a_14b_plan(workspace: Path, tmp_path: Path) -> None:
    small = wan_dit(tmp_path / "models" / "wan2.1_t2v_1.3B_bf16.safetensors", dim=1536, layers=30, dtype="BF16")
    _, text = judge(wan_plan(tmp_path, model="wan2.1-t2v-14b", weights={"dit": str(small)}, mixed_precision="bf16"))["ENV_WEIGHTS_TASK_MISMATCH"]
    assert "Wan 1.3B" in text and "1536" in text


def test_fp16_weights_with_bf16_training_and_fp8_rules(workspace: Path, tmp_path: Path) -> None:
    severity, text = judge(wan_plan(tmp_path, mixed_precision="bf16"))["ENV_WEIGHTS_DTYPE_MISMATCH"]
    assert severity == "block" and "mixed precision must be fp16" in text
    fp8 = wan_dit(tmp_path / "models" / "wan_fp8_e4m3fn.safetensors", dtype="F8_E4M3")
    assert "cannot scale" in judge(wan_plan(tmp_path, weights={"dit": str(fp8)}, fp8_base=True, fp8_scaled=True))["ENV_WEIGHTS_DTYPE_MISMATCH"][1]
    assert judge(wan_plan(tmp_path, weights={"dit": str(fp8)}, fp8_base=True)) == {}
    scaled = wan_dit(tmp_path / "models" / "wan_fp8_scaled.safetensors", dtype="F8_E4M3")
    write_safetensors_header(scaled, {"patch_embedding.weight": ("F8_E4M3", [5120, 16, 1, 2, 2]), "blocks.0.cross_attn.k.weight": ("F8_E4M3", [5120, 5120]), "blocks.0.cross_attn.k.scale_weight": ("F32", [1]), "scaled_fp8": ("F8_E4M3", [0])})
    assert "fp8_scaled" in judge(wan_plan(tmp_path, weights={"dit": str(scaled)}))["ENV_WEIGHTS_DTYPE_MISMATCH"][1]


def test_truncated_damaged_missing_and_pickle_files(workspace: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    good = wan_dit(models / "good.safetensors", dtype="F16")
    cut = models / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:5000])  # header cut mid-way: an interrupted download
    half = models / "half.safetensors"
    data = good.read_bytes()
    length = int.from_bytes(data[:8], "little")
    with open(half, "wb") as dst:
        dst.write(data[: 8 + length])
        dst.truncate(8 + length + 1000)  # header whole, tensors missing
    garbage = models / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    assert judge(wan_plan(tmp_path, weights={"dit": str(cut)}))["ENV_WEIGHTS_TRUNCATED"][0] == "block"
    assert "interrupted download" in judge(wan_plan(tmp_path, weights={"dit": str(half)}))["ENV_WEIGHTS_TRUNCATED"][1]
    assert judge(wan_plan(tmp_path, weights={"dit": str(garbage)}))["ENV_WEIGHTS_CORRUPT"][0] == "block"
    assert judge(wan_plan(tmp_path, weights={"dit": str(models / "nope.safetensors")}))["ENV_WEIGHTS_MISSING"][0] == "block"
    pth = models / "models_t5_umt5-xxl-enc-bf16.pth"
    pth.write_bytes(b"PK\x03\x04 pickled")
    only = judge(wan_plan(tmp_path, weights={"t5": str(pth)}))
    assert list(only) == ["ENV_WEIGHTS_NOT_INSPECTED"] and only["ENV_WEIGHTS_NOT_INSPECTED"][0] == "info"


def test_wan22_5b_vae_for_a_14b_plan(workspace: Path, tmp_path: Path) -> None:
    vae = wan_vae(tmp_path / "models" / "Wan2.2_VAE.safetensors", z_dim=48)
    severity, text = judge(wan_plan(tmp_path, weights={"vae": str(vae)}))["ENV_WEIGHTS_WRONG_VAE"]
    assert severity == "block" and "wan_2.1_vae" in text


def test_swapped_expert_files_warn(workspace: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    high = wan_dit(models / "wan2.2_t2v_high_noise_14B_fp16.safetensors", dtype="F16")
    low = wan_dit(models / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dtype="F16")
    plan = wan_plan(tmp_path, weights={"dit": str(high), "dit_high_noise": str(low)})
    assert judge(plan)["ENV_WEIGHTS_EXPERT_SWAPPED"][0] == "warn"
    assert judge(wan_plan(tmp_path, weights={"expert:high": str(high), "expert:low": str(low)})) == {}


def sd_plan(tmp_path: Path, model: str, base: str, **weights: str) -> TrainingPlan:
    return TrainingPlan(
        name="sd", model=model, backend="sdscripts", trigger="t", output_dir=str(tmp_path / "out"), output_name="sd",
        dataset=DatasetSpec(path=str(tmp_path)), network=NetworkSpec(module="networks.lora"),
        weights=WeightPaths(base_model=base, **weights), memory=MemorySpec(mixed_precision="bf16"),
    )


def test_sdxl_checkpoint_for_an_sd15_plan_and_a_lora_as_base(workspace: Path, tmp_path: Path) -> None:
    sdxl = write_safetensors_header(tmp_path / "pony.safetensors", {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
        "model.diffusion_model.label_emb.0.0.weight": ("F16", [1280, 2816]),
        "conditioner.embedders.1.model.ln_final.weight": ("F16", [1280]),
    })
    severity, text = judge(sd_plan(tmp_path, "sd15", str(sdxl)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "SDXL" in text and "Stable Diffusion 1.5" in text
    assert judge(sd_plan(tmp_path, "pony", str(sdxl))) == {}
    lora = write_safetensors_header(tmp_path / "mira.safetensors", {"lora_unet_down_blocks_0_attn1_to_q.lora_down.weight": ("F16", [16, 320])})
    assert judge(sd_plan(tmp_path, "sdxl", str(lora)))["ENV_WEIGHTS_IS_LORA"][0] == "block"
    assert judge(sd_plan(tmp_path, "sdxl", "stabilityai/stable-diffusion-xl-base-1.0"))["ENV_WEIGHTS_FROM_HUB"][0] == "warn"


def test_flux_schnell_for_a_dev_plan(workspace: Path, tmp_path: Path) -> None:
    schnell = write_safetensors_header(tmp_path / "flux1-schnell.safetensors", {"double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072])})
    parts = {name: str(write_safetensors_header(tmp_path / f"{name}.safetensors", {"w": ("BF16", [8])})) for name in ("clip_l", "t5xxl", "ae")}
    found = judge(sd_plan(tmp_path, "flux1-dev", str(schnell), **parts))
    assert found["ENV_WEIGHTS_FLUX_SCHNELL"][0] == "warn"
    dev = write_safetensors_header(tmp_path / "flux1-dev.safetensors", {"model.diffusion_model.double_blocks.0.img_attn.qkv.weight": ("BF16", [9216, 3072]), "model.diffusion_model.guidance_in.in_layer.weight": ("BF16", [3072, 256])})
    assert judge(sd_plan(tmp_path, "flux1-dev", str(dev), **parts)) == {}


def test_a_flux_diffusers_folder_loads_when_its_transformer_files_are_there(workspace: Path, tmp_path: Path) -> None:
    # sd-scripts library/flux_utils.py:46-51 reads transformer/diffusion_pytorch_model-0000N-of-00003.safetensors
    folder = tmp_path / "FLUX.1-dev"
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    parts = {name: str(write_safetensors_header(tmp_path / f"{name}.safetensors", {"w": ("BF16", [8])})) for name in ("clip_l", "t5xxl", "ae")}
    for n in (1, 2):
        write_safetensors_header(folder / "transformer" / f"diffusion_pytorch_model-0000{n}-of-00003.safetensors", {"w": ("BF16", [8])})
    severity, text = judge(sd_plan(tmp_path, "flux1-dev", str(folder), **parts))["ENV_WEIGHTS_MISSING"]
    assert severity == "block" and "00003-of-00003" in text
    write_safetensors_header(folder / "transformer" / "diffusion_pytorch_model-00003-of-00003.safetensors", {"w": ("BF16", [8])})
    found = judge(sd_plan(tmp_path, "flux1-dev", str(folder), **parts))
    assert {code: severity for code, (severity, _) in found.items()} == {"ENV_WEIGHTS_UNRECOGNISED": "info"}


def test_a_missing_wan22_expert_is_reported_once_by_its_name(workspace: Path, tmp_path: Path) -> None:
    low = wan_dit(tmp_path / "models" / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dtype="F16")
    high = tmp_path / "models" / "wan2.2_t2v_high_noise_14B_fp16.safetensors"  # never downloaded
    plan = wan_plan(tmp_path, weights={"dit": str(low), "dit_high_noise": str(high),
                                       "expert:high": str(high), "expert:low": str(low)})
    family = get_family(plan.model)
    missing = [f for f in weights_findings(plan, family, read_weights(plan, family)) if f.code == "ENV_WEIGHTS_MISSING"]
    assert len(missing) == 1 and missing[0].severity == "block"
    assert missing[0].message == f"The high-noise expert file {high} does not exist on this machine."
