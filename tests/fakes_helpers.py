"""Building blocks for tests that drive the trainer stand-ins in tests/fakes/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.media import write_caption, write_image, write_safetensors_header

FAKES = Path(__file__).parent / "fakes"
MUSUBI = FAKES / "musubi-tuner"
MUSUBI_SRC = MUSUBI / "src" / "musubi_tuner"
SD_SCRIPTS = FAKES / "sd-scripts"
ACCELERATE = FAKES / "bin" / "accelerate"


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")}
    full_env.update(env or {})
    done = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, timeout=timeout)
    # decoded by hand: text=True would turn tqdm's "\r" into newlines
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def python(script: Path, *args: str) -> list[str]:
    return [sys.executable, str(script), *args]


def wan_dit(path: Path, dtype: str = "BF16", in_dim: int = 16) -> Path:
    return write_safetensors_header(
        path, {"blocks.0.cross_attn.k.weight": (dtype, [5120, 5120]), "patch_embedding.weight": (dtype, [5120, in_dim, 1, 2, 2])}
    )


def wan_project(root: Path, images: int = 4) -> dict[str, Path]:
    """Captioned images, a musubi dataset TOML and weight files for a Wan run."""
    for i in range(images):
        write_image(root / "img" / f"p{i}.png", 64, 48, seed=i)
        write_caption(root / "img" / f"p{i}.txt", "sks person")
    toml = root / "dataset.toml"
    toml.write_text(
        '[general]\nresolution = [64, 48]\ncaption_extension = ".txt"\nbatch_size = 1\n\n'
        f'[[datasets]]\nimage_directory = "{root / "img"}"\ncache_directory = "{root / "cache"}"\n',
        encoding="utf-8",
    )
    tiny = {"w": ("BF16", [1])}
    return {
        "toml": toml,
        "dit": wan_dit(root / "dit.safetensors"),
        "vae": write_safetensors_header(root / "vae.safetensors", tiny),
        "t5": write_safetensors_header(root / "t5.safetensors", tiny),
        "cache": root / "cache",
        "out": root / "out",
    }


def wan_cache(p: dict[str, Path], cwd: Path) -> None:
    for script, extra in (("wan_cache_latents.py", ["--vae", str(p["vae"])]), ("wan_cache_text_encoder_outputs.py", ["--t5", str(p["t5"])])):
        done = run(python(MUSUBI_SRC / script, "--dataset_config", str(p["toml"]), *extra), cwd)
        assert done.returncode == 0, done.stderr


def wan_train_args(p: dict[str, Path], *extra: str) -> list[str]:
    return [
        "--task", "t2v-14B", "--dit", str(p["dit"]), "--dataset_config", str(p["toml"]), "--sdpa",
        "--mixed_precision", "bf16", "--network_module", "networks.lora_wan", "--network_dim", "4",
        "--output_dir", str(p["out"]), "--output_name", "mylora", *extra,
    ]
