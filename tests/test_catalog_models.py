"""The model catalog loads, every family is complete, and the facts agree with each other."""

from __future__ import annotations

import pytest

from loragate.catalog.flags import script_flags
from loragate.catalog.models import family_ids, get_family
from loragate.core.errors import LoragateError

REQUIRED = {
    "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b", "wan2.2-t2v-a14b", "wan2.2-i2v-a14b",
    "sd15", "sdxl", "pony", "illustrious", "flux1-dev",
}


def test_every_required_family_is_there() -> None:
    assert REQUIRED <= set(family_ids())


@pytest.mark.parametrize("family_id", sorted(REQUIRED))
def test_family_is_complete(family_id: str) -> None:
    fam = get_family(family_id)
    assert fam.scripts["train"].endswith(".py")
    assert fam.params_b > 0.5 and fam.hidden_size > 0 and fam.layers > 0 and fam.heads > 0
    assert fam.lora_params_per_rank > 0
    assert fam.text_encoders and all(te.token_limit > 0 for te in fam.text_encoders)
    assert fam.resolutions and fam.default_resolution
    assert fam.weights_precision in {"bf16", "fp16", "fp32"}
    assert fam.block_swap_max < fam.layers
    assert fam.weights_files and fam.sources


def test_wan_facts_match_the_trainer() -> None:
    for family_id in [f for f in REQUIRED if f.startswith("wan")]:
        fam = get_family(family_id)
        assert fam.trainer == "musubi" and fam.video and fam.frame_rule == "4n+1"
        assert fam.scripts["train"] == "src/musubi_tuner/wan_train_network.py"
        assert {"cache_latents", "cache_text_encoder"} <= set(fam.scripts)
        assert fam.task in script_flags("wan_train_network.py")["--task"].choices
    assert get_family("wan2.1-t2v-14b").block_swap_max == 39
    assert get_family("wan2.1-t2v-1.3b").block_swap_max == 29
    assert get_family("wan2.1-t2v-14b").lora_params_per_rank == 4_792_320


@pytest.mark.parametrize(("family_id", "boundary"), [("wan2.2-t2v-a14b", 875), ("wan2.2-i2v-a14b", 900)])
def test_wan22_experts_cover_all_timesteps_without_overlap(family_id: str, boundary: int) -> None:
    fam = get_family(family_id)
    experts = sorted(fam.experts, key=lambda e: e.min_timestep)
    assert [e.name for e in experts] == ["low", "high"]
    assert experts[0].min_timestep == 0 and experts[-1].max_timestep == 1000
    assert experts[0].max_timestep == experts[1].min_timestep == fam.timestep_boundary == boundary
    assert fam.weights_precision == "fp16" and fam.mixed_precision == "fp16"
    assert all(e.weights_hint in fam.weights_files[role] for e, role in zip(experts, ["dit", "dit_high_noise"]))


def test_variants_inherit_sdxl_but_caption_with_tags() -> None:
    sdxl = get_family("sdxl")
    for variant in ("pony", "illustrious"):
        fam = get_family(variant)
        assert fam.variant_of == "sdxl" and fam.caption_style == "booru"
        assert fam.scripts == sdxl.scripts and fam.params_b == sdxl.params_b
        assert fam.weights_files["base_model"] != sdxl.weights_files["base_model"]


def test_sd_scripts_families_name_real_scripts() -> None:
    assert get_family("sd15").scripts["train"] == "train_network.py"
    assert get_family("sdxl").scripts["train"] == "sdxl_train_network.py"
    flux = get_family("flux1-dev")
    assert flux.scripts["train"] == "flux_train_network.py" and flux.block_swap_max == 35
    assert flux.mixed_precision == "bf16" and flux.network_module == "networks.lora_flux"


def test_unknown_family_says_what_exists() -> None:
    with pytest.raises(LoragateError) as err:
        get_family("sdxxl")
    assert "sdxl" in err.value.fix
