"""Issue 9's gate: outside loragate/backends/ no stage asks which trainer it is or spells a trainer's
flag; it asks the trainer's traits (loragate/backends/traits.py) or its backend instead. Only the
lines that read data naming a trainer may spell the names."""

from __future__ import annotations

import re
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


def test_every_allowed_line_still_exists() -> None:
    for rel, lines in DATA_LOADING.items():
        text = {line.strip() for line in (ROOT / rel).read_text(encoding="utf-8").splitlines()}
        assert lines <= text, f"{rel}: drop the allow-list entries that are gone"


def test_a_trainer_states_every_trait() -> None:
    known = traits("musubi").model_dump()
    del known["bucket_step"]
    with pytest.raises(ValueError, match="bucket_step"):
        TrainerTraits.model_validate(known)

