"""The gates, launch and monitor, run by loragate on the pod over SSH.

`cloud env` runs Gates 1-3 on the pod: the audit of the pod's copy of the dataset (which also
proves the transfer), the plan check, and the environment, recorded with the pod as the machine.
The dry run and the launch are started detached from the SSH session (setsid, output to a log
in the project record), so a dropped connection stops nothing; `cloud monitor` reads them back.
Each command ends by pulling the project record, so the local grimoire shows what the pod saw.
"""

from __future__ import annotations

import shlex

from loragate.cloud.model import InstanceRecord
from loragate.cloud.record import open_instance
from loragate.cloud.ssh import run, ssh_argv
from loragate.cloud.sync import (
    POD_ROOT,
    local_dataset,
    on_pod,
    pod_env,
    pod_loragate,
    pull_record,
    read_json,
)
from loragate.plan.paths import on_platform
from loragate.plan.store import load_project_plan
from loragate.workspace import project_dir
from loragate.cloud.results import RemoteRun, RemoteStep  # noqa: F401 - also imported from here

DETACHED_LOG = "pod-{step}.log"


def pod_gate_commands(record: InstanceRecord) -> list[list[str]]:
    """Gates 1 and 2 as the pod must run them: on its copy of the dataset, for its copy of the plan."""
    project = record.project
    plan = load_project_plan(project)
    audit = ["audit", on_pod(record, on_platform(local_dataset(project, plan), plan.platform)), "--trigger", plan.trigger, "--model", plan.model,
             "--type", plan.training_type, "--name", project]
    if plan.dataset.caption_extension != ".txt":
        audit += ["--caption-ext", plan.dataset.caption_extension]
    return [audit, ["plan", "check", project]]


def remote(project: str, step: RemoteStep, steps: int = 5) -> RemoteRun:
    record = open_instance(project)
    loragate = pod_loragate(record)
    pod_record = on_pod(record, f"{POD_ROOT}/grimoire/training/{project}")
    if step == "dry-run":
        log = f"{pod_record}/{DETACHED_LOG.format(step=step)}"
        inner = shlex.join([loragate, "dry-run", project, "--steps", str(steps), "--json"])
        argv = ["setsid", "sh", "-c", f"{inner} > {shlex.quote(log)} 2>&1 < /dev/null &"]
        done = run(ssh_argv(record, argv, pod_env(record)), timeout=60)
        return RemoteRun(project=project, step=step, exit_code=None, detached=True, output=done.stderr.strip()[-500:],
                         message=(f"The dry run started on the pod, detached (log {log}); it takes minutes. "
                                  f"`loragate cloud monitor {project}` shows how it went." if done.returncode == 0 else
                                  f"The dry run did not start: {done.stderr.strip()[-300:]}"))
    words = {"env": ["env", "--plan", project, "--json"], "launch": ["launch", project, "--json"], "monitor": ["monitor", project, "--json"]}[step]
    earlier = ""
    if step == "env":
        for gate in pod_gate_commands(record):
            before = run(ssh_argv(record, [loragate, *gate], pod_env(record)), timeout=1800)
            earlier += f"`loragate {gate[0]}` on the pod: exit {before.returncode}. "
    done = run(ssh_argv(record, [loragate, *words], pod_env(record)), timeout=1800 if step == "env" else 300)
    pull_record(record)
    result = read_json(done.stdout)
    verdict = result.get("verdict") if isinstance(result.get("verdict"), str) else None
    status = result.get("status") if isinstance(result.get("status"), str) else None
    if step == "monitor":
        dry = _dry_run_state(project)
        if dry:
            result["dry_run"] = dry
    output = (done.stdout if not result else "") + done.stderr
    summary = result.get("summary") or result.get("message") or output.strip()[-300:] or f"exit code {done.returncode}"
    message = earlier + f"On the pod, `loragate {' '.join(words[:2])}`: {summary}"
    return RemoteRun(project=project, step=step, exit_code=done.returncode, verdict=verdict, status=status,
                     result=result, output=output.strip()[-2000:], message=message)


def _dry_run_state(project: str) -> dict:
    """The detached dry run's report once it has written one (pulled with the record)."""
    path = project_dir(project) / DETACHED_LOG.format(step="dry-run")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    report = read_json(text[text.find("{"):] if "{" in text else "")
    return {"verdict": report.get("verdict"), "summary": report.get("summary")} if report else {"log_tail": text[-500:]}
