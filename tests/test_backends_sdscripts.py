"""sd-scripts backend: dataset TOML with subsets and .txt captions; train commands for SD 1.5, SDXL, FLUX."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.flags import script_flags
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from tests.plan_helpers import FAKES, fake_weights, flat_dataset, kohya_dataset

FAMILIES = ["sd15", "sdxl", "pony", "illustrious", "flux1-dev"]


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def _train(plan: TrainingPlan, **kw: object) -> list[str]:
    [command] = get_backend("sdscripts").commands(plan, **kw)
    assert command.stage == "train"
    return command.argv


def test_dataset_toml_kohya_folders_become_subsets(workspace: Path) -> None:
    data = kohya_dataset(workspace, images=4, repeats=10)
    plan = new_plan("mira", "sdxl", data, "mira")
    config = tomllib.loads(get_backend("sdscripts").dataset_toml(plan))
    assert set(config) == {"general", "datasets"}
    # sd-scripts' default caption extension is ".caption": it must be written out
    assert config["general"]["caption_extension"] == ".txt"
    [dataset] = config["datasets"]
    assert dataset["bucket_reso_steps"] % 32 == 0 and dataset["bucket_reso_steps"] % 64 == 0
    assert dataset["min_bucket_reso"] <= min(dataset["resolution"]) <= max(dataset["resolution"]) <= dataset["max_bucket_reso"]
    assert dataset["subsets"] == [{"image_dir": str(data / "10_mira"), "num_repeats": 10}]


def test_dataset_toml_reads_like_the_docs_and_parses_back(workspace: Path) -> None:
    """[[datasets.subsets]] tables and one-line arrays, as sd-scripts' config docs write them, with
    exactly the backend's values; Windows paths and quotes survive."""
    data = kohya_dataset(workspace, images=2, repeats=3)
    plan = new_plan("mira", "sdxl", data, "mira")
    plan.dataset.subsets[0].path = 'C:\\data\\10 "mira"'
    backend = get_backend("sdscripts")
    text = backend.dataset_toml(plan)
    assert "\n[[datasets]]\n" in text and "\n  [[datasets.subsets]]\n" in text and "subsets = [" not in text
    assert "resolution = [1024, 1024]" in text
    assert tomllib.loads(text) == backend.dataset_config(plan)


def test_flat_folder_is_one_subset(workspace: Path) -> None:
    data = flat_dataset(workspace)
    plan = new_plan("mira", "sd15", data, "mira")
    [dataset] = tomllib.loads(get_backend("sdscripts").dataset_toml(plan))["datasets"]
    assert [s["image_dir"] for s in dataset["subsets"]] == [str(data)]
    assert dataset["resolution"] == [512, 512]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_flag_exists_in_its_script(family: str, workspace: Path) -> None:
    data = flat_dataset(workspace)
    for preset in ("quick", "standard", "thorough"):
        for kind in ("character", "style", "object"):
            plan = new_plan("mira", family, data, "mira", preset=preset, training_type=kind)
            for argv in (_train(plan), _train(plan, max_train_steps=4)):
                script = next(a for a in argv if a.endswith(".py"))
                known = script_flags(script)
                used = [a for a in argv[argv.index(script) + 1:] if a.startswith("--")]
                assert all(flag in known for flag in used), set(used) - set(known)
                assert _values(argv, "--mixed_precision") == [plan.memory.mixed_precision] * 2


def test_sdxl_caches_text_encoder_with_unet_only_and_fp16_vae(workspace: Path) -> None:
    plan = new_plan("mira", "pony", flat_dataset(workspace), "mira")
    argv = _train(plan)
    assert "sdxl_train_network.py" in argv
    assert "--cache_text_encoder_outputs" in argv and "--network_train_unet_only" in argv
    plan.memory.mixed_precision = "fp16"
    assert "--no_half_vae" in _train(plan)


def test_flux_recommended_flags(workspace: Path) -> None:
    plan = new_plan("mira", "flux1-dev", flat_dataset(workspace), "mira", gpu_gb=16)
    argv = _train(plan)
    for flag in ("--clip_l", "--t5xxl", "--ae"):
        assert _values(argv, flag), flag
    assert _values(argv, "--mixed_precision") == ["bf16", "bf16"]
    assert _values(argv, "--model_prediction_type") == ["raw"]
    assert _values(argv, "--guidance_scale") == ["1"]
    assert _values(argv, "--timestep_sampling")[0] in {"flux_shift", "shift"}
    assert "--fp8_base" in argv and "--cache_text_encoder_outputs" in argv
    assert int(_values(argv, "--blocks_to_swap")[0]) <= 35


def test_sd15_has_no_text_encoder_cache_flag(workspace: Path) -> None:
    argv = _train(new_plan("mira", "sd15", flat_dataset(workspace), "mira"))
    assert "train_network.py" in argv and "--cache_text_encoder_outputs" not in argv


def test_step_limit_drops_epochs(workspace: Path) -> None:
    plan = new_plan("mira", "sdxl", flat_dataset(workspace), "mira")
    argv = _train(plan, max_train_steps=5, output_dir=str(workspace / "dry"))
    # sd-scripts: --max_train_epochs overrides --max_train_steps, so it must be gone
    assert _values(argv, "--max_train_steps") == ["5"] and "--max_train_epochs" not in argv
    assert "--save_every_n_epochs" not in argv and _values(argv, "--output_dir") == [str(workspace / "dry")]


@pytest.mark.parametrize("family", ["sdxl", "flux1-dev", "chroma", "sd3.5-large", "noobai-xl-vpred"])
def test_step_limit_stops_the_trainer(family: str, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0")
    plan = new_plan("mira", family, kohya_dataset(workspace), "mira", trainer_dir=str(FAKES / "sd-scripts"),
                    trainer_python=sys.executable, weights=fake_weights(workspace, family), gpu_gb=24)
    toml = Path(plan.dataset_toml or "")
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(get_backend("sdscripts").dataset_toml(plan), encoding="utf-8")
    out = workspace / "dry"
    [command] = get_backend("sdscripts").commands(plan, max_train_steps=4, output_dir=str(out))
    argv = [str(FAKES / "bin" / "accelerate"), *command.argv[1:]]
    done = subprocess.run(argv, cwd=command.cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4/4" in done.stderr and "No data found" not in done.stdout + done.stderr
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["mira.safetensors"]
