"""The stand-ins in tests/fakes/ against what the real trainers printed in the same situations
(tests/fixtures/real-logs/, captured with tests/real/ on a CPU machine): the lines loragate reads
must be the same, and so must the exit status."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loragate.runs.richlog import log_lines
from tests.fakes_helpers import ACCELERATE, MUSUBI_SRC, SD_SCRIPTS, python, run, wan_project
from tests.media import write_caption, write_image, write_safetensors_header

REAL = Path(__file__).parent / "fixtures" / "real-logs"


def real_lines(name: str) -> list[str]:
    return log_lines((REAL / name).read_text())


def fake_lines(done: subprocess.CompletedProcess) -> list[str]:
    return log_lines(done.stdout + "\n" + done.stderr)


def same_line(real: list[str], fake: list[str], text: str, upto: str | None = None) -> str:
    """The line holding `text` in both logs, equal up to `upto` (the real one goes on in Japanese)."""
    def cut(line: str) -> str:
        at = line.index(text)
        end = line.index(upto, at) + len(upto) if upto else len(line)
        return line[at:end]

    mine = next((cut(line) for line in real if text in line), None)
    theirs = next((cut(line) for line in fake if text in line), None)
    assert mine is not None, f"the real log has no line with {text!r}"
    assert theirs == mine, (theirs, mine)
    return mine


def sd_images(folder: Path, captions: bool) -> Path:
    for i in range(2):
        write_image(folder / f"p{i}.png", 64, 64, seed=i)
        if captions:
            write_caption(folder / f"p{i}.txt", "mira, a photo")
    return folder


def sd_toml(root: Path, images: Path) -> Path:
    toml = root / "ds.toml"
    toml.write_text(f'[general]\ncaption_extension = ".txt"\n[[datasets]]\nresolution = [64, 64]\nbatch_size = 1\n'
                    f'[[datasets.subsets]]\nimage_dir = "{images}"\nnum_repeats = 1\n')
    return toml


def sd_train(root: Path, *args: str, base: Path | None = None) -> list[str]:
    base = base or write_safetensors_header(root / "base.safetensors", {"w": ("F16", [1])})
    return [str(ACCELERATE), "launch", "--cpu", "--mixed_precision", "no", str(SD_SCRIPTS / "train_network.py"),
            "--pretrained_model_name_or_path", str(base), "--output_dir", str(root / "out"), "--output_name", "t",
            "--network_module", "networks.lora", "--max_train_steps", "2", *args]


@pytest.fixture(autouse=True)
def narrow_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # as the real logs were captured: rich at 80 columns


def test_sdscripts_empty_dataset(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(sd_train(tmp_path, "--dataset_config", str(sd_toml(tmp_path, empty))), tmp_path)
    assert done.returncode == 0  # as the real one: "No data found", then exit 0
    same_line(real_lines("sd15-empty-dataset.log"), fake_lines(done), "ERROR No data found.", "images)")


def test_sdscripts_images_without_captions(tmp_path: Path) -> None:
    toml = sd_toml(tmp_path, sd_images(tmp_path / "bare", captions=False))
    done = run(sd_train(tmp_path, "--dataset_config", str(toml)), tmp_path)
    assert done.returncode == 0, done.stderr
    same_line(real_lines("sd15-no-captions.log"), fake_lines(done), "No caption file found for 2 images.", "it will be used.")


def test_sdscripts_unknown_flag(tmp_path: Path) -> None:
    toml = sd_toml(tmp_path, sd_images(tmp_path / "img", captions=True))
    done = run(sd_train(tmp_path, "--dataset_config", str(toml), "--no_such_option", "3"), tmp_path)
    assert done.returncode == 1  # argparse exits 2, accelerate then 1
    real, fake = real_lines("sd15-unknown-flag.log"), fake_lines(done)
    same_line(real, fake, "error: unrecognized arguments:")
    assert any("returned non-zero exit status 2." in line for line in real)
    assert any("returned non-zero exit status 2." in line for line in fake)


def test_sdscripts_truncated_weights(tmp_path: Path) -> None:
    whole = write_safetensors_header(tmp_path / "whole.safetensors", {f"k{i}": ("F16", [4, 4]) for i in range(200)})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole.read_bytes()[:1000])  # cut inside the header, as the captured file was
    toml = sd_toml(tmp_path, sd_images(tmp_path / "img", captions=True))
    done = run(sd_train(tmp_path, "--dataset_config", str(toml), base=cut), tmp_path)
    assert done.returncode == 1
    same_line(real_lines("sd15-truncated-weights.log"), fake_lines(done), "SafetensorError: Error while deserializing header")


def test_musubi_caching_images_without_captions(tmp_path: Path) -> None:
    p = wan_project(tmp_path, images=2)
    for caption in (tmp_path / "img").glob("*.txt"):
        caption.unlink()
    done = run(python(MUSUBI_SRC / "wan_cache_latents.py", "--dataset_config", str(p["toml"]), "--vae", str(p["vae"])), tmp_path)
    assert done.returncode == 0  # nothing cached, and no error
    same_line(real_lines("wan-cache-latents-no-captions.log"), fake_lines(done), "INFO:musubi_tuner.dataset.datasources:found 0 images")
    assert not list(p["cache"].glob("*.safetensors")) if p["cache"].exists() else True


def test_musubi_training_before_caching(tmp_path: Path) -> None:
    p = wan_project(tmp_path, images=2)
    args = ["--task", "t2v-1.3B", "--dit", str(p["dit"]), "--dataset_config", str(p["toml"]), "--sdpa", "--mixed_precision", "bf16",
            "--network_module", "networks.lora_wan", "--output_dir", str(p["out"]), "--output_name", "w"]
    done = run([str(ACCELERATE), "launch", "--cpu", str(MUSUBI_SRC / "wan_train_network.py"), *args], tmp_path)
    assert done.returncode == 1
    same_line(real_lines("wan-train-before-text-encoder-cache.log"), fake_lines(done),
              "ValueError: No training items found in the dataset.", "created beforehand.")
