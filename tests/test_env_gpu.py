"""The GPU as NVML reports it, with no GPU on this machine: absent library, dead driver, fake cards."""

from __future__ import annotations

import pytest

from loragate.environment.gpu import gpu_findings, read_gpus
from tests.envkit import H100, RTX_4090, RTX_5090, FakeCard, fake_nvml, use_nvml


def test_missing_nvml_library_is_a_no_go_finding_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, None)  # `import pynvml` raises ImportError
    section = read_gpus()
    assert not section.available and "nvidia-ml-py" in (section.reason or "")
    findings = gpu_findings(section, need_gb=20)
    assert [(f.code, f.severity) for f in findings] == [("ENV_NO_GPU", "block")]
    assert "nvidia-smi" in findings[0].fix


def test_driver_that_does_not_answer_is_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, fake_nvml([], init_error="Driver Not Loaded"))
    section = read_gpus()
    assert not section.available
    assert "Driver Not Loaded" in (section.reason or "")
    assert gpu_findings(section, None)[0].code == "ENV_NO_GPU"


def test_real_nvml_on_this_machine_never_raises() -> None:
    section = read_gpus()  # no GPU here: whatever the library says, it is an answer
    assert section.available or section.reason


def test_rtx_5090_is_read_with_driver_cuda_and_capability(monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, fake_nvml([RTX_5090], driver="570.124.06", cuda=12080))
    section = read_gpus()
    assert section.available and section.driver_version == "570.124.06"
    assert section.cuda_driver_version == "12.8"
    card = section.gpus[0]
    assert card.name == "NVIDIA GeForce RTX 5090" and card.compute_capability == (12, 0)
    assert card.memory_total_gb == pytest.approx(31.84, abs=0.01)
    assert gpu_findings(section, need_gb=24) == []


def test_other_programs_on_the_card_are_named_and_block_when_memory_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    busy = FakeCard("NVIDIA GeForce RTX 4090", 23.99, 9.0, (8, 9), processes=[(4242, "ComfyUI", 14.5)])
    use_nvml(monkeypatch, fake_nvml([busy]))
    section = read_gpus()
    assert [(p.pid, p.name) for p in section.gpus[0].processes] == [(4242, "ComfyUI")]
    short = gpu_findings(section, need_gb=20)
    assert [(f.code, f.severity) for f in short] == [("ENV_GPU_BUSY", "block")]
    assert "ComfyUI (4242)" in short[0].message and "14.5 GB" in short[0].message
    roomy = gpu_findings(section, need_gb=6)
    assert [(f.code, f.severity) for f in roomy] == [("ENV_GPU_BUSY", "warn")]


def test_card_smaller_than_the_plan_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, fake_nvml([RTX_4090]))
    findings = gpu_findings(read_gpus(), need_gb=60)
    assert [f.code for f in findings] == ["ENV_GPU_TOO_SMALL"]
    assert "RTX 4090" in findings[0].message


def test_h100_with_room_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, fake_nvml([H100], driver="550.54.15", cuda=12040))
    section = read_gpus()
    assert section.cuda_driver_version == "12.4"
    assert gpu_findings(section, need_gb=60) == []
