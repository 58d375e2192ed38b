"""SD 3.5, Chroma and v-prediction SDXL: the docs' own commands validate GO, their documented pitfalls
are caught, and `plan new` writes what each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loragate.backends import get_backend
from loragate.plan.new import new_plan
from loragate.validate.weights import sd3_variant, sdxl_variant
from tests.plan_helpers import flat_dataset
from tests.validate_helpers import CHROMA, SD35, SDXL, SDXL_DS, VPRED, blocking, codes, edit, run, sds

TOMLS = {"ds.toml": SDXL_DS}


def _flux(flags: dict[str, Any]) -> list[str]:
    return sds(flags, "flux_train_network.py")


def _sd3(flags: dict[str, Any]) -> list[str]:
    return sds(flags, "sd3_train_network.py")


@pytest.mark.parametrize("command", [_flux(CHROMA), _sd3(SD35), _sd3(edit(SD35, blocks_to_swap="22")), sds(VPRED)],
                         ids=["chroma", "sd3.5-large", "sd3.5-medium-swap", "noobai-vpred"])
def test_the_documented_configuration_validates_go(command: list[str]) -> None:
    report = run([command], TOMLS)
    assert not blocking(report), blocking(report)
    assert report.verdict == "GO"


def test_a_plain_sdxl_checkpoint_with_v_parameterization_named_by_nothing_is_not_guessed_at() -> None:
    # an unnamed SDXL file may be any v-pred fine-tune; only --model makes it an epsilon model
    assert "SDS_VPRED_ON_EPS" not in codes(run([sds(edit(SDXL, v_parameterization=None))], TOMLS))


@pytest.mark.parametrize(("name", "family"), [
    ("NoobAI-XL-Vpred-v1.0.safetensors", "noobai-xl-vpred"),
    ("noobaiXLNAIXL_vPred10Version.safetensors", "noobai-xl-vpred"),
    ("NoobAI-XL-v1.1.safetensors", "illustrious"),   # the eps release trains as Illustrious
    ("/models/v-pred/ponyDiffusionV6XL.safetensors", "pony"),  # a folder's name says nothing
    ("Illustrious-XL-v0.1.safetensors", "illustrious"),
])
def test_an_sdxl_checkpoint_name_picks_its_family(name: str, family: str) -> None:
    assert sdxl_variant(name) == family


def test_an_sd3_checkpoint_name_picks_medium_or_large() -> None:
    assert sd3_variant("/m/sd3.5_medium.safetensors") == "sd3.5-medium"
    assert sd3_variant("/m/sd3.5_large.safetensors") == "sd3.5-large"


def _train_argv(tmp_path: Path, family: str) -> list[str]:
    plan = new_plan("mira", family, flat_dataset(tmp_path), "mira", gpu_gb=24)
    return get_backend(plan.backend).commands(plan)[0].argv


def test_plan_new_trains_noobai_vpred_with_v_prediction(tmp_path: Path) -> None:
    argv = _train_argv(tmp_path, "noobai-xl-vpred")
    assert "--v_parameterization" in argv and "--zero_terminal_snr" in argv
    assert "--v_parameterization" not in _train_argv(tmp_path, "illustrious")


def test_plan_new_trains_chroma_without_clip_l_and_with_its_settings(tmp_path: Path) -> None:
    argv = _train_argv(tmp_path, "chroma")
    assert argv[argv.index("--model_type") + 1] == "chroma"
    assert "--clip_l" not in argv and "--apply_t5_attn_mask" in argv
    assert argv[argv.index("--guidance_scale") + 1] == "0"
    assert argv[argv.index("--timestep_sampling") + 1] == "sigmoid"
    report = run([argv], TOMLS)
    assert not blocking(report), blocking(report)


@pytest.mark.parametrize("family", ["sd3.5-large", "sd3.5-medium"])
def test_plan_new_trains_sd35_with_its_three_text_encoders(tmp_path: Path, family: str) -> None:
    argv = _train_argv(tmp_path, family)
    assert argv[argv.index("--network_module") + 1] == "networks.lora_sd3"
    for flag, file in (("--clip_l", "clip_l"), ("--clip_g", "clip_g"), ("--t5xxl", "t5xxl")):
        assert Path(argv[argv.index(flag) + 1]).name.startswith(file)
    assert "--model_type" not in argv and "--guidance_scale" not in argv
    report = run([argv], TOMLS)
    assert not blocking(report), blocking(report)
