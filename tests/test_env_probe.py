"""The probe runs in the trainer's interpreter (here: a real venv holding safetensors, with the fake torch site)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.environment.probe import ProbeRequest, run_probe
from tests.envkit import fake_trainer_python, fake_venv

@pytest.fixture
def python(tmp_path: Path) -> str:
    """The trainer's interpreter: a venv of its own, never this one (which holds loragate's packages)."""
    return str(fake_venv(tmp_path / "trainer"))


REQUEST = ProbeRequest(dists=["torch", "accelerate", "voluptuous"], imports=["torchvision", "accelerate", "xformers"], finds=["voluptuous", "musubi_tuner"])


def test_probe_reports_the_chosen_build(monkeypatch: pytest.MonkeyPatch, python: str) -> None:
    fake_trainer_python(monkeypatch, version="2.5.1+cu124", cuda="12.4", archs="sm_80,sm_86,sm_90", available="0", warning="Found no NVIDIA driver on your system.")
    result = run_probe(python, REQUEST)
    assert result.ran, result.error
    torch = result.torch
    assert (torch.version, torch.cuda_build, torch.arch_list) == ("2.5.1+cu124", "12.4", ["sm_80", "sm_86", "sm_90"])
    assert torch.cuda_available is False and torch.warnings == ["Found no NVIDIA driver on your system."]
    assert torch.cudnn_version == 90100
    assert result.python is not None and result.python.executable == python


def test_probe_reports_versions_imports_and_what_is_missing(monkeypatch: pytest.MonkeyPatch, python: str) -> None:
    fake_trainer_python(monkeypatch)
    result = run_probe(python, REQUEST)
    assert result.dists == {"torch": "2.7.1", "accelerate": "1.6.0", "voluptuous": None}
    assert result.imports["torchvision"].ok and result.imports["accelerate"].ok
    assert not result.imports["xformers"].ok and "xformers" in (result.imports["xformers"].error or "")
    assert result.finds["voluptuous"] is None and result.finds["musubi_tuner"] is None
    assert result.torch.devices == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": [9, 0]}]
    assert result.accelerate_config is not None and result.accelerate_config.path.endswith("default_config.yaml")


def test_broken_torch_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, python: str) -> None:
    fake_trainer_python(monkeypatch, broken="libcudnn.so.9: cannot open shared object file")
    result = run_probe(python, REQUEST)
    assert result.ran and not result.torch.installed
    assert "libcudnn.so.9" in (result.torch.error or "")


def test_accelerate_config_is_read_from_hf_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, python: str) -> None:
    fake_trainer_python(monkeypatch)
    config = tmp_path / "hf" / "accelerate" / "default_config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_processes: 2\nmixed_precision: bf16\nuse_cpu: false\n")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    result = run_probe(python, REQUEST)
    assert result.accelerate_config is not None and result.accelerate_config.exists
    assert result.accelerate_config.values["num_processes"] == 2


def test_missing_interpreter_and_hang_are_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, python: str) -> None:
    missing = run_probe(str(tmp_path / "venv" / "bin" / "python"), REQUEST)
    assert not missing.ran and "does not exist" in (missing.error or "")
    fake_trainer_python(monkeypatch, sleep="5")
    hung = run_probe(python, REQUEST, timeout=1)
    assert not hung.ran and "no answer within 1 s" in (hung.error or "")


def test_the_probe_does_not_see_loragates_environment_modules(monkeypatch: pytest.MonkeyPatch, python: str) -> None:
    fake_trainer_python(monkeypatch)
    result = run_probe(python, ProbeRequest(finds=["gpu", "trainer", "weights"]))
    assert result.finds == {"gpu": None, "trainer": None, "weights": None}


def test_accelerate_config_is_read_without_pyyaml() -> None:
    """A trainer interpreter without PyYAML still reports the flat config accelerate writes."""
    import importlib.util

    import loragate.environment as environment

    spec = importlib.util.spec_from_file_location("probe_script", Path(environment.__file__).parent / "probe_script.py")
    assert spec and spec.loader
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    values = probe._flat_yaml("distributed_type: MULTI_GPU  # two cards\nnum_processes: 2\nuse_cpu: false\ngpu_ids: all\n")
    assert values == {"distributed_type": "MULTI_GPU", "num_processes": 2, "use_cpu": False, "gpu_ids": "all"}
