"""A whole training machine for end-to-end tests, without a GPU: the `loragate` console script run
as a subprocess against trainer checkouts whose scripts are the stand-ins in tests/fakes/.

What each gate sees:
- Gate 3's GPU and RAM: tests/fakes/host/ first on loragate's PYTHONPATH: its pynvml answers
  with the cards in LORAGATE_FAKE_NVML (JSON), its sitecustomize points the RAM check at the
  meminfo file LORAGATE_FAKE_MEMINFO names (a training pod's 256 GB). Only the loragate processes
  a test starts see them.
- The trainer's Python: `venv/bin/python`, a shell wrapper that runs this interpreter with
  tests/fakes/site (torch, accelerate, transformers... at the pinned versions) and the checkout's
  `src/` on PYTHONPATH, as an installed venv would; `venv/bin/accelerate` beside it runs the
  accelerate stand-in under that wrapper, so the scripts inherit the same packages.
- The trainer: a checkout in a temporary folder with the real layout (marker files, a .git HEAD,
  pyproject or requirements.txt) whose scripts are symbolic links to the stand-ins.
- Weights: header-only safetensors with the real key names and shapes for the family.
- Tokenizers: a Hugging Face cache (HF_HOME) holding the tokenizer files the trainer loads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.envkit import wan_dit, wan_vae
from tests.media import write_safetensors_header
from tests.trainer_venvs import STAND_IN_PACKAGES, add_paths, make_venv

TESTS = Path(__file__).parent
FAKES = TESTS / "fakes"
FAKE_HOST = FAKES / "host"  # pynvml and the RAM the loragate processes see
FAKE_SITE = FAKES / "site"
COMMIT = "30c658c4f4b0bf05038b3346eff9670259b10fc7"

RTX_4090 = {"name": "NVIDIA GeForce RTX 4090", "total_gib": 23.99, "free_gib": 23.5, "capability": [8, 9]}
H100 = {"name": "NVIDIA H100 80GB HBM3", "total_gib": 79.65, "free_gib": 79.1, "capability": [9, 0]}

# The stand-in scripts each trainer's checkout holds, relative to its root.
SCRIPTS = {
    "musubi": ["wan_train_network.py", "wan_cache_latents.py", "wan_cache_text_encoder_outputs.py",
               "src/musubi_tuner/wan_train_network.py", "src/musubi_tuner/wan_cache_latents.py",
               "src/musubi_tuner/wan_cache_text_encoder_outputs.py"],
    "sdscripts": ["train_network.py", "sdxl_train_network.py", "flux_train_network.py"],
}
FOLDERS = {"musubi": "musubi-tuner", "sdscripts": "sd-scripts"}
# What each checkout asks its environment for (the fake site has exactly these versions).
REQUIREMENTS = ["accelerate==1.6.0", "transformers==4.57.6", "diffusers==0.32.1", "safetensors", "bitsandbytes"]
# Tokenizers the trainers load from the Hub at caching time (loragate/data/trainers.toml).
TOKENIZERS = {
    "musubi": [("Wan-AI/Wan2.1-T2V-14B", "google/umt5-xxl")],
    "sdscripts": [("openai/clip-vit-large-patch14", ""), ("laion/CLIP-ViT-bigG-14-laion2B-39B-b160k", "")],
}


def loragate_script() -> str:
    """The installed `loragate` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "loragate"
    if not script.exists():
        raise RuntimeError(f"The loragate console script is not installed beside {sys.executable}; run `pip install -e .`.")
    return str(script)


def trainer_checkout(root: Path, backend: str) -> Path:
    """A checkout with the real layout whose scripts are the stand-ins."""
    folder = root / "trainers" / FOLDERS[backend]
    source = FAKES / FOLDERS[backend]
    for rel in SCRIPTS[backend]:
        link = folder / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(source / rel)
    if backend == "musubi":
        # a real file, so the package imports from this checkout (Gate 3 checks where it comes from)
        (folder / "src" / "musubi_tuner" / "__init__.py").write_text("")
        quoted = ", ".join(f'"{r}"' for r in REQUIREMENTS)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "musubi-tuner"\nversion = "0.3.4"\ndependencies = [{quoted}]\n')
    else:
        (folder / "library").mkdir(exist_ok=True)
        for marker in ("library/__init__.py", "library/train_util.py"):
            (folder / marker).write_text("")
        (folder / "requirements.txt").write_text("\n".join(REQUIREMENTS + ["-e ."]) + "\n")
    git = folder / ".git"
    (git / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    return folder


def trainer_venv(checkout: Path) -> Path:
    """venv/ inside the checkout (where its README installs it, and where `plan new` finds it): a
    real virtual environment with what the stand-ins import, the fake torch stack and the checkout
    installed (.pth files, as `pip install -e` leaves them), and `accelerate` beside its python."""
    python = make_venv(checkout / "venv", STAND_IN_PACKAGES)
    add_paths(python, "fake-torch-stack", FAKE_SITE)
    add_paths(python, "checkout", checkout / "src")
    accelerate = python.parent / "accelerate"
    accelerate.write_text(f'#!/bin/sh\nexec "{python}" "{FAKES / "bin" / "accelerate"}" "$@"\n')
    accelerate.chmod(0o755)
    return python


def hf_cache(root: Path, backend: str) -> Path:
    """HF_HOME with the tokenizer files of `backend` in a snapshot, as a download leaves them."""
    home = root / "hf"
    for repo, subfolder in TOKENIZERS[backend]:
        snapshot = home / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abcd"
        folder = snapshot / subfolder if subfolder else snapshot
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tokenizer.json").write_text("{}")
    return home


def sdxl_weights(models: Path) -> dict[str, str]:
    base = write_safetensors_header(models / "sd_xl_base_1.0.safetensors", {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", [320, 4, 3, 3]),
        "model.diffusion_model.label_emb.0.0.weight": ("F16", [1280, 2816]),
        "conditioner.embedders.1.model.ln_final.weight": ("F16", [1280]),
    })
    return {"base_model": str(base)}


def wan22_t2v_weights(models: Path) -> dict[str, str]:
    """The Wan 2.2 T2V A14B files as released: fp16 experts, the 2.1 VAE, the umt5 .pth."""
    t5 = models / "models_t5_umt5-xxl-enc-bf16.pth"
    t5.parent.mkdir(parents=True, exist_ok=True)
    t5.write_bytes(b"PK\x03\x04 a pickled state dict stands here")
    return {
        "dit": str(wan_dit(models / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dtype="F16")),
        "dit_high_noise": str(wan_dit(models / "wan2.2_t2v_high_noise_14B_fp16.safetensors", dtype="F16")),
        "vae": str(wan_vae(models / "wan_2.1_vae.safetensors")),
        "t5": str(t5),
    }


@dataclass
class Machine:
    """A temporary machine: workspace, trainer, its Python, weights, caches and the environment."""

    root: Path
    backend: str
    workspace: Path
    checkout: Path
    python: Path
    weights: dict[str, str]
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """`loragate ARGS` as a person would type it in this machine's shell."""
        return subprocess.run([loragate_script(), *args], env=self.env, cwd=self.workspace, capture_output=True, text=True, timeout=timeout)

    def cli_json(self, *args: str, timeout: float = 60) -> tuple[int, Any]:
        done = self.cli(*args, "--json", timeout=timeout)
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError as exc:
            raise AssertionError(f"`loragate {' '.join(args)} --json` printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}") from exc

    def apply(self, monkeypatch: Any) -> None:
        """The same environment inside this test process (for the MCP server run in memory)."""
        for key in [k for k in os.environ if k.startswith(("FAKE_", "LORAGATE_FAKE_"))]:
            monkeypatch.delenv(key, raising=False)
        for key, value in self.env.items():
            if os.environ.get(key) != value:
                monkeypatch.setenv(key, value)
        sys.modules.pop("pynvml", None)
        monkeypatch.syspath_prepend(str(FAKE_HOST))

    def kill_jobs(self) -> None:
        """Kill every process group a project's job recorded (the supervisor and the trainers)."""
        from loragate.runs.job import read_job

        training = self.workspace / "grimoire" / "training"
        for project in training.iterdir() if training.is_dir() else []:
            try:
                job = read_job(project.name, self.workspace)
            except Exception:  # noqa: BLE001 - a damaged job file has nothing to kill
                continue
            if job is None:
                continue
            pids = [p.pid for p in job.processes + job.history if p.pid] + ([job.supervisor_pid] if job.supervisor_pid else [])
            for pid in pids:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass


def meminfo(root: Path, ram_gb: float) -> Path:
    """A /proc/meminfo of a machine with `ram_gb` GB, nearly all of it available."""
    path = root / "meminfo"
    kb = int(ram_gb * 1e9 / 1024)
    path.write_text(f"MemTotal:       {kb} kB\nMemFree:        {kb * 9 // 10} kB\nMemAvailable:   {kb * 9 // 10} kB\n")
    return path


def make_machine(root: Path, backend: str, gpu: dict[str, Any], ram_gb: float = 256, step_seconds: float = 0.01) -> Machine:
    workspace = root / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    checkout = trainer_checkout(root, backend)
    python = trainer_venv(checkout)
    # <workspace>/models, where `plan new` looks by default (and inside the MCP server's allowed roots)
    models = workspace / "models"
    weights = sdxl_weights(models) if backend == "sdscripts" else wan22_t2v_weights(models)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "LORAGATE_", "HF_", "MUSUBI_", "SD_SCRIPTS_", "CLAUDE_"))}
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.update({
        "LORAGATE_ROOT": str(workspace),
        "LORAGATE_CACHE_DIR": str(root / "loragate-cache"),
        "LORAGATE_LOCK_DIR": str(root / "locks"),
        "LORAGATE_FAKE_NVML": json.dumps([gpu]),
        "LORAGATE_FAKE_MEMINFO": str(meminfo(root, ram_gb)),
        "PYTHONPATH": str(FAKE_HOST),
        "PATH": os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]),
        "HOME": str(root / "home"),
        "HF_HOME": str(hf_cache(root, backend)),
        "MUSUBI_TUNER_DIR" if backend == "musubi" else "SD_SCRIPTS_DIR": str(checkout),
        "LORAGATE_FAKE_TORCH_DEVICE": f"{gpu['name']}:{gpu['capability'][0]}.{gpu['capability'][1]}",
        "FAKE_STEP_SECONDS": str(step_seconds),
        "COLUMNS": "200",
    })
    return Machine(root=root, backend=backend, workspace=workspace, checkout=checkout, python=python, weights=weights, env=env)


def wait_until(check: Any, timeout: float, interval: float = 0.3) -> Any:
    """Poll `check()` until it returns something true; fail with its last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout:.0f} s; last answer: {last!r}")
