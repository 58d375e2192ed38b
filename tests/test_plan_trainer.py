"""The plan records the trainer the environment checks find, and its venv's Python and accelerate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loragate.environment.trainer import find_trainer_python, locate_trainer
from loragate.plan.gate2 import generate_config
from tests.envkit import fake_venv, make_checkout
from tests.plan_helpers import FAKES, flat_dataset, wan_dataset


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A home folder of our own, so no trainer of the machine's user is found by accident."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("LORAGATE_TRAINER_PYTHON", raising=False)
    return folder


def _codes(findings, severity: str) -> set[str]:
    return {f.code for f in findings if f.severity == severity}


def test_a_trainer_in_a_usual_place_is_recorded_with_its_venv(workspace: Path, home: Path) -> None:
    checkout = make_checkout(home)  # ~/musubi-tuner
    venv_python = fake_venv(checkout)
    result = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24)
    plan = result.plan
    assert plan.trainer_dir == str(checkout.resolve())
    assert plan.trainer_python == str(venv_python)
    cache, train = plan.commands[0].argv, plan.commands[-1].argv
    assert cache[0] == str(venv_python)
    assert train[0] == str(venv_python.parent / "accelerate") and Path(train[0]).is_file()
    assert all(c.cwd == plan.trainer_dir for c in plan.commands)
    # Gate 3 judges the same checkout and interpreter the commands will use
    assert locate_trainer("musubi", plan_dir=plan.trainer_dir).path == plan.trainer_dir
    assert find_trainer_python(plan.trainer_dir, plan.trainer_python)[0] == plan.trainer_python
    codes = {f.code for f in result.gate2.findings}
    assert "PLAN_TRAINER_NOT_FOUND" not in codes and result.gate2.verdict == "GO"


def test_the_environment_variable_points_at_the_stand_in(workspace: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    system_bin = tmp_path / "usr" / "bin"
    system_bin.mkdir(parents=True)
    (system_bin / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(system_bin))
    monkeypatch.setenv("SD_SCRIPTS_DIR", str(FAKES / "sd-scripts"))
    plan = generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24).plan
    assert plan.trainer_dir == str((FAKES / "sd-scripts").resolve())
    # no venv in the checkout: the system interpreter is named, so the training machine's PATH picks it
    # together with the `accelerate` on that PATH, as Gate 3 checks them
    assert plan.trainer_python == "python3" and plan.commands[-1].argv[0] == "accelerate"


def test_no_trainer_found_still_plans_with_a_warning(workspace: Path, home: Path) -> None:
    result = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24)
    gate = result.gate2
    assert gate.verdict == "GO" and result.plan.commands
    [finding] = [f for f in gate.findings if f.code == "PLAN_TRAINER_NOT_FOUND"]
    assert finding.severity == "warn" and "MUSUBI_TUNER_DIR" in finding.fix
    assert finding.next is not None and finding.next.action == "generate_config" and finding.next.args["name"] == "mira"
    assert "PLAN_TRAINER_NOT_FOUND" in Path(gate.config_path).read_text()


def test_a_plan_for_a_pod_only_says_where_the_trainer_is_expected(workspace: Path, home: Path) -> None:
    gate = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24, platform="runpod").gate2
    assert "PLAN_TRAINER_ON_PLATFORM" in _codes(gate.findings, "info")
    assert "PLAN_TRAINER_NOT_FOUND" not in {f.code for f in gate.findings}


def test_no_trainer_never_puts_loragates_own_python_in_train_sh(workspace: Path, home: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # loragate's venv is first on PATH, as after `. .venv/bin/activate`
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    result = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24)
    plan = result.plan
    train_sh = (Path(result.gate2.config_path).parent / "train.sh").read_text()
    assert sys.prefix not in train_sh and sys.executable not in train_sh
    assert plan.trainer_python == f"{plan.trainer_dir}/venv/bin/python"
    [finding] = [f for f in result.gate2.findings if f.code == "PLAN_TRAINER_NOT_FOUND"]
    assert f"cd {plan.trainer_dir}" in finding.fix and "python3 -m venv venv" in finding.fix
    assert "venv/bin/python -m pip install -e ." in finding.fix and "not loragate's" in finding.fix
    assert "nowhere" not in finding.message and "MUSUBI_TUNER_DIR is not set" in finding.message


def test_gate_3_without_a_trainer_says_how_to_install_it_not_what_loragates_python_lacks(
        workspace: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.environment.gate3 import check_environment
    from tests.envkit import H100, fake_nvml, use_nvml

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    use_nvml(monkeypatch, fake_nvml([H100]))
    plan = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24).plan
    report = check_environment("mira")
    codes = {f.code for f in report.findings}
    assert "ENV_TRAINER_NOT_FOUND" in codes
    assert not codes & {"ENV_DEP_MISSING", "ENV_TRAINER_NOT_INSTALLED", "ENV_TORCH_MISSING", "ENV_ACCELERATE_MISSING"}
    [finding] = [f for f in report.findings if f.code == "ENV_TRAINER_NOT_FOUND"]
    assert finding.fix.count("cd ") == 1 and f"cd {plan.trainer_dir}" in finding.fix
    assert "venv/bin/python -m pip install torch==" in finding.fix  # the build for this GPU and driver
    assert sys.executable not in finding.fix and sys.executable not in " ".join(f.fix for f in report.findings)
