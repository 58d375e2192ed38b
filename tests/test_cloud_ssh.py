"""sync, env, dry-run, pull and the watchdog start over a real SSH server on 127.0.0.1.

The "pod" is this machine reached through sshd with a throwaway key; its /workspace is a temp
folder (the instance's remote_root) and its loragate is this virtual environment's.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from loragate.cloud.model import InstanceRecord, SshEndpoint
from loragate.cloud.record import save_instance
from loragate.cloud.remote import remote
from loragate.cloud.sync import PULLED_MARK, pull, sync
from loragate.gates.ledger import read_ledger
from loragate.workspace import project_dir
from tests.cloud_fixtures import make_plan
from tests.sshd_fixture import Sshd, sshd  # noqa: F401 - fixture


@pytest.fixture
def pod(workspace: Path, sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("LORAGATE_SSH_KEY", str(sshd.key))
    make_plan(workspace)
    root = tmp_path / "pod" / "workspace"
    root.mkdir(parents=True)
    save_instance(InstanceRecord(project="mira", provider="runpod", instance_id="podssh", gpu="A100 80GB", usd_per_hour=1.64,
                                 cap_usd=10, started_at=datetime.now(timezone.utc), state="running",
                                 ssh=SshEndpoint(host="127.0.0.1", port=sshd.port, user=sshd.user), remote_root=str(root),
                                 remote_loragate=str(Path(sys.executable).parent / "loragate")))
    return root


def test_sync_env_dry_run_and_pull_over_ssh(workspace: Path, pod: Path) -> None:
    result = sync("mira", install=False, start_watchdog=False)
    assert all(t.ok for t in result.transfers), result.transfers
    pod_record = pod / "grimoire" / "training" / "mira"
    assert sorted(p.name for p in (pod / "datasets" / "mira").glob("*.png")) == [f"mira{i:02d}.png" for i in range(4)]
    assert (pod_record / "plan.json").is_file() and not (pod_record / "cloud.json").exists()
    # again: nothing breaks, nothing is deleted, the artist's files are unchanged here
    before = {p: p.stat().st_mtime_ns for p in (workspace / "datasets" / "mira").iterdir()}
    assert all(t.ok for t in sync("mira", install=False, start_watchdog=False).transfers)
    assert {p: p.stat().st_mtime_ns for p in (workspace / "datasets" / "mira").iterdir()} == before

    env = remote("mira", "env")
    assert env.verdict in ("GO", "NO-GO") and env.result.get("verdict") == env.verdict
    # Gate 3 ran on the pod and its record came home: environment.md, env.json and the ledger entry
    local = project_dir("mira")
    assert (local / "environment.md").is_file() and json.loads((local / "env.json").read_text())["verdict"] == env.verdict
    # Gates 1-3 ran on the pod, on its copy of the dataset; the local ledger and plan stay this computer's
    pod_ledger = json.loads((local / "pod-gates.json").read_text())["latest"]
    assert pod_ledger["environment"]["verdict"] == env.verdict and pod_ledger["dataset"]["subject"]["dataset"] == str(pod / "datasets" / "mira")
    assert "environment" not in read_ledger("mira").latest and read_ledger("mira").latest.get("config") is not None
    assert json.loads((local / "plan.json").read_text())["dataset"]["path"] == str(workspace / "datasets" / "mira")

    started = remote("mira", "dry-run", steps=2)
    assert started.detached and started.exit_code is None and "detached" in started.message
    log = pod_record / "pod-dry-run.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "verdict" not in (log.read_text() if log.exists() else "") and "error" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.5)
    assert log.read_text().strip(), "the detached dry run wrote its log on the pod"

    # the trainer wrote a LoRA on the pod; pull brings it and the record home and marks the pod
    out = pod / "output" / "mira"
    out.mkdir(parents=True)
    (out / "mira-000001.safetensors").write_bytes(b"x" * 2048)
    (out / "sample").mkdir()
    (out / "sample" / "s1.png").write_bytes(b"png")
    pulled = pull("mira")
    assert all(t.ok for t in pulled.transfers) and pulled.files == ["mira-000001.safetensors"]
    assert (local / "output" / "sample" / "s1.png").read_bytes() == b"png"
    assert (local / "pod-dry-run.log").is_file()
    assert (pod_record / PULLED_MARK).exists()
    # the local rental records were not replaced by the pod's copies
    assert json.loads((local / "cloud.json").read_text())["instances"][0]["instance_id"] == "podssh"


def test_watchdog_starts_detached_on_the_pod_once(workspace: Path, pod: Path) -> None:
    from loragate.cloud.record import open_instance
    from loragate.cloud.sync import start_pod_watchdog

    record = open_instance("mira")
    (pod / "grimoire" / "training" / "mira").mkdir(parents=True)
    first = start_pod_watchdog(record, idle_minutes=30)
    pid_file = pod / "grimoire" / "training" / "mira" / ".watchdog.pid"
    try:
        assert "watchdog started" in first and pid_file.is_file()
        # the watchdog runs, so the start guard may stand down: its mark is on the pod and the record says when
        assert (pod / ".loragate" / "synced").is_file() and open_instance("mira").synced_at is not None
        time.sleep(2)  # long enough for a watchdog that cannot start to have died
        assert "already running" in start_pod_watchdog(record, idle_minutes=30)
        assert "ended" not in (pod / "grimoire" / "training" / "mira" / "watchdog.log").read_text()
    finally:
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_an_unreachable_pod_is_a_plain_error(workspace: Path, pod: Path) -> None:
    from loragate.cloud.record import open_instance
    from loragate.core.errors import LoragateError

    record = open_instance("mira")
    record.ssh = SshEndpoint(host="127.0.0.1", port=9, user=record.ssh.user)  # type: ignore[union-attr]
    save_instance(record)
    with pytest.raises(LoragateError, match="Could not connect") as caught:
        sync("mira", install=False, start_watchdog=False)
    assert "resumes" in (caught.value.fix or "")
