"""musubi backend: the dataset TOML musubi accepts and the exact cache / train commands for Wan."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.backends.musubi import GENERAL_KEYS
from loragate.catalog.flags import script_flags
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from tests.plan_helpers import fake_weights, wan_dataset

WAN = ["wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b", "wan2.2-t2v-a14b", "wan2.2-i2v-a14b"]


@pytest.fixture
def data(workspace: Path) -> Path:
    return wan_dataset(workspace)


def _plan(family: str, data: Path, **kw: object) -> TrainingPlan:
    return new_plan("mira", family, data, "mira", **kw)


def _flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def _script(argv: list[str]) -> str:
    return next(a for a in argv if a.endswith(".py")).rsplit("/", 1)[-1]


def test_dataset_toml_parses_with_only_allowed_general_keys(data: Path) -> None:
    plan = _plan("wan2.1-t2v-14b", data)
    config = tomllib.loads(get_backend("musubi").dataset_toml(plan))
    assert set(config) == {"general", "datasets"}
    assert set(config["general"]) <= set(GENERAL_KEYS)
    assert config["general"]["caption_extension"] == ".txt"
    kinds = {("image_directory" in d, "video_directory" in d) for d in config["datasets"]}
    assert kinds == {(True, False), (False, True)}
    caches = [d["cache_directory"] for d in config["datasets"]]
    assert len(set(caches)) == len(caches)
    assert all(not c.startswith(str(data)) for c in caches), "caches must live outside the artist's dataset"


def test_video_entries_have_4n1_frames_and_float_fps(data: Path) -> None:
    config = tomllib.loads(get_backend("musubi").dataset_toml(_plan("wan2.1-t2v-1.3b", data, gpu_gb=80)))
    video = next(d for d in config["datasets"] if "video_directory" in d)
    assert video["target_frames"] and all((f - 1) % 4 == 0 for f in video["target_frames"])
    assert isinstance(video["source_fps"], float) and video["source_fps"] == 30.0
    assert video["frame_extraction"] == "head"


@pytest.mark.parametrize("family", WAN)
def test_every_flag_exists_in_its_script(family: str, data: Path) -> None:
    for preset in ("quick", "standard", "thorough"):
        plan = _plan(family, data, preset=preset)
        for command in get_backend("musubi").commands(plan) + get_backend("musubi").commands(plan, max_train_steps=3):
            known = script_flags(_script(command.argv))
            script_at = next(i for i, a in enumerate(command.argv) if a.endswith(".py"))
            used = [a for a in command.argv[script_at + 1:] if a.startswith("--")]
            assert used and all(flag in known for flag in used), (family, preset, set(used) - set(known))


def test_i2v_caching_flags(data: Path) -> None:
    backend = get_backend("musubi")
    wan21 = next(c for c in backend.commands(_plan("wan2.1-i2v-14b", data)) if c.stage == "cache_latents")
    wan22 = next(c for c in backend.commands(_plan("wan2.2-i2v-a14b", data)) if c.stage == "cache_latents")
    t2v = next(c for c in backend.commands(_plan("wan2.2-t2v-a14b", data)) if c.stage == "cache_latents")
    assert "--i2v" in wan21.argv and _flag_values(wan21.argv, "--clip")
    assert "--i2v" in wan22.argv and "--clip" not in wan22.argv
    assert "--i2v" not in t2v.argv and "--clip" not in t2v.argv


@pytest.mark.parametrize(("family", "boundary", "task"), [("wan2.2-t2v-a14b", 875, "t2v-A14B"), ("wan2.2-i2v-a14b", 900, "i2v-A14B")])
def test_wan22_both_experts_are_two_runs_with_their_ranges(family: str, boundary: int, task: str, data: Path) -> None:
    plan = _plan(family, data, expert="both", gpu_gb=24)
    trains = [c for c in get_backend("musubi").commands(plan) if c.stage == "train"]
    assert {c.expert for c in trains} == {"high", "low"}
    by_expert = {c.expert: c.argv for c in trains}
    assert _flag_values(by_expert["low"], "--min_timestep") == ["0"]
    assert _flag_values(by_expert["low"], "--max_timestep") == [str(boundary)]
    assert _flag_values(by_expert["high"], "--min_timestep") == [str(boundary)]
    assert _flag_values(by_expert["high"], "--max_timestep") == ["1000"]
    assert _flag_values(by_expert["high"], "--dit") == [plan.weights.dit_high_noise]
    assert _flag_values(by_expert["low"], "--dit") == [plan.weights.dit]
    names = {_flag_values(argv, "--output_name")[0] for argv in by_expert.values()}
    assert names == {"mira_high", "mira_low"}
    for argv in by_expert.values():
        assert "--preserve_distribution_shape" in argv
        assert _flag_values(argv, "--task") == [task]
        # fp16 release: fp16 for the script itself and for accelerate launch
        assert _flag_values(argv, "--mixed_precision") == ["fp16", "fp16"]
        assert _flag_values(argv, "--timestep_sampling") == ["shift"]
        assert "--dit_high_noise" not in argv


def test_single_expert(data: Path) -> None:
    plan = _plan("wan2.2-t2v-a14b", data, expert="high")
    trains = [c for c in get_backend("musubi").commands(plan) if c.stage == "train"]
    assert [c.expert for c in trains] == ["high"]


def test_step_limit_replaces_epochs_and_saves(data: Path, tmp_path: Path) -> None:
    plan = _plan("wan2.1-t2v-1.3b", data)
    train = next(c for c in get_backend("musubi").commands(plan, max_train_steps=5, output_dir=str(tmp_path / "dry"))
                 if c.stage == "train")
    assert _flag_values(train.argv, "--max_train_steps") == ["5"]
    assert "--max_train_epochs" not in train.argv and "--save_every_n_epochs" not in train.argv
    assert _flag_values(train.argv, "--output_dir") == [str(tmp_path / "dry")]
    normal = next(c for c in get_backend("musubi").commands(plan) if c.stage == "train")
    assert "--max_train_epochs" in normal.argv and "--max_train_steps" not in normal.argv


def test_commands_are_deterministic(data: Path) -> None:
    plan = _plan("wan2.2-i2v-a14b", data)
    again = TrainingPlan.model_validate_json(plan.model_dump_json())
    backend = get_backend("musubi")
    assert [c.argv for c in backend.commands(plan)] == [c.argv for c in backend.commands(again)]
    assert backend.dataset_toml(plan) == backend.dataset_toml(again)


def test_accelerate_comes_from_the_trainer_venv(data: Path, workspace: Path) -> None:
    python = str(workspace / "musubi-tuner" / "venv" / "bin" / "python")
    plan = _plan("wan2.1-t2v-1.3b", data, trainer_python=python)
    cmds = get_backend("musubi").commands(plan)
    assert cmds[0].argv[0] == python
    assert cmds[-1].argv[:2] == [str(workspace / "musubi-tuner" / "venv" / "bin" / "accelerate"), "launch"]
    assert all(c.cwd == plan.trainer_dir for c in cmds)


def test_step_limit_stops_the_trainer(data: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real flags, run through the musubi stand-in: caching, then 3 steps and a final LoRA."""
    import os
    import subprocess

    from tests.plan_helpers import FAKES

    monkeypatch.setenv("PATH", os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0")
    plan = _plan("wan2.1-t2v-1.3b", data, trainer_dir=str(FAKES / "musubi-tuner"), trainer_python=sys.executable,
                 weights=fake_weights(workspace, "wan2.1-t2v-1.3b"), gpu_gb=24)
    toml = Path(plan.dataset_toml)
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(get_backend("musubi").dataset_toml(plan), encoding="utf-8")
    out = workspace / "dry"
    for command in get_backend("musubi").commands(plan, max_train_steps=3, output_dir=str(out)):
        # accelerate sits beside the trainer's python in a real venv; here the stand-in plays it
        argv = [str(FAKES / "bin" / "accelerate"), *command.argv[1:]] if command.stage == "train" else command.argv
        done = subprocess.run(argv, cwd=command.cwd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    assert "3/3" in done.stderr
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["mira.safetensors"]
