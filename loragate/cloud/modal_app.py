"""`loragate cloud modal write`: a Modal app (`modal_app.py`) for a plan, on the modal 1.x API.

The image is the trainer's (the CUDA image for the card, the trainer cloned and installed, loragate
added with `Image.add_local_dir`); one Volume (`Volume.from_name(..., create_if_missing=True)`)
holds datasets, models, caches, outputs and the record, and each function `commit()`s it. One
function per stage (`check`: Gates 3 and 4; `cache`: the caching commands) and one per Wan 2.2
expert (`run_high`, `run_low`), so `modal run modal_app.py::run_high` and `::run_low` train both
at once on two GPUs. Timeouts come from the run-time estimate (Modal allows at most 24 hours).
"""

from __future__ import annotations

import math

from loragate.atomic import atomic_write_text
from loragate.cloud.prices import card, table_offers
from loragate.cloud.runtime import run_time
from loragate.cloud.sizing import image_for
from loragate.cloud.sync import source_root
from loragate.environment.trainer import trainer_facts
from loragate.core.errors import LoragateError
from loragate.plan.fit import SAFETY_MARGIN, estimate_gb
from loragate.plan.paths import PLATFORM_ROOTS
from loragate.plan.store import load_project_plan
from loragate.workspace import project_dir
from loragate.cloud.results import ModalApp  # noqa: F401 - also imported from here

APP_FILE = "modal_app.py"
VOLUME_MOUNT = "/vol"
MAX_TIMEOUT_S = 24 * 3600
STAGE_TIMEOUT_S = {"check": 2 * 3600, "cache": 2 * 3600}


def pick_gpu(project: str, gpu: str | None) -> str:
    """The Modal GPU name: the one asked for, else the cheapest of Modal's cards the plan fits."""
    plan = load_project_plan(project)
    need = estimate_gb(plan) * SAFETY_MARGIN
    offers = table_offers("modal")
    if gpu:
        chosen = next((o for o in offers if gpu in (o.provider_gpu, o.gpu)), None)
        if chosen is None:
            facts = card(gpu)
            if not facts or not facts.modal_gpu:
                raise LoragateError(f"Modal has no GPU {gpu!r} that loragate knows.", f"Use one of: {', '.join(o.provider_gpu for o in offers)}.")
            return facts.modal_gpu
        if chosen.memory_gb < need:
            raise LoragateError(f"The plan needs {need:.0f} GB with the margin; the {chosen.gpu} has {chosen.memory_gb:.0f} GB.", "Pick a larger GPU.")
        return chosen.provider_gpu
    fitting = sorted((o for o in offers if o.memory_gb >= need), key=lambda o: o.usd_per_hour)
    if not fitting:
        raise LoragateError(f"No Modal GPU holds this plan ({need:.0f} GB with the margin).", "Lower the memory settings with `loragate plan new`.")
    return fitting[0].provider_gpu


def write_modal_app(project: str, gpu: str | None = None) -> ModalApp:
    plan = load_project_plan(project)
    if plan.platform != "modal":
        raise LoragateError(f"The plan of {project} is for {plan.platform}, not Modal (its paths must be under /root).",
                            f"Make it for Modal: `loragate plan new {project} ... --platform modal`.")
    modal_gpu = pick_gpu(project, gpu)
    facts = card(modal_gpu)
    image = image_for(facts.name if facts else modal_gpu)
    hours = run_time(plan, facts.name if facts else modal_gpu).hours
    train_timeout = MAX_TIMEOUT_S if hours is None else min(MAX_TIMEOUT_S, int(math.ceil(hours * 1.5 * 3600 / 60) * 60))
    stages = {"cache": [c.argv for c in plan.commands if c.stage != "train"]}
    trains = [c for c in plan.commands if c.stage == "train"]
    runs = {f"run_{c.expert}": c.argv for c in trains if c.expert} or {"train": trains[0].argv if trains else []}
    app_name = f"loragate-{project}"
    volume = f"loragate-{project}"
    timeouts = {**STAGE_TIMEOUT_S, **{name: train_timeout for name in runs}}
    text = render(project, app_name, volume, modal_gpu, image.modal, plan.backend, plan.trainer_dir or "", plan.trainer_python or "python",
                  str(source_root()), stages["cache"], runs, timeouts)
    path = project_dir(project) / APP_FILE
    atomic_write_text(path, text)
    commands = [f"python -m modal run {path}::{name}" for name in ["check", "cache", *runs]]
    together = " and ".join(f"`::{n}`" for n in runs)
    return ModalApp(project=project, path=str(path), app_name=app_name, volume=volume, gpu=modal_gpu, functions=["check", "cache", *runs],
                    timeouts_s=timeouts, commands=commands,
                    message=(f"Wrote {path}: {modal_gpu}, volume {volume}, training timeout {train_timeout / 3600:.1f} h. "
                             f"Run `loragate cloud modal run {project}` (check, cache, then {together} at once)."))


def render(project: str, app_name: str, volume: str, gpu: str, base_image: str, backend: str, trainer_dir: str,
           trainer_python: str, loragate_src: str, cache: list[list[str]], runs: dict[str, list[str]], timeouts: dict[str, int]) -> str:
    root = PLATFORM_ROOTS["modal"]
    venv = trainer_python.rsplit("/bin/", 1)[0] if "/bin/" in trainer_python else ""
    install = (f"python -m venv {venv} && {venv}/bin/pip install -e {trainer_dir}" if venv else f"pip install -e {trainer_dir}")
    functions = "\n".join(_train_function(name, argv, timeouts[name]) for name, argv in runs.items())
    return f'''"""Modal app for the loragate project {project!r}, written by `loragate cloud modal write`.

Run it with `loragate cloud modal run {project}`, or by hand:
  python -m modal run modal_app.py::check      # Gates 3 and 4 on {gpu}
  python -m modal run modal_app.py::cache      # latent and text-encoder caches
{chr(10).join(f"  python -m modal run modal_app.py::{n}" for n in runs)}
Re-write it after any change to the plan; edits by hand are lost.
"""

import os
import subprocess

import modal

PROJECT = {project!r}
ROOT = {root!r}
VOLUME_MOUNT = {VOLUME_MOUNT!r}
# The plan's folders under {root} live on the Volume, so they survive between functions.
FOLDERS = ("datasets", "models", "cache", "output", "grimoire")
CACHE_COMMANDS = {cache!r}

app = modal.App({app_name!r})
volume = modal.Volume.from_name({volume!r}, create_if_missing=True)
image = (
    modal.Image.from_registry({base_image!r})
    .apt_install("git")
    .run_commands("git clone --depth 1 {trainer_facts(backend).repository} {trainer_dir}", {install!r})
    .add_local_dir({loragate_src!r}, "/opt/loragate-src", copy=True,
                   ignore=[".venv", ".git", "grimoire", "tests", "benchmarks", "**/__pycache__"])
    .run_commands("pip install /opt/loragate-src")
    .env({{"LORAGATE_ROOT": ROOT, "HF_HOME": ROOT + "/models/hf"}})
)
SETTINGS = dict(image=image, gpu={gpu!r}, volumes={{VOLUME_MOUNT: volume}})


def _link_folders():
    for name in FOLDERS:
        os.makedirs(os.path.join(VOLUME_MOUNT, name), exist_ok=True)
        if not os.path.lexists(os.path.join(ROOT, name)):
            os.symlink(os.path.join(VOLUME_MOUNT, name), os.path.join(ROOT, name))


def _run(argv, log=None):
    out = open(log, "a") if log else None
    try:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT if out else None).returncode
    finally:
        if out:
            out.close()
        volume.commit()


@app.function(timeout={timeouts["check"]}, **SETTINGS)
def check():
    """Gates 3 and 4 on this image and GPU type."""
    _link_folders()
    env = _run(["loragate", "env", "--plan", PROJECT])
    dry = _run(["loragate", "dry-run", PROJECT]) if env == 0 else env
    return {{"gate3_exit": env, "gate4_exit": dry}}


@app.function(timeout={timeouts["cache"]}, **SETTINGS)
def cache():
    """The plan's caching commands, in order."""
    _link_folders()
    for argv in CACHE_COMMANDS:
        code = _run(argv, os.path.join(ROOT, "grimoire", "training", PROJECT, "modal-cache.log"))
        if code != 0:
            return {{"exit": code, "argv": argv}}
    return {{"exit": 0}}


def _train(name, argv):
    _link_folders()
    volume.reload()
    if _run(["loragate", "env", "--plan", PROJECT]) != 0:
        return {{"exit": None, "refused": "Gate 3 said NO-GO in this container"}}
    from loragate.cloud.modal_gates import require_modal_gates

    require_modal_gates(PROJECT)
    return {{"exit": _run(argv, os.path.join(ROOT, "grimoire", "training", PROJECT, "modal-" + name + ".log"))}}

{functions}
'''


def _train_function(name: str, argv: list[str], timeout: int) -> str:
    return (f"\n@app.function(timeout={timeout}, **SETTINGS)\ndef {name}():\n"
            f'    """Train ({name}) once the gates pass in this container."""\n'
            f"    return _train({name!r}, {argv!r})\n")
