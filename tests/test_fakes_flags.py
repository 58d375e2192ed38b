"""The stand-ins accept exactly the real flags, as argparse does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes_helpers import MUSUBI, MUSUBI_SRC, SD_SCRIPTS, python, run

SCRIPTS = [
    MUSUBI_SRC / "wan_train_network.py",
    MUSUBI_SRC / "wan_cache_latents.py",
    MUSUBI_SRC / "wan_cache_text_encoder_outputs.py",
    MUSUBI / "wan_train_network.py",
    SD_SCRIPTS / "train_network.py",
    SD_SCRIPTS / "sdxl_train_network.py",
    SD_SCRIPTS / "flux_train_network.py",
    SD_SCRIPTS / "sd3_train_network.py",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_unknown_flag_is_rejected_like_argparse(script: Path, tmp_path: Path) -> None:
    required = {"wan_cache_latents.py": ["--dataset_config", "x"], "wan_cache_text_encoder_outputs.py": ["--dataset_config", "x", "--t5", "y"]}
    done = run(python(script, *required.get(script.name, []), "--no_such_flag", "3"), tmp_path)
    assert done.returncode == 2
    assert f"{script.name}: error: unrecognized arguments: --no_such_flag 3" in done.stderr
    assert done.stderr.startswith("usage: ")


def test_doc_flags_that_do_not_exist_are_rejected(tmp_path: Path) -> None:
    # sd-scripts.md 1.2: the SDXL doc example's --text_encoder_lr1 is not a real flag
    done = run(python(SD_SCRIPTS / "sdxl_train_network.py", "--text_encoder_lr1", "1e-5"), tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --text_encoder_lr1 1e-5" in done.stderr


def test_types_and_choices_are_enforced(tmp_path: Path) -> None:
    bad_choice = run(python(MUSUBI_SRC / "wan_train_network.py", "--task", "ti2v-5B"), tmp_path)
    assert bad_choice.returncode == 2 and "argument --task: invalid choice: 'ti2v-5B'" in bad_choice.stderr
    # musubi-tuner.md 5.2: --timestep_boundary is an int
    bad_int = run(python(MUSUBI_SRC / "wan_train_network.py", "--timestep_boundary", "0.875"), tmp_path)
    assert bad_int.returncode == 2 and "argument --timestep_boundary: invalid int value: '0.875'" in bad_int.stderr


def test_required_flags(tmp_path: Path) -> None:
    done = run(python(MUSUBI_SRC / "wan_cache_text_encoder_outputs.py", "--dataset_config", "x.toml"), tmp_path)
    assert done.returncode == 2 and "the following arguments are required: --t5" in done.stderr


def test_sdxl_accepts_its_own_extra_flags_but_sd15_does_not(tmp_path: Path) -> None:
    sd15 = run(python(SD_SCRIPTS / "train_network.py", "--cache_text_encoder_outputs"), tmp_path)
    assert sd15.returncode == 2 and "unrecognized arguments: --cache_text_encoder_outputs" in sd15.stderr
    sdxl = run(python(SD_SCRIPTS / "sdxl_train_network.py", "--cache_text_encoder_outputs", "--bogus"), tmp_path)
    assert "unrecognized arguments: --bogus" in sdxl.stderr and "--cache_text_encoder_outputs" not in sdxl.stderr.splitlines()[-1]
