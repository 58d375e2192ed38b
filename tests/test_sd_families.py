"""SD 3.5, Chroma and v-prediction SDXL: the docs' own commands validate GO, their documented pitfalls
are caught, and `plan new` writes what each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loragate.backends import get_backend
from loragate.core.errors import LoragateError
from loragate.evaluate.prompts import sample_prompts_text
from loragate.plan.import_plan import plan_from_setup
from loragate.plan.new import new_plan
from loragate.validate.weights import sd3_variant, sdxl_variant
from tests.media import write_safetensors_header
from tests.plan_helpers import flat_dataset, wan_dataset
from tests.test_env_weights import judge, sd_plan
from tests.validate_helpers import CHROMA, LOHA, SD35, SDXL, SDXL_DS, VPRED, blocking, codes, edit, run, sds

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
    ("animagine-xl-4.0-opt.safetensors", "animagine-xl-4"),
    ("sd_xl_base_1.0.safetensors", "sdxl"),
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


# ---- Gate 3: which file is which, by keys and shapes ------------------------------------------
SDXL_KEYS = {"model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
             "model.diffusion_model.label_emb.0.0.weight": ("F16", [1280, 2816])}


def _sd3_file(path: Path, blocks: int, mmdit_x: bool) -> Path:
    p = "model.diffusion_model."
    keys = {p + "x_embedder.proj.weight": ("F16", [blocks * 64, 16, 2, 2]),
            p + "joint_blocks.0.context_block.attn.qkv.weight": ("F16", [blocks * 64 * 3, blocks * 64]),
            p + "joint_blocks.0.context_block.attn.ln_k.weight": ("F16", [64])}
    if mmdit_x:
        keys[p + "joint_blocks.0.x_block.attn2.ln_k.weight"] = ("F16", [64])
    return write_safetensors_header(path, keys)


def _encoders(tmp_path: Path, *roles: str) -> dict[str, str]:
    return {r: str(write_safetensors_header(tmp_path / f"{r}.safetensors", {"w": ("BF16", [8])})) for r in roles}


def test_gate3_tells_a_v_prediction_sdxl_by_its_v_pred_key(workspace: Path, tmp_path: Path) -> None:
    vpred = write_safetensors_header(tmp_path / "noob.safetensors", {**SDXL_KEYS, "v_pred": ("F16", [0]), "ztsnr": ("F16", [0])})
    plain = write_safetensors_header(tmp_path / "plain.safetensors", SDXL_KEYS)
    assert judge(sd_plan(tmp_path, "noobai-xl-vpred", str(vpred))) == {}
    severity, text = judge(sd_plan(tmp_path, "illustrious", str(vpred)))["ENV_WEIGHTS_PREDICTION"]
    assert severity == "block" and "noobai-xl-vpred" in text
    assert judge(sd_plan(tmp_path, "noobai-xl-vpred", str(plain)))["ENV_WEIGHTS_PREDICTION"][0] == "warn"
    assert judge(sd_plan(tmp_path, "illustrious", str(plain))) == {}


def test_gate3_tells_sd35_large_from_medium(workspace: Path, tmp_path: Path) -> None:
    large, medium = _sd3_file(tmp_path / "a.safetensors", 38, False), _sd3_file(tmp_path / "b.safetensors", 24, True)
    parts = _encoders(tmp_path, "clip_l", "clip_g", "t5xxl")
    assert judge(sd_plan(tmp_path, "sd3.5-large", str(large), **parts)) == {}
    assert judge(sd_plan(tmp_path, "sd3.5-medium", str(medium), **parts)) == {}
    severity, text = judge(sd_plan(tmp_path, "sd3.5-large", str(medium), **parts))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "24" in text and "38" in text
    sdxl = write_safetensors_header(tmp_path / "xl.safetensors", SDXL_KEYS)
    assert judge(sd_plan(tmp_path, "sd3.5-medium", str(sdxl), **parts))["ENV_WEIGHTS_ARCH_MISMATCH"][0] == "block"


def test_gate3_tells_chroma_from_flux(workspace: Path, tmp_path: Path) -> None:
    qkv = ("BF16", [9216, 3072])
    chroma = write_safetensors_header(tmp_path / "Chroma.safetensors", {
        "double_blocks.0.img_attn.qkv.weight": qkv, "distilled_guidance_layer.in_proj.weight": ("BF16", [5120, 64])})
    dev = write_safetensors_header(tmp_path / "flux1-dev.safetensors", {
        "double_blocks.0.img_attn.qkv.weight": qkv, "guidance_in.in_layer.weight": ("BF16", [3072, 256])})
    parts = _encoders(tmp_path, "t5xxl", "ae")
    assert judge(sd_plan(tmp_path, "chroma", str(chroma), **parts)) == {}  # no 'schnell' warning: Chroma has no guidance_in
    assert judge(sd_plan(tmp_path, "chroma", str(dev), **parts))["ENV_WEIGHTS_ARCH_MISMATCH"][0] == "block"
    found = judge(sd_plan(tmp_path, "flux1-dev", str(chroma), **parts, **_encoders(tmp_path, "clip_l")))
    assert found["ENV_WEIGHTS_ARCH_MISMATCH"][0] == "block"


# ---- LyCORIS (LoHa / LoKr) -------------------------------------------------------------------
def test_the_lycoris_guidelines_loha_validates_go() -> None:
    report = run([sds(LOHA)], TOMLS)
    assert not blocking(report) and report.verdict == "GO", blocking(report)


@pytest.mark.parametrize(("family", "kind", "args"), [
    ("sdxl", "loha", ["algo=loha", "preset=attn-mlp"]),
    ("sd3.5-medium", "lokr", ["algo=lokr", "factor=8", "preset=attn-mlp"]),
    ("chroma", "loha", ["algo=loha", "preset=attn-mlp"]),
])
def test_plan_new_trains_a_lycoris_network(tmp_path: Path, family: str, kind: str, args: list[str]) -> None:
    plan = new_plan("mira", family, flat_dataset(tmp_path), "mira", gpu_gb=24, network=kind)
    argv = get_backend(plan.backend).commands(plan)[0].argv
    assert argv[argv.index("--network_module") + 1] == "lycoris.kohya"
    at = argv.index("--network_args")
    assert argv[at + 1: at + 1 + len(args)] == args
    report = run([argv], TOMLS)
    assert not blocking(report), blocking(report)


def test_a_network_kind_the_trainer_lacks_is_refused_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.catalog import networks

    loha = networks.load_networks()["loha"]
    monkeypatch.setattr(networks, "load_networks", lambda: {"loha": loha.model_copy(update={"musubi": None})})
    with pytest.raises(LoragateError, match="not available") as caught:
        new_plan("mira", "wan2.1-t2v-1.3b", wan_dataset(tmp_path), "mira", gpu_gb=24, network="loha")
    assert "network lora" in (caught.value.fix or "")
    with pytest.raises(LoragateError, match="Unknown network kind"):
        new_plan("mira", "sdxl", flat_dataset(tmp_path), "mira", gpu_gb=24, network="dora")


def test_chroma_samples_carry_a_negative_prompt_and_real_cfg(tmp_path: Path) -> None:
    # docs/flux_train_network.md: Chroma's samples need --n, --g 0 and --l 4.0
    plan = new_plan("mira", "chroma", flat_dataset(tmp_path), "mira", gpu_gb=24)
    lines = [line for line in sample_prompts_text(plan).splitlines() if not line.startswith("#")]
    assert lines and all(" --n low quality" in line and " --g 0.0" in line and " --l 4.0" in line for line in lines)
    flux = new_plan("mira", "flux1-dev", flat_dataset(tmp_path), "mira", gpu_gb=24)
    assert " --n " not in sample_prompts_text(flux)


@pytest.mark.parametrize(("family", "kind"), [("sdxl", "loha"), ("sd3.5-large", "lokr"), ("chroma", "loha")])
def test_a_lycoris_plan_imports_back_as_the_same_plan(tmp_path: Path, family: str, kind: str) -> None:
    from tests.test_plan_import import _export, _facts, _request

    plan = new_plan("mira", family, flat_dataset(tmp_path), "mira", gpu_gb=24, network=kind)
    back, _ = plan_from_setup(_request(plan, command=_export(plan)))
    assert _facts(back) == _facts(plan)
    assert back.network.module == "lycoris.kohya" and back.network.args == plan.network.args


@pytest.mark.parametrize(("family", "kind", "module"), [
    ("wan2.1-t2v-1.3b", "loha", "networks.loha"), ("wan2.2-t2v-a14b", "lokr", "networks.lokr"),
    ("qwen-image", "loha", "networks.loha"), ("zimage", "lokr", "networks.lokr"),
])
def test_musubi_trains_its_own_loha_and_lokr(tmp_path: Path, family: str, kind: str, module: str) -> None:
    """musubi-tuner docs/loha_lokr.md: its own modules, only --network_module changes; the plan
    validates without a LyCORIS install and imports back as the same plan."""
    from tests.test_plan_import import _export, _facts, _request

    data = wan_dataset(tmp_path) if family.startswith("wan2") else flat_dataset(tmp_path)
    plan = new_plan("mira", family, data, "mira", gpu_gb=80, network=kind)
    trains = [c.argv for c in plan.commands if c.stage == "train"]
    assert trains and all(a[a.index("--network_module") + 1] == module and "--network_args" not in a for a in trains)
    back, _ = plan_from_setup(_request(plan, command=_export(plan)))
    assert _facts(back) == _facts(plan) and back.network.module == module
    said = plan.explanations.get("network_module", "") + " ".join(plan.explanations.values())
    assert "musubi-tuner's own" in said and "pip install lycoris-lora" not in said


def test_each_release_name_matches_at_most_one_variant_pattern() -> None:
    """file_name_patterns are data; two variants claiming one name would make the answer depend on file order."""
    import re

    from loragate.catalog.models import load_catalog

    names = ["NoobAI-XL-Vpred-v1.0.safetensors", "NoobAI-XL-v1.1.safetensors", "ponyDiffusionV6XL.safetensors",
             "Illustrious-XL-v0.1.safetensors", "animagine-xl-4.0.safetensors", "pony_vpred.safetensors",
             "sd3.5_medium.safetensors", "sd3.5_large.safetensors", "sd_xl_base_1.0.safetensors"]
    for name in names:
        claimed = [f.id for f in load_catalog().families.values()
                   if any(re.search(p, name, re.I) for p in f.file_name_patterns)]
        assert len(claimed) <= 1, (name, claimed)
