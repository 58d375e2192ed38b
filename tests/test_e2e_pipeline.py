"""The whole product as an artist's session drives it: audit, plan, environment, dry run, gates,
launch, monitor to the end, then a caption edit that locks the launch again.

Through the installed `loragate` console script in subprocesses (SDXL from a kohya `10_name`
folder; Wan 2.2 T2V with both experts at once) and once through the MCP tools in memory. No GPU:
tests/e2ekit.py builds the machine (fake NVML, the trainer stand-ins, header-only weights).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from loragate.cli.nextstep import command_line
from loragate.core.nextstep import NextStep
from tests.e2ekit import H100, RTX_4090, Machine, make_machine, wait_until
from tests.media import write_caption, write_image

# Runs in the default `pytest` like everything else; `-m "not slow"` leaves it out locally.
pytestmark = pytest.mark.slow

TRIGGER = "mira woman"
# Long enough for a few monitor polls while it runs, short enough to keep the file fast.
STEP_SECONDS = 0.002


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[list[Machine]]:
    made: list[Machine] = []
    yield made
    for machine in made:
        machine.kill_jobs()


def sdxl_machine(tmp_path: Path, machines: list[Machine]) -> tuple[Machine, Path]:
    machine = make_machine(tmp_path, "sdscripts", RTX_4090, step_seconds=STEP_SECONDS)
    machines.append(machine)
    data = machine.workspace / "datasets" / "mira"
    for i in range(3):
        write_image(data / "10_mira" / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / "10_mira" / f"img{i:02d}.txt", f"{TRIGGER}, photo {i}")
    return machine, data


def wan_machine(tmp_path: Path, machines: list[Machine]) -> tuple[Machine, Path]:
    machine = make_machine(tmp_path, "musubi", H100, step_seconds=STEP_SECONDS)
    machines.append(machine)
    data = machine.workspace / "datasets" / "mira"
    for i in range(3):
        write_image(data / "Images" / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / "Images" / f"img{i:02d}.txt", f"{TRIGGER}, photo {i}")
    return machine, data


def ok(done: Any, code: int = 0) -> Any:
    assert done.returncode == code, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def poll_monitor(machine: Machine, name: str, timeout: float = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`loragate monitor NAME --json` until COMPLETE; every report seen on the way."""
    seen: list[dict[str, Any]] = []

    def complete() -> dict[str, Any] | None:
        code, report = machine.cli_json("monitor", name)
        assert code in (0, 1), report
        seen.append(report)
        assert report["status"] in ("RUNNING", "COMPLETE"), (report["status"], report["cause"], report["fix"])
        return report if report["status"] == "COMPLETE" else None

    return wait_until(complete, timeout, interval=0.2), seen


def run_gates_and_launch(machine: Machine, name: str, data: Path, model: str, *plan_args: str) -> dict[str, Any]:
    """Gates 1-4 through the CLI, each GO; then the launch handle. Returns the dry-run report."""
    code, audit = machine.cli_json("audit", str(data.relative_to(machine.workspace)), "--trigger", TRIGGER, "--model", model,
                                   "--type", "character", "--name", name)
    assert (code, audit["verdict"]) == (0, "GO"), audit["findings"]
    code, plan = machine.cli_json("plan", "new", name, "--model", model, "--dataset", str(data), "--trigger", TRIGGER,
                                  "--preset", "quick", *plan_args)
    assert (code, plan["gate2"]["verdict"]) == (0, "GO"), plan["gate2"]["findings"]
    code, env = machine.cli_json("env", "--plan", name)
    assert (code, env["verdict"]) == (0, "GO"), [(f["code"], f["message"]) for f in env["findings"] if f["severity"] != "info"]
    assert env["gpu"]["gpus"][0]["name"] == json.loads(machine.env["LORAGATE_FAKE_NVML"])[0]["name"]
    code, dry = machine.cli_json("dry-run", name, "--steps", "3")
    assert (code, dry["verdict"]) == (0, "GO"), dry["findings"]
    assert dry["steps_completed"] == 3 and dry["seconds_per_step"] and dry["seconds_per_step"] > 0
    unmeasured = next(f for f in dry["findings"] if f["code"] == "DRY_VRAM_NOT_MEASURED")
    assert "no NVIDIA driver" not in unmeasured["message"]  # the driver answered; it listed no process of ours
    code, gates = machine.cli_json("gates", name)
    assert code == 0 and gates["ready"], [g["problem"] for g in gates["gates"]]

    started = time.monotonic()
    code, handle = machine.cli_json("launch", name)
    assert time.monotonic() - started < 10, "launch must hand back a job handle at once, not wait for the training"
    assert code == 0 and handle["status"] in ("starting", "running") and handle["job_id"], handle
    return dry


def assert_caption_edit_locks_the_launch(machine: Machine, name: str, caption: Path) -> None:
    caption.write_text(f"{TRIGGER}, photo 0, now in a red coat", encoding="utf-8")
    gates = ok(machine.cli("gates", name), 1).stdout
    assert "stale" in gates
    refused = machine.cli("launch", name)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "Gate 1" in refused.stderr and "loragate audit" in refused.stderr, refused.stderr


def test_sdxl_kohya_folder_from_audit_to_a_trained_lora(tmp_path: Path, machines: list[Machine]) -> None:
    machine, data = sdxl_machine(tmp_path, machines)
    dry = run_gates_and_launch(machine, "mira", data, "sdxl", "--gpu-gb", "24")
    assert [s["stage"] for s in dry["steps"]] == ["train"]
    final, seen = poll_monitor(machine, "mira")
    assert final["step"] == final["total_steps"] and final["total_steps"] > 3
    output = machine.workspace / "output" / "mira"
    assert (output / "mira.safetensors").is_file()
    assert [c["file"] for c in final["checkpoints"] if c["kind"] == "final"] == ["mira.safetensors"]
    progress = (machine.workspace / "grimoire" / "training" / "mira" / "progress.md").read_text()
    assert "COMPLETE" in progress and "mira.safetensors" in progress
    assert_caption_edit_locks_the_launch(machine, "mira", data / "10_mira" / "img00.txt")
    # the commands `loragate gates` names, run as printed, make it ready again
    _, gates = machine.cli_json("gates", "mira")
    todo = [command_line(NextStep.model_validate(g["next"])) for g in gates["gates"] if not g["current"] and g["required_for_launch"]]
    assert todo == [f"loragate audit {data} --trigger 'mira woman' --model sdxl --type character --name mira", "loragate dry-run mira"]
    for command in todo:
        ok(machine.cli(*shlex.split(command)[1:]))
    assert machine.cli_json("gates", "mira")[1]["ready"]


def test_wan22_both_experts_at_once_from_audit_to_two_loras(tmp_path: Path, machines: list[Machine]) -> None:
    machine, data = wan_machine(tmp_path, machines)
    dry = run_gates_and_launch(machine, "wan", data, "wan2.2-t2v-a14b", "--gpu-gb", "80", "--together", "--resolution", "256")
    assert [(s["stage"], s["expert"]) for s in dry["steps"]] == [
        ("cache_latents", None), ("cache_text_encoder", None), ("train", "high"), ("train", "low")]
    final, seen = poll_monitor(machine, "wan")
    assert {s["expert"]: s["status"] for s in final["streams"]} == {"high": "COMPLETE", "low": "COMPLETE"}
    assert final["step"] == final["total_steps"] == sum(s["total_steps"] for s in final["streams"])
    output = machine.workspace / "output" / "wan"
    assert (output / "wan_high.safetensors").is_file() and (output / "wan_low.safetensors").is_file()
    job = json.loads((machine.workspace / "grimoire" / "training" / "wan" / "job.json").read_text())
    trains = [p for p in job["processes"] if p["role"].startswith("train")]
    assert len(trains) == 2 and all(p["exit_code"] == 0 for p in trains)
    starts = sorted(p["started_at"] for p in trains)
    ends = sorted(p["ended_at"] for p in trains)
    assert starts[1] < ends[0], "the two experts must train at the same time"
    assert (machine.workspace / "grimoire" / "training" / "wan" / "progress.md").is_file()
    assert_caption_edit_locks_the_launch(machine, "wan", data / "Images" / "img01.txt")


@pytest.mark.anyio
async def test_the_same_session_through_the_mcp_tools(tmp_path: Path, machines: list[Machine], monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client
    from mcp.types import ElicitResult

    from loragate.environment import resources
    from mcp_server.server import build_server

    machine, data = sdxl_machine(tmp_path, machines)
    machine.apply(monkeypatch)
    monkeypatch.chdir(machine.workspace)
    # the server runs in this process, where the fake host's start-up hook did not run
    monkeypatch.setattr(resources, "read_meminfo", lambda: (230.4, 256.0))
    asked: list[str] = []

    async def confirm(context, params):  # noqa: ANN001, ANN202
        asked.append(params.message)
        return ElicitResult(action="accept", content={"proceed": True})

    async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, args)
        assert not result.is_error, (tool, result.content)
        return result.structured_content

    async with Client(build_server(), elicitation_callback=confirm) as client:
        audit = await call(client, "audit_dataset", {"dataset": "datasets/mira", "trigger": TRIGGER, "model": "sdxl",
                                                     "training_type": "character", "name": "mira"})
        assert audit["verdict"] == "GO"
        plan = await call(client, "generate_config", {"name": "mira", "model": "sdxl", "dataset": "datasets/mira",
                                                      "trigger": TRIGGER, "preset": "quick", "gpu_gb": 24})
        assert plan["gate2"]["verdict"] == "GO"
        assert (await call(client, "validate_env", {"plan": "mira"}))["verdict"] == "GO"
        dry = await call(client, "dry_run", {"project": "mira", "steps": 3})
        assert dry["verdict"] == "GO" and dry["seconds_per_step"] > 0
        assert (await call(client, "gate_status", {"project": "mira"}))["ready"] is True
        launched = await call(client, "launch", {"project": "mira"})
        assert launched["launched"] is True and len(asked) == 1

        async def complete() -> dict[str, Any] | None:
            report = await call(client, "monitor", {"project": "mira"})
            assert report["status"] in ("RUNNING", "COMPLETE"), report["cause"]
            return report if report["status"] == "COMPLETE" else None

        deadline = time.monotonic() + 30
        final = None
        while final is None and time.monotonic() < deadline:
            final = await complete()
            if final is None:
                import anyio

                await anyio.sleep(0.2)
        assert final is not None, "the training did not complete within 30 s"
        assert (machine.workspace / "output" / "mira" / "mira.safetensors").is_file()

        (data / "10_mira" / "img02.txt").write_text(f"{TRIGGER}, photo 2, edited", encoding="utf-8")
        refused = await client.call_tool("launch", {"project": "mira"})
        assert refused.is_error and "Gate 1" in refused.content[0].text and len(asked) == 1
    assert os.environ["LORAGATE_ROOT"] == str(machine.workspace)
