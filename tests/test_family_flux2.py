"""FLUX.2 (dev, klein base 4B / 9B) through musubi-tuner: the plans, their files, the docs' own
example and its pitfalls, and Gate 3 (musubi-tuner 30c658c docs/flux_2.md; the docs publish no
VRAM figure, only block-swap maximums, which the catalog holds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.plan.new import new_plan
from loragate.validate import validate_files
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import flat_dataset
from tests.validate_helpers import WAN_DS, blocking, codes

DOC = "flux2_doc.sh"
FAMILIES = {"flux2-dev": "dev", "flux2-klein-base-4b": "klein-base-4b", "flux2-klein-base-9b": "klein-base-9b"}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("gpu_gb", [80, 24])
def test_plan_new_writes_flux2_commands_that_validate_go(family: str, gpu_gb: int, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", family, flat_dataset(tmp_path), "mira", gpu_gb=gpu_gb)
    for command in plan.commands:  # docs: --model_version at every step (else dev)
        assert command.argv[command.argv.index("--model_version") + 1] == FAMILIES[family]
    train = plan.commands[-1].argv
    assert train[train.index("--timestep_sampling") + 1] == "flux2_shift" and "--discrete_flow_shift" not in train
    assert train[train.index("--network_module") + 1] == "networks.lora_flux_2" and "--ae" not in train
    if "--blocks_to_swap" in train:
        assert int(train[train.index("--blocks_to_swap") + 1]) <= get_family(family).block_swap_max
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == family, blocking(report)


def test_dev_never_reads_its_text_encoder_in_fp8(workspace: Path, tmp_path: Path) -> None:
    """docs: '--fp8_text_encoder option is not available for dev (Mistral 3)'; its 24 B encoder
    then needs about 48 GB, which the fit plan says instead of switching fp8 on."""
    from loragate.plan.gate2 import generate_config

    chosen = generate_config("mira", "flux2-dev", flat_dataset(tmp_path), "mira", gpu_gb=24)
    assert not chosen.plan.memory.fp8_text_encoder
    assert "PLAN_VRAM_TOO_BIG" in {f.code for f in chosen.gate2.findings}
    chosen.plan.memory.fp8_text_encoder = True
    with pytest.raises(LoragateError, match="cannot be read in fp8"):
        plan_files_report(chosen.plan, tmp_path / "files")
    klein = new_plan("k", "flux2-klein-base-9b", flat_dataset(tmp_path), "mira", gpu_gb=12)
    assert "--fp8_text_encoder" in klein.commands[1].argv


def test_the_docs_example_validates_go() -> None:
    report = validate_files([FIX / DOC], check_paths=False)
    assert report.verdict == "GO" and report.model == "flux2-klein-base-4b", blocking(report)


@pytest.mark.parametrize(("old", "new", "code"), [
    ("networks.lora_flux_2", "networks.lora_flux", "NETWORK_MODULE"),
    ("--vae path/to/ae.safetensors \\\n    --text_encoder", "--ae path/to/ae.safetensors \\\n    --text_encoder", "FLAG_OTHER_TRAINER"),  # sd-scripts FLUX.1 spells it --ae
    ("--network_dim 32", "--network_dim 32 --blocks_to_swap 14", "MEM_BLOCK_SWAP_MAX"),
    ("--model_version klein-base-4b \\\n    --dit", "--model_version klein-base-9b \\\n    --dit", "MUSUBI_MODEL_VERSION_MISMATCH"),
])
def test_documented_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, old, new)
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)


def test_dev_text_encoder_in_fp8_is_refused(tmp_path: Path) -> None:
    dev = changed_example(DOC, tmp_path / "dev", "klein-base-4b", "dev")
    assert dev.model == "flux2-dev" and dev.verdict == "GO", blocking(dev)
    fp8 = changed_example(DOC, tmp_path / "fp8", "--batch_size 16 \\\n    --model_version klein-base-4b",
                          "--batch_size 16 --fp8_text_encoder \\\n    --model_version klein-base-4b")
    assert "MUSUBI_TEXT_FP8_UNAVAILABLE" not in codes(fp8)  # klein's Qwen3 may
    text = (FIX / DOC).read_text(encoding="utf-8").replace("klein-base-4b", "dev").replace("--batch_size 16", "--batch_size 16 --fp8_text_encoder")
    (tmp_path / "dev.sh").write_text(text, encoding="utf-8")
    assert "MUSUBI_TEXT_FP8_UNAVAILABLE" in codes(validate_files([tmp_path / "dev.sh"], check_paths=False))


def test_distilled_klein_warns_and_video_is_refused(tmp_path: Path) -> None:
    distilled = changed_example(DOC, tmp_path / "d", "klein-base-4b", "klein-4b")
    [hit] = [f for f in distilled.findings if f.code == "MUSUBI_DISTILLED_MODEL"]
    assert hit.severity == "warn" and "klein-base-4b" in hit.fix and distilled.model == "flux2-klein-base-4b"
    video = changed_example(DOC, tmp_path / "v", "--sdpa", "--sdpa", dataset=WAN_DS)  # docs: "must be an image dataset"
    assert "MUSUBI_IMAGE_MODEL_VIDEO" in codes(video)


def _weights(family: str, tmp_path: Path, **override: Path) -> dict[str, str]:
    sig = get_family(family).weight_signatures
    files = {
        "dit": signature_file(tmp_path / "m" / f"{family}.safetensors", sig["dit"]),
        "vae": signature_file(tmp_path / "m" / "ae.safetensors", sig["vae"]),
        "text_encoder": signature_file(tmp_path / "m" / "model-00001-of-00002.safetensors", {"model.layers.0.mlp.up_proj.weight": [9728, 2560]}),
        **override,
    }
    return {role: str(path) for role, path in files.items()}


def test_gate3_knows_the_flux2_files(workspace: Path, tmp_path: Path) -> None:
    data = flat_dataset(tmp_path)
    assert gate3(plan_with_weights("flux2-klein-base-4b", data, _weights("flux2-klein-base-4b", tmp_path))) == {}
    # FLUX.1's autoencoder has the same file name and 16 latent channels
    flux1_ae = signature_file(tmp_path / "flux1" / "ae.safetensors", {"decoder.conv_in.weight": [512, 16, 3, 3]})
    severity, text = gate3(plan_with_weights("flux2-klein-base-4b", data, _weights("flux2-klein-base-4b", tmp_path, vae=flux1_ae)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "[512, 16, 3, 3], not [512, 32, 3, 3]" in text
    nine = signature_file(tmp_path / "m9" / "flux2-klein-base-9b.safetensors", get_family("flux2-klein-base-9b").weight_signatures["dit"])
    _, text = gate3(plan_with_weights("flux2-klein-base-4b", data, _weights("flux2-klein-base-4b", tmp_path, dit=nine)))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert "img_in.weight [4096, 128], not [3072, 128]" in text
