"""Gate 3 end to end: the report, environment.md, the ledger record and its staleness, both doors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.environment import gate3, resources
from loragate.environment.gate3 import check_environment
from loragate.gates.ledger import gate_status
from tests.envkit import H100, RTX_5090, fake_nvml, fake_trainer_python, fake_venv, make_checkout, use_nvml, wan_plan

GIB = 1024**3
runner = CliRunner()


@pytest.fixture
def machine(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An H100 pod: driver 570 (CUDA 12.8), musubi-tuner with its venv, tokenizer cached, room to spare."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    snapshot = tmp_path / "hf" / "hub" / "models--Wan-AI--Wan2.1-T2V-14B" / "snapshots" / "abc" / "google" / "umt5-xxl"
    snapshot.mkdir(parents=True)
    (snapshot / "tokenizer.json").write_text("{}")
    checkout = make_checkout(tmp_path / "trainers")
    monkeypatch.setenv("MUSUBI_TUNER_DIR", str(checkout))
    python = fake_venv(tmp_path / "trainers")
    fake_trainer_python(monkeypatch, checkout / "src", python=python)
    use_nvml(monkeypatch, fake_nvml([H100]))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=2000 * GIB, used=0, free=1500 * GIB))
    monkeypatch.setattr(resources, "read_meminfo", lambda: (200.0, 256.0))
    wan_plan(tmp_path, trainer_python=str(python))
    return checkout


def test_go_writes_environment_md_and_records_gate_3(machine: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_probe = gate3.run_probe
    monkeypatch.setattr(gate3, "run_probe", lambda *a, **k: calls.append(a[0]) or real_probe(*a, **k))
    report = check_environment("mira")
    assert report.verdict == "GO", [(f.code, f.message) for f in report.findings]
    assert len(calls) == 1  # the trainer's Python is asked once
    assert report.trainer.commit == "30c658c4f4b0bf05038b3346eff9670259b10fc7" and report.trainer.version == "0.3.4"
    assert report.torch is not None and report.torch.torch.version == "2.7.1+cu128"
    folder = workspace / "grimoire" / "training" / "mira"
    text = (folder / "environment.md").read_text()
    assert "**Gate 3: GO**" in text and "NVIDIA H100 80GB HBM3" in text and "2.7.1+cu128" in text
    assert json.loads((folder / "env.json").read_text())["verdict"] == "GO"
    state = gate_status("mira").gates[2]
    assert state.verdict == "GO" and state.current


def test_rerun_is_idempotent_and_leaves_no_partial_files(machine: Path, workspace: Path) -> None:
    first = check_environment("mira")
    second = check_environment("mira")
    assert (first.verdict, [f.code for f in first.findings]) == (second.verdict, [f.code for f in second.findings])
    folder = workspace / "grimoire" / "training" / "mira"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_no_gpu_is_a_recorded_no_go_not_a_crash(machine: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_nvml(monkeypatch, None)
    report = check_environment("mira")
    assert report.verdict == "NO-GO" and "ENV_NO_GPU" in [f.code for f in report.findings]
    assert "Gate 3: NO-GO" in (workspace / "grimoire" / "training" / "mira" / "environment.md").read_text()
    assert "said NO-GO: No NVIDIA GPU can be used here" in (gate_status("mira").gates[2].problem or "")


def test_rtx_5090_with_a_cu124_torch_gets_the_cu128_command(machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_nvml(monkeypatch, fake_nvml([RTX_5090], driver="570.124.06", cuda=12080))
    fake_trainer_python(
        monkeypatch, machine / "src", python=fake_venv(tmp_path / "trainers"),
        version="2.5.1+cu124", cuda="12.4", archs="sm_50,sm_60,sm_70,sm_75,sm_80,sm_86,sm_90", available="0",
    )
    report = check_environment("mira")
    arch = next(f for f in report.findings if f.code == "ENV_TORCH_ARCH_UNSUPPORTED")
    assert "pip install torch==2.7.1 torchvision==0.22.1 --index-url https://download.pytorch.org/whl/cu128" in arch.fix
    assert str(tmp_path / "trainers" / "venv" / "bin" / "python") in arch.fix  # into the trainer's venv, not loragate's


@pytest.mark.parametrize("change", ["commit", "gpu", "interpreter"])
def test_gate_3_goes_stale_when_the_machine_changes(machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: str) -> None:
    assert check_environment("mira").verdict == "GO"
    assert gate_status("mira").gates[2].current
    if change == "commit":
        (machine / ".git" / "refs" / "heads" / "main").write_text("f" * 40 + "\n")
    elif change == "gpu":
        use_nvml(monkeypatch, fake_nvml([RTX_5090]))
    else:
        monkeypatch.setenv("LORAGATE_TRAINER_PYTHON", str(fake_venv(tmp_path / "other")))
    state = gate_status("mira").gates[2]
    assert not state.current and "stale" in (state.problem or "") and "machine" in (state.problem or "")


def test_without_a_plan_nothing_is_written(machine: Path, workspace: Path) -> None:
    report = check_environment(backend="musubi")
    assert report.project is None and report.written == [] and report.weights is None
    assert not (workspace / "grimoire" / "training" / "mira" / "environment.md").exists()


def test_cli_exit_codes_and_json(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = runner.invoke(app, ["env", "--plan", "mira", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["verdict"] == "GO" and isinstance(data["findings"], list) and data["gpu"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    use_nvml(monkeypatch, None)
    bad = runner.invoke(app, ["env", "--plan", "mira"])
    assert bad.exit_code == 1 and "ENV_NO_GPU" in bad.stdout
    for argv in (["env"], ["env", "--plan", "nobody"], ["env", "--plan", "mira", "--backend", "sdscripts"]):
        cannot = runner.invoke(app, argv)
        assert cannot.exit_code == 2 and cannot.stdout == "", argv


@pytest.mark.anyio
async def test_mcp_validate_env(machine: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        annotations = tools["validate_env"].annotations
        assert annotations is not None and annotations.read_only_hint is False and annotations.destructive_hint is False
        result = await client.call_tool("validate_env", {"plan": "mira"})
        assert not result.is_error
        assert result.structured_content["verdict"] == "GO" and result.structured_content["trainer"]["version"] == "0.3.4"
        missing = await client.call_tool("validate_env", {})
    assert missing.is_error and "plan" in missing.content[0].text and "loragate env" not in missing.content[0].text
