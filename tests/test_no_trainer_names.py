"""Issue 9's gate: outside loragate/backends/ no stage asks which trainer it is or spells a trainer's
flag; it asks the trainer's traits (loragate/backends/traits.py) or its backend instead. Only the
lines that read data naming a trainer may spell the names."""

from __future__ import annotations

import ast
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from loragate.backends.traits import TrainerTraits, traits

ROOT = Path(__file__).resolve().parents[1] / "loragate"
PATTERN = re.compile(r'"musubi"|"sdscripts"|--output_dir')

# path -> the stripped lines allowed there: each reads or declares data that names a trainer.
DATA_LOADING = {
    "core/vocabulary.py": {'BackendName = Literal["musubi", "sdscripts"]'},
}

# Folders still being cleaned on their own branches (issue 9); the lead removes each as it lands.
NOT_YET_CLEAN: tuple[str, ...] = ()


# (path, string) -> why a string that equals a real trainer flag is not one there: each is an
# option of loragate's own command line that happens to share the trainer's spelling.
NOT_A_TRAINER_FLAG = {
    ("cli/commands/evaluate.py", "--prompt"): "`loragate eval --prompt`: the artist's own prompt",
    ("cli/commands/evaluate.py", "--seed"): "`loragate eval --seed`: the seed of each picture",
    ("cli/commands/evaluate.py", "--steps"): "`loragate eval --steps`: sampling steps per picture",
    ("cli/commands/plan.py", "--resolution"): "`loragate plan new --resolution`: the training size",
    ("cli/commands/vram.py", "--resolution"): "`loragate vram --resolution`: the size to estimate for",
    ("cli/commands/runs.py", "--steps"): "`loragate dry-run --steps`: how many steps the dry run trains",
    ("cli/nextstep.py", "--steps"): "the dry_run next step rendered as `loragate dry-run --steps`",
    ("cloud/remote.py", "--steps"): "`loragate dry-run --steps` started on the rented machine",
}


def _trainer_flags() -> set[str]:
    """Every flag of the real trainers' scripts, from the flag lists loragate keeps (loragate/data/flags/,
    dumped from their parsers; loragate.catalog.flags reads them)."""
    folder = resources.files("loragate.data").joinpath("flags")
    return {entry["name"] for item in folder.iterdir() if item.name.endswith(".json")
            for entry in json.loads(item.read_text(encoding="utf-8"))}


def _flag_literals() -> list[tuple[str, str]]:
    flags = _trainer_flags()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("backends/") or rel.startswith(NOT_YET_CLEAN):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in flags:
                found.append((rel, node.value))
    return found


def _hits() -> list[tuple[str, str]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("backends/") or rel.startswith(NOT_YET_CLEAN):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if PATTERN.search(line) and line.strip() not in DATA_LOADING.get(rel, set()):
                found.append((rel, line.strip()))
    return found


def test_no_stage_outside_the_backends_names_a_trainer_or_its_flags() -> None:
    assert _hits() == [], "ask traits(family.trainer) or the backend instead of naming the trainer"


def test_no_string_outside_the_backends_is_a_trainer_flag() -> None:
    """A flag written whole as a string is a stage building or reading a trainer's command itself."""
    assert len(_trainer_flags()) > 300  # the lists are read (musubi-tuner's and sd-scripts' scripts)
    found = [hit for hit in _flag_literals() if hit not in NOT_A_TRAINER_FLAG]
    assert found == [], "ask the backend (loragate/backends/) for the trainer's flags instead"


def test_every_allowed_flag_string_still_exists() -> None:
    assert set(NOT_A_TRAINER_FLAG) <= set(_flag_literals()), "drop the allow-list entries that are gone"
    assert all(why.strip() for why in NOT_A_TRAINER_FLAG.values())


def test_every_allowed_line_still_exists() -> None:
    for rel, lines in DATA_LOADING.items():
        text = {line.strip() for line in (ROOT / rel).read_text(encoding="utf-8").splitlines()}
        assert lines <= text, f"{rel}: drop the allow-list entries that are gone"


def test_a_trainer_states_every_trait() -> None:
    known = traits("musubi").model_dump()
    del known["bucket_step"]
    with pytest.raises(ValueError, match="bucket_step"):
        TrainerTraits.model_validate(known)

