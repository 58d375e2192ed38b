"""Where one stage hands over to the next: what the end-to-end runs showed going wrong there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from loragate.catalog.models import get_family
from loragate.runs.job import read_job, write_job
from loragate.runs.monitor import monitor
from tests.monitor_helpers import make_job, tqdm, train_argv
from tests.runs_fixtures import fakes_env  # noqa: F401 - the trainer stand-ins on PATH
from tests.test_env_gate3 import machine  # noqa: F401 - the H100 pod fixture of the Gate 3 tests


@pytest.fixture
def supervisor_pid() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_trainer_that_just_exited_is_not_lost_while_its_supervisor_records_it(workspace: Path, supervisor_pid: int) -> None:
    # The trainer has exited; its supervisor, polling, has not yet written the exit code.
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    log = workspace / "grimoire" / "training" / "p" / "train.log"
    log.parent.mkdir(parents=True)
    log.write_text("running training / 学習開始\n" + tqdm(100, 100, 0.08), encoding="utf-8")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": zombie.pid, "status": "running"}])
    job = read_job("p")
    assert job is not None
    zombie_state = ""
    for _ in range(100):
        zombie_state = Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if zombie_state == "Z":
            break
        subprocess.run([sys.executable, "-c", "pass"])  # give it time to exit, without reaping it
    assert zombie_state == "Z"
    job.supervisor_pid = supervisor_pid
    write_job(job)
    report = monitor("p")
    assert report.status == "RUNNING", report.cause
    job.supervisor_pid = None  # the supervisor is gone too: now the exit code is lost for good
    write_job(job)
    assert monitor("p").status == "FAILED"
    zombie.wait()


def test_a_caption_edit_names_only_the_dataset_as_changed(workspace: Path) -> None:
    from loragate.gates.ledger import gate_status
    from tests.runs_fixtures import pass_gates, wan_plan

    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    assert gate_status("mira").ready
    (Path(plan.dataset.path) / "Images" / "img00.txt").write_text("mira woman, photo 0, red coat", encoding="utf-8")
    problems = {s.gate: s.problem for s in gate_status("mira").gates if not s.current and s.required_for_launch}
    assert list(problems) == [1, 4]
    assert problems[4] == "Gate 4 (dry run) is stale: the dataset's files or captions changed after it was checked."


def test_gate_one_on_another_folder_does_not_count_for_the_plan(workspace: Path) -> None:
    from loragate.cli.nextstep import command_line
    from loragate.core.errors import LoragateError
    from loragate.gates.ledger import gate_status, record_gate
    from loragate.gates.standard import dataset_subject
    from loragate.runs.launch import launch
    from tests.runs_fixtures import pass_gates, wan_plan

    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    clean = workspace / "data" / "clean"
    clean.mkdir(parents=True)
    audited = dataset_subject(str(clean), ".txt", plan.trigger, plan.model, plan.training_type)
    record_gate("mira", 1, "GO", audited)  # audited the wrong folder
    state = gate_status("mira").gates[0]
    assert not state.current
    assert state.problem == f"Gate 1 (dataset) checked {clean}, but the plan trains on {plan.dataset.path}."
    assert command_line(state.next) == (
        f"loragate audit {plan.dataset.path} --trigger 'mira woman' --model wan2.1-t2v-1.3b --type character --name mira")
    with pytest.raises(LoragateError) as refused:
        launch("mira")
    assert "but the plan trains on" in refused.value.message and refused.value.next == state.next
    record_gate("mira", 1, "GO", {**audited, "dataset": plan.dataset.path, "caption_extension": ".caption"})
    assert "the .caption captions, but the plan trains with the .txt ones" in (gate_status("mira").gates[0].problem or "")


def _wan22_together(tmp_path: Path, together: bool):  # noqa: ANN202 - TrainingPlan
    from loragate.plan.store import save_plan
    from tests.envkit import wan_dit, wan_plan

    models = tmp_path / "models"
    high = wan_dit(models / "wan2.2_t2v_high_noise_14B_fp16.safetensors", dtype="F16")
    low = wan_dit(models / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dtype="F16")
    python = str(tmp_path / "trainers" / "venv" / "bin" / "python")  # the machine fixture's venv
    plan = wan_plan(tmp_path, weights={"expert:high": str(high), "expert:low": str(low)}, trainer_python=python, fp8_base=False)
    plan.experts_together = together
    save_plan(plan)
    return plan


def test_gate_3_counts_both_wan22_experts_trained_at_once(machine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.environment import resources
    from loragate.environment.gate3 import check_environment
    from tests.envkit import FakeCard, fake_nvml, use_nvml

    alone = resources.ram_need(_wan22_together(tmp_path, False), get_family("wan2.2-t2v-a14b"))
    together = resources.ram_need(_wan22_together(tmp_path, True), get_family("wan2.2-t2v-a14b"))
    assert alone and together and together[0] == pytest.approx(2 * alone[0], abs=0.2) and "2 trainings at once" in together[1]
    monkeypatch.setattr(resources, "read_meminfo", lambda: (1.5 * alone[0], 256.0))
    ram = next(f for f in check_environment("mira").findings if f.code == "ENV_RAM_SHORT")
    assert "2 trainings at once" in ram.message

    monkeypatch.setattr(resources, "read_meminfo", lambda: (200.0, 256.0))
    _wan22_together(tmp_path, False)
    one_run = check_environment("mira")
    assert one_run.verdict == "GO", [(f.code, f.message) for f in one_run.findings if f.severity == "block"]
    a6000 = FakeCard("NVIDIA RTX A6000", 47.99, 47.5, (8, 6))
    use_nvml(monkeypatch, fake_nvml([a6000]))
    assert check_environment("mira").verdict == "GO"  # one expert at a time fits a 48 GB card
    _wan22_together(tmp_path, True)
    small = next(f for f in check_environment("mira").findings if f.code == "ENV_GPU_TOO_SMALL")
    assert small.evidence["plan_gb"] > 48
    use_nvml(monkeypatch, fake_nvml([a6000, a6000]))  # launch gives each expert its own card
    assert "ENV_GPU_TOO_SMALL" not in [f.code for f in check_environment("mira").findings]


@pytest.mark.parametrize("driver", ["absent", "answers"])
def test_dry_run_says_why_gpu_memory_was_not_measured(fakes_env: Path, monkeypatch: pytest.MonkeyPatch, driver: str) -> None:
    from loragate.runs.dryrun import dry_run
    from tests.envkit import H100, fake_nvml, use_nvml
    from tests.runs_fixtures import wan_plan as runs_wan_plan

    runs_wan_plan(fakes_env)
    use_nvml(monkeypatch, None if driver == "absent" else fake_nvml([H100]))  # the fake lists no processes
    report = dry_run("mira", steps=2)
    note = next(f for f in report.findings if f.code == "DRY_VRAM_NOT_MEASURED")
    if driver == "absent":
        assert "no NVIDIA driver visible" in note.message and note.evidence["nvml_error"]
    else:
        assert "listed none of the trainer's processes" in note.message and "no NVIDIA driver" not in note.message


@pytest.mark.anyio
async def test_mcp_plan_uses_the_caption_extension_the_audit_checked(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server
    from tests.media import write_caption, write_image
    from tests.plan_helpers import fake_weights

    fake_weights(workspace, "sdxl")
    for i in range(3):
        write_image(workspace / "data" / "10_mira" / f"img{i}.png", 64, 64, seed=i)
        write_caption(workspace / "data" / "10_mira" / f"img{i}.caption", f"mira woman, photo {i}")
    async with Client(build_server()) as client:
        audit = await client.call_tool("audit_dataset", {"dataset": "data", "trigger": "mira woman", "model": "sdxl",
                                                         "name": "mira", "caption_extension": ".caption"})
        assert audit.structured_content["verdict"] == "GO"
        plan = await client.call_tool("generate_config", {"name": "mira", "model": "sdxl", "dataset": "data", "trigger": "mira woman",
                                                          "gpu_gb": 24, "caption_extension": ".caption", "rank": 8,
                                                          "weights": {"base_model": "models/base.safetensors"}})
        assert not plan.is_error, plan.content
        assert plan.structured_content["plan"]["dataset"]["caption_extension"] == ".caption"
        assert plan.structured_content["plan"]["network"]["dim"] == 8
        gates = await client.call_tool("gate_status", {"project": "mira"})
    assert gates.structured_content["gates"][0]["current"] is True
