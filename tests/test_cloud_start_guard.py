"""The start guard: what `cloud up` gives the instance to run at its start, run here against the
provider stand-ins. With no `cloud sync` it ends the instance with the instance's own key and says
why; when the sync mark appears it stands down; the account key goes nowhere."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.cloud.record import read_cloud, save_instance
from loragate.cloud.spend import approve_spend
from loragate.cloud.start_guard import _UNPACK, guard_program, program_in, runpod_start_command, vast_onstart
from loragate.cloud.status import cloud_status, down
from loragate.cloud.up import make_quote, up
from loragate.core.errors import LoragateError
from tests.cloud_fixtures import RUNPOD_KEY, VAST_KEY, cloud_env, make_plan  # noqa: F401 - fixture
from tests.fakes.cloud_api import _gql_string


def _no_wait(_: float) -> None:
    pass


def _rent(provider: str, gpu: str, idle: int | None = None):
    quote = make_quote("mira", provider, gpu, max_usd=30, idle_minutes=idle)  # type: ignore[arg-type]
    approve_spend(quote)
    result = up(quote, sleep=_no_wait)
    assert result.started
    return quote, result.record


def _start_guard(start: str, root: Path, env: dict[str, str]) -> subprocess.Popen:
    """Run the guard as the start command does (the same base64 word, the same unpacking), with only
    the pod's own variables: nothing of this computer's environment, the account key included."""
    encoded = start.split(f'"{_UNPACK}" ', 1)[1].split(" ", 1)[0].strip()
    return subprocess.Popen([sys.executable, "-c", _UNPACK, encoded], env={"LORAGATE_ROOT": str(root), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_runpod_pod_without_sync_ends_itself_with_its_own_key_and_status_says_why(workspace: Path, cloud_env, tmp_path: Path) -> None:  # noqa: F811
    make_plan(workspace)
    fake = cloud_env["runpod"]
    quote, record = _rent("runpod", "A100 80GB")
    assert quote.guard_minutes == 30 and "within 30 minutes" in quote.message and "your account key is not sent" in quote.message
    query = fake.state.instances[record.instance_id].body["query"]
    start = _gql_string(query, "dockerArgs") or ""
    # the pod runs the guard, then the image's own start (sshd and the rest)
    assert start.startswith("bash -c '") and "exec /start.sh" in start
    assert program_in(start) == guard_program("runpod", fake.url, "/workspace", 30 * 60)
    assert RUNPOD_KEY not in query and record.guard_minutes == 30 and record.synced_at is None

    short = runpod_start_command(guard_program("runpod", fake.url, "/workspace", 1.0, poll_s=0.1, retry_s=0.1))
    guard = _start_guard(start=short, root=tmp_path / "pod",
                         env={"RUNPOD_POD_ID": record.instance_id, "RUNPOD_API_KEY": fake.state.pod_keys[record.instance_id]})
    output, _ = guard.communicate(timeout=30)
    assert guard.returncode == 0, output
    assert fake.state.ended_by_pod_key == [record.instance_id]
    assert "machine terminated because no loragate cloud sync arrived within" in output
    assert "no `loragate cloud sync` within" in (tmp_path / "pod" / ".loragate" / "guard.log").read_text()

    # back at the laptop, 31 minutes later: status finds it gone and says it was the start guard
    record.started_at -= timedelta(minutes=31)
    save_instance(record)
    status = cloud_status()
    gone = read_cloud("mira").instances[0]
    assert gone.state == "terminated" and "start guard" in gone.note and "Nothing loragate started is billing" in status.message
    for text in (output, (workspace / "grimoire" / "studio.md").read_text(), (workspace / "grimoire" / "training" / "mira" / "cloud.json").read_text()):
        assert RUNPOD_KEY not in text and fake.state.pod_keys[record.instance_id] not in text


def test_the_guard_stands_down_when_the_sync_mark_appears(workspace: Path, cloud_env, tmp_path: Path) -> None:  # noqa: F811
    make_plan(workspace)
    fake = cloud_env["runpod"]
    _, record = _rent("runpod", "A100 80GB")
    root = tmp_path / "pod"
    short = runpod_start_command(guard_program("runpod", fake.url, "/workspace", 4.0, poll_s=0.1, retry_s=0.1))
    guard = _start_guard(short, root, {"RUNPOD_POD_ID": record.instance_id, "RUNPOD_API_KEY": fake.state.pod_keys[record.instance_id]})
    time.sleep(0.5)
    (root / ".loragate").mkdir(parents=True, exist_ok=True)
    (root / ".loragate" / "synced").touch()  # what `cloud sync` writes once the watchdog runs
    output, _ = guard.communicate(timeout=30)
    assert guard.returncode == 0 and "standing down" in output
    assert fake.state.instances[record.instance_id].state == "running" and fake.state.terminated == []


def test_a_pods_key_ends_only_that_pod(workspace: Path, cloud_env, tmp_path: Path) -> None:  # noqa: F811
    make_plan(workspace)
    fake = cloud_env["runpod"]
    _, record = _rent("runpod", "A100 80GB")
    short = runpod_start_command(guard_program("runpod", fake.url, "/workspace", 0.2, poll_s=0.1, retry_s=0.1))
    guard = _start_guard(short, tmp_path / "pod", {"RUNPOD_POD_ID": "pod-of-someone-else", "RUNPOD_API_KEY": fake.state.pod_keys[record.instance_id]})
    output, _ = guard.communicate(timeout=30)
    assert guard.returncode == 1 and "could not end it" in output and "gave up" in output
    assert fake.state.terminated == []


def test_vast_instance_gets_the_guard_as_onstart_and_destroys_itself(workspace: Path, cloud_env, tmp_path: Path) -> None:  # noqa: F811
    make_plan(workspace)
    fake = cloud_env["vast"]
    quote, record = _rent("vast", "RTX 4090", idle=45)
    body = fake.state.instances[record.instance_id].body
    assert quote.guard_minutes == 45 and record.guard_minutes == 45
    assert len(body["onstart"]) < 4048  # Vast cuts onstart there
    assert program_in(body["onstart"]) == guard_program("vast", fake.url, "/workspace", 45 * 60)
    assert VAST_KEY not in str(body)
    onstart = vast_onstart(guard_program("vast", fake.url, "/workspace", 0.5, poll_s=0.1, retry_s=0.1))
    guard = _start_guard(onstart, tmp_path / "pod", {"CONTAINER_ID": record.instance_id, "CONTAINER_API_KEY": fake.state.pod_keys[record.instance_id]})
    output, _ = guard.communicate(timeout=30)
    assert guard.returncode == 0 and "machine destroyed" in output, output
    assert fake.state.ended_by_pod_key == [record.instance_id]
    # `cloud down` afterwards finds it gone and says so instead of failing
    record.started_at -= timedelta(minutes=46)
    save_instance(record)
    ended = down("mira")
    assert [r.instance_id for r in ended.ended] == [record.instance_id] and "start guard" in ended.warnings[0]


def test_idle_minutes_are_part_of_the_yes_and_checked(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    with pytest.raises(LoragateError, match="idle_minutes must be at least 10"):
        make_quote("mira", "runpod", "A100 80GB", max_usd=30, idle_minutes=2)
    result = CliRunner().invoke(app, ["cloud", "up", "mira", "--provider", "runpod", "--gpu", "A100 80GB", "--max-usd", "30",
                                      "--idle-minutes", "60"], input="n\n")
    assert "within 60 minutes" in result.output and "Not rented" in result.output
    assert cloud_env["runpod"].state.instances == {}


def test_when_the_vast_instance_key_may_not_destroy_the_guard_stops_it_and_status_says_the_disk_bills(workspace: Path, cloud_env, tmp_path: Path) -> None:  # noqa: F811
    make_plan(workspace)
    fake = cloud_env["vast"]
    fake.state.pod_key_may_destroy = False
    _, record = _rent("vast", "RTX 4090")
    onstart = vast_onstart(guard_program("vast", fake.url, "/workspace", 0.2, poll_s=0.1, retry_s=0.1))
    guard = _start_guard(onstart, tmp_path / "pod", {"CONTAINER_ID": record.instance_id, "CONTAINER_API_KEY": fake.state.pod_keys[record.instance_id]})
    output, _ = guard.communicate(timeout=30)
    assert guard.returncode == 0 and "machine stopped (its disk still bills" in output, output
    assert fake.state.instances[record.instance_id].state == "stopped" and fake.state.terminated == []
    record.started_at -= timedelta(minutes=31)
    save_instance(record)
    status = cloud_status()
    assert "still bill" in status.message
    assert "stopped by its start guard" in read_cloud("mira").instances[0].note
