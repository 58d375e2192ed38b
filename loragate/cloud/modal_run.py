"""`loragate cloud modal run` / `pull`: the data onto the app's Volume, the functions in order
(check, cache, then every training function at once), and the results back.

`modal run --detach` keeps the functions going if this computer sleeps; the local sequence runs
in its own session and writes `modal-run.json` as it goes, so closing the terminal stops nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from loragate.atomic import atomic_write_json
from loragate.cloud.carry import lightning_files
from loragate.cloud.modal_app import APP_FILE, write_modal_app
from loragate.cloud.sync import local_dataset
from loragate.core.errors import LoragateError
from loragate.plan.paths import PLATFORM_ROOTS
from loragate.plan.store import load_project_plan
from loragate.workspace import project_dir
from loragate.cloud.results import ModalPull, ModalRun, ModalStep  # noqa: F401 - also imported from here

STATE_FILE = "modal-run.json"
ROOT = PurePosixPath(PLATFORM_ROOTS["modal"])


def modal_cli() -> list[str]:
    try:
        import modal  # noqa: F401
    except ImportError:
        raise LoragateError("The modal package is not installed.", 'Install it with `pip install "loragate[cloud]"`, then `python -m modal setup`.') from None
    return [sys.executable, "-m", "modal"]


def on_volume(path: str) -> str:
    """A plan path under /root as the Volume sees it (the app links /root/<folder> to the Volume)."""
    p = PurePosixPath(path)
    return "/" + str(p.relative_to(ROOT)) if ROOT in p.parents else str(p)


def plan_steps(project: str) -> list[ModalStep]:
    app = write_modal_app(project)
    cli = modal_cli()
    plan = load_project_plan(project)
    upload = [
        ModalStep(name="upload dataset", argv=[*cli, "volume", "put", "--force", app.volume, str(local_dataset(project, plan)), on_volume(plan.dataset.path)]),
        ModalStep(name="upload record", argv=[*cli, "volume", "put", "--force", app.volume, str(project_dir(project)), f"/grimoire/training/{project}"]),
    ]
    upload += [ModalStep(name=f"upload {what}", argv=[*cli, "volume", "put", "--force", app.volume, str(local), on_volume(remote)])
               for what, remote, local in lightning_files(plan, str(ROOT))]
    functions = [ModalStep(name=f, argv=[*cli, "run", "--detach", f"{app.path}::{f}"]) for f in app.functions]
    return upload + functions


def run_steps(project: str, steps: list[ModalStep]) -> ModalRun:
    """Upload, check, cache, then all training functions at once; stop at the first failure."""
    folder = project_dir(project)
    log_path = folder / "modal-run.log"
    state = ModalRun(project=project, status="running", steps=steps, log=str(log_path), message="")
    with open(log_path, "a", encoding="utf-8") as log:
        sequential = [s for s in steps if not s.name.startswith(("run_", "train"))]
        together = [s for s in steps if s.name.startswith(("run_", "train"))]
        for step in sequential:
            if not _run_one(step, log, state, folder):
                return state
        procs = []
        for step in together:
            step.started_at = datetime.now(timezone.utc)
            procs.append((step, subprocess.Popen(step.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))
        atomic_write_json(folder / STATE_FILE, state)
        for step, proc in procs:
            step.exit_code, step.ended_at = proc.wait(), datetime.now(timezone.utc)
    failed = [s.name for s in steps if s.exit_code not in (0, None)]
    state.status = "failed" if failed else "complete"
    state.message = (f"Modal run of {project} failed at {', '.join(failed)}; see {log_path}." if failed else
                     f"Modal run of {project} finished. Next: `loragate cloud modal pull {project}`.")
    atomic_write_json(folder / STATE_FILE, state)
    return state


def _run_one(step: ModalStep, log, state: ModalRun, folder: Path) -> bool:
    step.started_at = datetime.now(timezone.utc)
    atomic_write_json(folder / STATE_FILE, state)
    step.exit_code = subprocess.run(step.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False).returncode
    step.ended_at = datetime.now(timezone.utc)
    if step.exit_code != 0:
        state.status = "failed"
        state.message = f"Modal step '{step.name}' failed (exit {step.exit_code}); see {state.log}."
        atomic_write_json(folder / STATE_FILE, state)
        return False
    return True


def modal_run(project: str, detach: bool = True) -> ModalRun:
    steps = plan_steps(project)
    folder = project_dir(project)
    if not detach:
        return run_steps(project, steps)
    state = ModalRun(project=project, status="starting", steps=steps, log=str(folder / "modal-run.log"),
                     message=f"Started the Modal run of {project} in the background; `loragate cloud modal status {project}` follows it.")
    atomic_write_json(folder / STATE_FILE, state)
    with open(folder / "modal-run.log", "a", encoding="utf-8") as log:
        subprocess.Popen([sys.executable, "-c", "from loragate.cli import main; main()", "cloud", "modal", "run", project, "--foreground"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    return state


def modal_status(project: str) -> ModalRun:
    path = project_dir(project) / STATE_FILE
    try:
        return ModalRun.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        raise LoragateError(f"{project} has no Modal run.", f"Start one with `loragate cloud modal run {project}`.") from None


def modal_pull(project: str) -> ModalPull:
    cli = modal_cli()
    plan = load_project_plan(project)
    folder = project_dir(project)
    volume = f"loragate-{project}"
    output = folder / "output"
    staging = folder / ".modal-pull"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for remote, name in ((on_volume(plan.output_dir), "output"), (f"/grimoire/training/{project}", "record")):
        done = subprocess.run([*cli, "volume", "get", "--force", volume, remote, str(staging / name)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LoragateError(f"Could not download {remote} from the Modal volume {volume}: {done.stderr.strip()[-300:]}",
                                "Check `python -m modal volume ls " + volume + "`; run pull again.")
    shutil.copytree(staging / "output", output, dirs_exist_ok=True)
    for item in (staging / "record").rglob("*"):
        if item.is_file() and item.name not in ("cloud.json", APP_FILE):
            dest = folder / item.relative_to(staging / "record")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, dest)
    shutil.rmtree(staging, ignore_errors=True)
    files = sorted(str(p.relative_to(output)) for p in output.rglob("*.safetensors"))
    return ModalPull(project=project, files=files, message=(
        f"Pulled {len(files)} LoRA file(s) into {output}. Modal stops containers when functions return; the volume {volume} "
        f"keeps its data (and may bill for it) until you delete it: `python -m modal volume delete {volume}`."))
