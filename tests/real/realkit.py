"""The real trainers on this machine's CPU, driven through loragate's own console script.

SD_SCRIPTS_DIR / MUSUBI_TUNER_DIR name checkouts with their own virtual environment in `.venv`
(tests/real/setup-trainers.sh makes them from ../shared/trainers/). Weights are random, in the real
layouts, built by the scripts in builders/ with the trainer's own classes, inside its venv; the
tokenizers are derived offline (builders/offline_tokenizers.py). Plans are made with
LORAGATE_CPU_TRAINING=1, so the trainers run through `accelerate launch --cpu`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.media import write_caption, write_image

HERE = Path(__file__).parent
BUILDERS = HERE / "builders"
SETUP = "eval \"$(tests/real/setup-trainers.sh)\""
TRIGGER = "mira"
SEED = 1234
# A real step on 2 loaded cores takes up to a minute; model loading a few.
RUN_TIMEOUT_S = 1800


def trainer_dir(var: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    path = Path(value)
    return path if (path / ".venv" / "bin" / "python").exists() else None


def venv_python(checkout: Path) -> Path:
    return checkout / ".venv" / "bin" / "python"


def build(checkout: Path, script: str, *args: str, timeout: float = 1800) -> str:
    """Run a builder inside the trainer's venv, from its checkout (the trainer's own classes)."""
    done = subprocess.run([str(venv_python(checkout)), str(BUILDERS / script), *args], cwd=checkout, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def truncated(source: Path, target: Path, keep: int) -> Path:
    """The first `keep` bytes of a weights file: a download cut off."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read(keep))
    return target


def dataset(folder: Path, count: int = 2, captions: bool = True, size: int = 64) -> Path:
    for i in range(count):
        write_image(folder / f"img{i:02d}.png", size, size, seed=i)
        if captions:
            write_caption(folder / f"img{i:02d}.txt", f"{TRIGGER}, a photo, picture {i}")
    return folder


@dataclass
class Studio:
    """A workspace on this machine where loragate drives one real trainer."""

    workspace: Path
    checkout: Path
    hf_home: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, root: Path, checkout: Path, hf_home: Path, backend_var: str) -> Studio:
        workspace = root / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LORAGATE_", "HF_", "MUSUBI_", "SD_SCRIPTS_", "CLAUDE_", "FAKE_", "TRANSFORMERS_"))}
        env.update({
            "LORAGATE_ROOT": str(workspace),
            "LORAGATE_CACHE_DIR": str(root / "loragate-cache"),
            "LORAGATE_LOCK_DIR": str(root / "locks"),
            "LORAGATE_CPU_TRAINING": "1",
            "HF_HOME": str(hf_home),
            "HF_HUB_OFFLINE": "1",
            backend_var: str(checkout),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        })
        env.pop("COLUMNS", None)  # loragate must widen the trainers' console itself
        return cls(workspace=workspace, checkout=checkout, hf_home=hf_home, env=env)

    @property
    def python(self) -> Path:
        return venv_python(self.checkout)

    def project(self, name: str) -> Path:
        return self.workspace / "grimoire" / "training" / name

    def cli(self, *args: str, timeout: float = RUN_TIMEOUT_S, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        script = Path(sys.executable).parent / "loragate"
        return subprocess.run([str(script), *args], env={**self.env, **(env or {})}, cwd=self.workspace, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def cli_json(self, *args: str, timeout: float = RUN_TIMEOUT_S, env: dict[str, str] | None = None) -> tuple[int, Any]:
        done = self.cli(*args, "--json", timeout=timeout, env=env)
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError as exc:
            raise AssertionError(f"`loragate {' '.join(args)} --json` printed no JSON (exit {done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}") from exc

    def plan(self, name: str, model: str, data: Path, *extra: str, epochs: int = 2) -> dict[str, Any]:
        """`plan new` for a 64 px CPU run, then the schedule shortened in plan.json (as a person edits it)
        and Gate 2 run again on it. Returns the saved plan."""
        code, made = self.cli_json("plan", "new", name, "--model", model, "--dataset", str(data), "--trigger", TRIGGER,
                                   "--preset", "quick", "--gpu-gb", "80", "--trainer-dir", str(self.checkout),
                                   "--trainer-python", str(self.python), "--resolution", "64", "--optimizer", "AdamW",
                                   "--rank", "4", *extra)
        assert code in (0, 1), made
        return self.edit_plan(name, lambda p: p["schedule"].update(max_train_epochs=epochs, save_every_n_epochs=1,
                                                                   max_train_steps=None))

    def edit_plan(self, name: str, change: Any) -> dict[str, Any]:
        path = self.project(name) / "plan.json"
        plan = json.loads(path.read_text())
        change(plan)
        for subset in plan["dataset"]["subsets"]:
            subset["num_repeats"] = 1
        plan["dataset"]["num_repeats"] = 1
        path.write_text(json.dumps(plan, indent=2))
        code, gate2 = self.cli_json("plan", "check", name)
        assert code in (0, 1), gate2
        return json.loads(path.read_text())


def finding(report: dict[str, Any], code: str) -> dict[str, Any]:
    hit = next((f for f in report["findings"] if f["code"] == code), None)
    assert hit is not None, (code, [(f["code"], f["message"]) for f in report["findings"]])
    return hit


def rerun_gates(studio: Any, steps: list[dict[str, Any]]) -> None:
    """Run, through the CLI, each next step `continue` names (Gate 2, then a 2-step dry run)."""
    import shlex

    from loragate.cli.nextstep import command_line
    from loragate.core.nextstep import NextStep

    assert steps, "continue named no gate to run again"
    for step in steps:
        words = shlex.split(command_line(NextStep.model_validate(step)))
        assert words[0] == "loragate" and not any(w.isupper() for w in words), words  # nothing left to fill in
        code, _ = studio.cli_json(*words[1:] + (["--steps", "2"] if step["action"] == "dry_run" else []))
        assert code == 0, words
