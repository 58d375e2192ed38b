"""`cloud sync` and `cloud pull`: the dataset, the plan's record and loragate up to the pod;
the LoRA, checkpoints, samples, logs and the record back into the local grimoire.

Both directions resume where a dropped connection left them and never delete anything on either
side. The plan must be made for a pod (`--platform runpod`, paths under /workspace): the pod
folder that stands for /workspace is the instance's `remote_root`.

The gates that launch checks on the pod are the pod's: its copy of the plan names the pod's
dataset folder, and `cloud env` runs Gates 1-3 there. The pod's plan and ledger therefore never
replace the local ones on the way back; the pod's ledger comes home as `pod-gates.json`.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from loragate.atomic import atomic_write_json
from loragate.cloud.carry import lightning_files
from loragate.cloud.model import InstanceRecord
from loragate.cloud.record import open_instance, save_instance
from loragate.cloud.ssh import rsync_argv, run, ssh_argv
from loragate.cloud.start_guard import GUARD_FOLDER, SYNCED_MARK
from loragate.core.errors import LoragateError
from loragate.core.plan import TrainingPlan
from loragate.plan.paths import PLATFORM_ROOTS, on_platform
from loragate.plan.store import load_project_plan
from loragate.workspace import grimoire_dir, project_dir, workspace_root
from loragate.cloud.results import PullResult, SyncResult, Transfer  # noqa: F401 - also imported from here

POD_ROOT = PLATFORM_ROOTS["runpod"]
# Local state about the rental itself stays local: a copy on the pod would come back stale.
LOCAL_ONLY = ("cloud.json", "*.lock", ".rsync-partial")
# What each side judges for itself: the plan names that side's dataset folder, the ledger that side's gates.
EACH_SIDES_OWN = ("plan.json", "gates.json", "dataset.toml", "modal_app.py")
POD_LEDGER = "pod-gates.json"
SOURCE_SKIP = (".venv", ".git", "__pycache__", "*.pyc", "grimoire", "tests", "benchmarks", ".rsync-partial")
PULLED_MARK = ".results-pulled"
TRANSFER_TIMEOUT_S = 6 * 3600


def on_pod(record: InstanceRecord, path: str) -> str:
    """A plan path under /workspace as the pod's folder (they differ only when remote_root is moved)."""
    p = PurePosixPath(path)
    if p == PurePosixPath(POD_ROOT) or PurePosixPath(POD_ROOT) in p.parents:
        return str(PurePosixPath(record.remote_root) / p.relative_to(POD_ROOT))
    return path


def pod_loragate(record: InstanceRecord) -> str:
    return record.remote_loragate or str(PurePosixPath(record.remote_root) / ".loragate" / "venv" / "bin" / "loragate")


def pod_env(record: InstanceRecord) -> dict[str, str]:
    return {"LORAGATE_ROOT": record.remote_root}


def _pod_plan(project: str) -> TrainingPlan:
    plan = load_project_plan(project)
    if plan.platform == "local":
        raise LoragateError(f"The plan of {project} names this computer's folders, not a pod's.",
                            f"Make it for the pod: `loragate plan new {project} ... --platform runpod` (paths under /workspace).")
    return plan


def local_dataset(project: str, plan: TrainingPlan) -> Path:
    """The folder on this computer that becomes the plan's dataset on the pod (the plan keeps the
    folder it was made from; a plan made on the pod names the pod's, which stands for one here)."""
    if Path(plan.dataset.path).is_dir():
        return Path(plan.dataset.path)
    pod = PurePosixPath(plan.dataset.path)
    if PurePosixPath(POD_ROOT) in pod.parents:
        candidate = workspace_root() / pod.relative_to(POD_ROOT)
        if candidate.is_dir():
            return candidate
    raise LoragateError(f"The dataset for {project} was not found on this computer.",
                        f"Run Gate 1 on it here first: `loragate audit DATASET --name {project}`.")


def _transfer(record: InstanceRecord, what: str, source: str, dest: str, excludes: tuple[str, ...] = ()) -> Transfer:
    done = run(rsync_argv(record, source, dest, excludes), timeout=TRANSFER_TIMEOUT_S, what=f"the pod ({what})")
    return Transfer(what=what, source=source, dest=dest, ok=done.returncode == 0, detail=done.stderr.strip()[-300:])


def _mkdirs(record: InstanceRecord, folders: list[str]) -> None:
    done = run(ssh_argv(record, ["mkdir", "-p", *folders]), timeout=60)
    if done.returncode != 0:
        raise LoragateError(f"Could not create folders on the pod: {done.stderr.strip()[-300:]}", "Check the pod's disk with `loragate cloud env NAME`.")


def source_root() -> Path:
    """The loragate distribution this computer runs (a checkout with pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise LoragateError("loragate is not running from a source checkout, so it cannot be copied to the pod.",
                            "Install loragate on the pod yourself (pip install from the same source), then run sync again.")
    return root


def sync(project: str, install: bool = True, start_watchdog: bool = True, idle_minutes: int = 30) -> SyncResult:
    """Dataset, project record and loragate to the pod; install loragate there; start the watchdog."""
    record = open_instance(project)
    plan = _pod_plan(project)
    dataset = local_dataset(project, plan)
    pod_record = on_pod(record, f"{POD_ROOT}/grimoire/training/{project}")
    pod_dataset = on_pod(record, on_platform(dataset, plan.platform))
    pod_source = str(PurePosixPath(record.remote_root) / ".loragate" / "src")
    _mkdirs(record, [pod_record, pod_dataset, pod_source])
    transfers = [
        _transfer(record, "dataset", f"{dataset}/", f":{pod_dataset}/", (".rsync-partial",)),
        _transfer(record, "project record", f"{project_dir(project)}/", f":{pod_record}/", LOCAL_ONLY + ("plan.json", "gates.json")),
        _send_pod_plan(record, plan, pod_dataset, pod_record),
    ]
    carried = lightning_files(plan, POD_ROOT)
    if carried:
        _mkdirs(record, sorted({str(PurePosixPath(on_pod(record, remote)).parent) for _, remote, _ in carried}))
        transfers += [_transfer(record, what, str(local), f":{on_pod(record, remote)}") for what, remote, local in carried]
    eye = grimoire_dir() / "eye.md"
    if eye.is_file():
        transfers.append(_transfer(record, "taste notes", str(eye), f":{on_pod(record, POD_ROOT + '/grimoire')}/"))
    installed = False
    if install:
        transfers.append(_transfer(record, "loragate", f"{source_root()}/", f":{pod_source}/", SOURCE_SKIP))
        venv = str(PurePosixPath(record.remote_root) / ".loragate" / "venv")
        step = run(ssh_argv(record, ["sh", "-c", 'python3 -m venv "$1" && "$1/bin/pip" install -q "$2"', "install", venv, pod_source]), timeout=1800)
        installed = step.returncode == 0
        if not installed:
            transfers.append(Transfer(what="install loragate", source=pod_source, dest=venv, ok=False, detail=step.stderr.strip()[-300:]))
    watchdog = start_pod_watchdog(record, idle_minutes) if start_watchdog else None
    failed = [t.what for t in transfers if not t.ok]
    message = (f"Sent to {record.provider} {record.instance_id}: " + ", ".join(t.what for t in transfers if t.ok) + "."
               + (f" Failed: {', '.join(failed)} (run sync again: it resumes)." if failed else f" Next: `loragate cloud env {project}`."))
    return SyncResult(project=project, transfers=transfers, installed=installed, watchdog=watchdog, message=message)


def _send_pod_plan(record: InstanceRecord, plan: TrainingPlan, pod_dataset: str, pod_record: str) -> Transfer:
    """The plan as the pod judges it: the same plan naming the pod's copy of the dataset."""
    pod_plan = plan.model_copy(deep=True)
    pod_plan.dataset.path = pod_dataset
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        atomic_write_json(path, pod_plan)
        return _transfer(record, "plan (naming the pod's dataset)", str(path), f":{pod_record}/plan.json")


def pull_record(record: InstanceRecord) -> list[Transfer]:
    """The pod's record of the project into the local one, its ledger as pod-gates.json."""
    pod_record = on_pod(record, f"{POD_ROOT}/grimoire/training/{record.project}")
    folder = project_dir(record.project)
    transfers = [_transfer(record, "project record", f":{pod_record}/", f"{folder}/", LOCAL_ONLY + EACH_SIDES_OWN)]
    ledger = run(ssh_argv(record, ["test", "-f", f"{pod_record}/gates.json"]), timeout=60)
    if ledger.returncode == 0:
        transfers.append(_transfer(record, "the pod's gate ledger", f":{pod_record}/gates.json", str(folder / POD_LEDGER)))
    return transfers


def start_pod_watchdog(record: InstanceRecord, idle_minutes: int) -> str:
    """Start (or find running) the watchdog on the pod, detached from this SSH session; once it
    runs, the start guard may stand down (its mark), and the record says when that happened."""
    argv = [pod_loragate(record), "cloud", "watchdog", record.project, "--provider", record.provider, "--instance", record.instance_id,
            "--price", f"{record.usd_per_hour * record.gpus:.4f}", "--cap", f"{record.cap_usd:.2f}",
            "--started", record.started_at.isoformat(), "--idle", str(idle_minutes), "--detach"]
    done = run(ssh_argv(record, argv, pod_env(record)), timeout=60)
    answer = (done.stdout.strip() or done.stderr.strip())[-300:]
    if done.returncode != 0:
        return answer + (f" The start guard still ends the pod {record.guard_minutes} minutes after its start: run sync again."
                         if record.guard_minutes and record.synced_at is None else "")
    folder = str(PurePosixPath(record.remote_root) / GUARD_FOLDER)
    marked = run(ssh_argv(record, ["sh", "-c", 'mkdir -p "$1" && touch "$1/$2"', "mark", folder, SYNCED_MARK]), timeout=60)
    if marked.returncode == 0 and record.synced_at is None:
        record.synced_at = datetime.now(timezone.utc)
        save_instance(record)
    return answer


def pull(project: str) -> PullResult:
    """The pod's record of the project and the plan's output folder into grimoire/training/NAME/."""
    record = open_instance(project)
    plan = _pod_plan(project)
    folder = project_dir(project)
    output = folder / "output"
    output.mkdir(parents=True, exist_ok=True)
    pod_record = on_pod(record, f"{POD_ROOT}/grimoire/training/{project}")
    transfers = pull_record(record) + [
        _transfer(record, "LoRA, checkpoints and samples", f":{on_pod(record, plan.output_dir)}/", f"{output}/", (".rsync-partial",)),
    ]
    files = sorted(str(p.relative_to(output)) for p in output.rglob("*.safetensors"))
    ok = all(t.ok for t in transfers)
    if ok:
        # tell the watchdog the results are safe here, so it may end the pod once training is over
        run(ssh_argv(record, ["touch", f"{pod_record}/{PULLED_MARK}"]), timeout=60)
    message = (f"Pulled {len(files)} LoRA file(s) into {output} and the pod's record into {folder}."
               if ok else "Some files did not come back: " + "; ".join(f"{t.what}: {t.detail}" for t in transfers if not t.ok)
               + " Run pull again: it resumes.")
    if ok:
        message += f" When you have what you need: `loragate cloud down {project}`."
    return PullResult(project=project, transfers=transfers, local_folder=str(folder), files=files, message=message)


def read_json(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
