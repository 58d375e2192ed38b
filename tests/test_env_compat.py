"""PyTorch against the GPU and driver, from the CUDA matrix data, with the exact fixing command."""

from __future__ import annotations

import pytest

from loragate.environment.compat import build_runs_on, load_matrix, recommend_torch, torch_findings, torchvision_findings
from loragate.environment.gpu import GpuInfo, GpuSection
from loragate.environment.probe import ImportResult, ProbeResult, TorchInfo

PY = "/workspace/musubi-tuner/venv/bin/python"
CU124_ARCHS = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
CU128_ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def gpus(name: str, capability: tuple[int, int], driver: str, cuda: str) -> GpuSection:
    card = GpuInfo(index=0, name=name, memory_total_gb=32, memory_free_gb=31, compute_capability=capability)
    return GpuSection(available=True, driver_version=driver, cuda_driver_version=cuda, gpus=[card])


def probe(version: str, cuda: str | None, archs: list[str], available: bool = True, **extra: object) -> ProbeResult:
    torch = TorchInfo(installed=True, version=version, cuda_build=cuda, arch_list=archs, cuda_available=available, cudnn_version=90100 if available else None)
    return ProbeResult(interpreter=PY, ran=True, torch=torch, **extra)  # type: ignore[arg-type]


def codes(findings: list) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in findings]


def test_rtx_5090_with_a_cu124_build_gets_the_exact_cu128_command() -> None:
    gpu = gpus("NVIDIA GeForce RTX 5090", (12, 0), "570.124.06", "12.8")
    findings = torch_findings(gpu, probe("2.5.1+cu124", "12.4", CU124_ARCHS, available=False), PY, "2.5.1", "musubi-tuner")
    assert codes(findings) == [("ENV_TORCH_ARCH_UNSUPPORTED", "block")]
    message, fix = findings[0].message, findings[0].fix
    assert "RTX 5090" in message and "sm_120" in message and "CUDA 12.8" in message
    assert f"{PY} -m pip install torch==2.7.1 torchvision==0.22.1 --index-url https://download.pytorch.org/whl/cu128" in fix


def test_h100_with_a_good_build_is_go() -> None:
    gpu = gpus("NVIDIA H100 80GB HBM3", (9, 0), "570.124.06", "12.8")
    assert torch_findings(gpu, probe("2.7.1+cu128", "12.8", CU128_ARCHS), PY, "2.5.1", "musubi-tuner", "bf16") == []


def test_rtx_4090_runs_on_sm86_code_of_the_same_major() -> None:
    gpu = gpus("NVIDIA GeForce RTX 4090", (8, 9), "550.54.14", "12.4")
    assert torch_findings(gpu, probe("2.5.1+cu124", "12.4", CU124_ARCHS), PY, "2.5.1", "musubi-tuner") == []


def test_build_newer_than_the_driver_major_blocks_and_offers_a_build_the_driver_runs() -> None:
    gpu = gpus("NVIDIA H100 80GB HBM3", (9, 0), "570.124.06", "12.8")
    findings = torch_findings(gpu, probe("2.9.1+cu130", "13.0", CU128_ARCHS, available=False), PY, "2.5.1", "musubi-tuner")
    assert codes(findings) == [("ENV_DRIVER_TOO_OLD", "block")]
    assert "torch==2.9.1 torchvision==0.24.1 --index-url https://download.pytorch.org/whl/cu128" in findings[0].fix


def test_same_major_older_driver_is_a_warning_through_minor_version_compatibility() -> None:
    gpu = gpus("NVIDIA A100-SXM4-80GB", (8, 0), "550.54.14", "12.4")
    findings = torch_findings(gpu, probe("2.7.1+cu128", "12.8", CU128_ARCHS), PY, "2.5.1", "musubi-tuner")
    assert codes(findings) == [("ENV_DRIVER_OLDER_THAN_BUILD", "warn")]
    assert "torch==2.7.1 torchvision==0.22.1 --index-url https://download.pytorch.org/whl/cu118" in findings[0].fix  # same torch, a CUDA the driver fully supports


def test_rtx_5090_on_a_driver_without_cuda_12_8_needs_a_driver_update() -> None:
    gpu = gpus("NVIDIA GeForce RTX 5090", (12, 0), "550.54.14", "12.4")
    findings = torch_findings(gpu, probe("2.5.1+cu124", "12.4", CU124_ARCHS, available=False), PY, "2.5.1", "musubi-tuner")
    assert ("ENV_TORCH_ARCH_UNSUPPORTED", "block") in codes(findings)
    assert "570.26 or newer" in findings[0].fix


def test_cpu_only_build_and_old_torch_and_missing_torch() -> None:
    gpu = gpus("NVIDIA GeForce RTX 4090", (8, 9), "570.124.06", "12.8")
    cpu = torch_findings(gpu, probe("2.7.1+cpu", None, [], available=False), PY, "2.5.1", "musubi-tuner")
    assert codes(cpu) == [("ENV_TORCH_CPU_ONLY", "block")] and "whl/cu128" in cpu[0].fix
    old = torch_findings(gpu, probe("2.4.1+cu124", "12.4", CU124_ARCHS), PY, "2.6.0", "sd-scripts")
    assert codes(old) == [("ENV_TORCH_TOO_OLD", "block")] and "torch==2.6.0 torchvision==0.21.0" in old[0].fix
    missing = ProbeResult(interpreter=PY, ran=True, torch=TorchInfo(installed=False, error="ModuleNotFoundError: No module named 'torch'"))
    assert codes(torch_findings(gpu, missing, PY, "2.5.1", "musubi-tuner")) == [("ENV_TORCH_MISSING", "block")]


def test_gpu_present_but_torch_cannot_use_it_says_why() -> None:
    gpu = gpus("NVIDIA H100 80GB HBM3", (9, 0), "570.124.06", "12.8")
    result = probe("2.7.1+cu128", "12.8", CU128_ARCHS, available=False)
    result.torch.warnings = ["CUDA initialization: Unexpected error from cudaGetDeviceCount()"]
    findings = torch_findings(gpu, result, PY, "2.5.1", "musubi-tuner")
    assert codes(findings) == [("ENV_TORCH_NO_CUDA", "block")]
    assert "cudaGetDeviceCount" in findings[0].message
    hidden = probe("2.7.1+cu128", "12.8", CU128_ARCHS, available=False, cuda_visible_devices="")
    assert "CUDA_VISIBLE_DEVICES" in torch_findings(gpu, hidden, PY, "2.5.1", "musubi-tuner")[0].fix


def test_bf16_plan_on_a_t4_blocks() -> None:
    gpu = gpus("Tesla T4", (7, 5), "570.124.06", "12.8")
    findings = torch_findings(gpu, probe("2.7.1+cu128", "12.8", CU128_ARCHS), PY, "2.6.0", "sd-scripts", mixed_precision="bf16")
    assert codes(findings) == [("ENV_BF16_UNSUPPORTED", "block")]


def test_torchvision_from_another_release() -> None:
    broken = probe("2.7.1+cu128", "12.8", CU128_ARCHS, dists={"torchvision": "0.20.1"}, imports={"torchvision": ImportResult(ok=False, error="RuntimeError: operator torchvision::nms does not exist")})
    findings = torchvision_findings(broken, PY, None)
    assert codes(findings) == [("ENV_TORCHVISION_BROKEN", "block")]
    assert "torch==2.7.1 torchvision==0.22.1 --index-url https://download.pytorch.org/whl/cu128" in findings[0].fix
    odd = probe("2.7.1+cu128", "12.8", CU128_ARCHS, dists={"torchvision": "0.21.0"}, imports={"torchvision": ImportResult(ok=True)})
    assert codes(torchvision_findings(odd, PY, None)) == [("ENV_TORCHVISION_MISMATCH", "warn")]


@pytest.mark.parametrize(
    ("archs", "capability", "runs"),
    [
        (["sm_80", "sm_86", "sm_90"], (8, 9), True),  # same major, lower minor
        (["sm_80", "sm_86", "sm_90"], (12, 0), False),  # Blackwell needs sm_120
        (["sm_90a"], (9, 0), True),
        (["sm_90a"], (10, 0), False),
        (["sm_86", "compute_90"], (12, 0), True),  # PTX is compiled by the driver for newer GPUs
        (["sm_89"], (8, 6), False),  # code for a newer minor does not run on an older one
    ],
)
def test_binary_compatibility_rules(archs: list[str], capability: tuple[int, int], runs: bool) -> None:
    assert build_runs_on(archs, capability) is runs


def test_matrix_data_is_consistent() -> None:
    matrix = load_matrix()
    assert "{build}" in matrix.index_url
    for release in matrix.torch.values():
        for build in release.builds:
            cuda = f"{build[2:-1]}.{build[-1]}"
            assert cuda in matrix.cuda, f"{build} has no driver minimum"
    assert {a.capability for a in matrix.arch} >= {"12.0", "9.0", "8.9", "8.0"}


def test_recommendation_keeps_the_installed_version_when_it_has_a_fitting_build() -> None:
    fix = recommend_torch(PY, (12, 0), "12.9", "2.5.1", current="2.8.0+cu126")
    assert fix is not None and (fix.torch, fix.build) == ("2.8.0", "cu129")


def test_volta_on_torch_2_8_gets_the_cuda_12_6_build_that_still_has_its_code() -> None:
    """PyTorch 2.8's CUDA 12.8 wheels have no sm_70 code: reinstalling one on a V100 fixes nothing."""
    gpu = gpus("Tesla V100-SXM2-32GB", (7, 0), "570.124.06", "12.8")
    findings = torch_findings(gpu, probe("2.8.0+cu128", "12.8", CU128_ARCHS, available=False), PY, "2.8.0", "musubi-tuner")
    assert codes(findings)[0] == ("ENV_TORCH_ARCH_UNSUPPORTED", "block")
    assert "torch==2.8.0 torchvision==0.23.0 --index-url https://download.pytorch.org/whl/cu126" in findings[0].fix
    assert recommend_torch(PY, (7, 5), "12.9", "2.8.0").build == "cu129"  # Turing keeps the newest build
