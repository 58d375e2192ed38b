"""Flag lists checked against the real trainers' parsers: loragate's own (loragate/data/flags/,
which the validator uses) and the stand-ins' (tests/fakes/faketrainer/flags/, which they parse with).

Skips, saying how to run it, without SD_SCRIPTS_DIR / MUSUBI_TUNER_DIR or ../shared/trainers/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loragate.catalog.flags import FlagSpec, script_flags
from tests.contract.realcode import FAKE_FLAGS, SCRIPTS, real_flags

_REGENERATE = "regenerate them with `python -m tests.contract.realcode`"


def test_the_stand_ins_parse_with_the_real_parsers_flags(checkouts: dict[str, Path]) -> None:
    for trainer, checkout in checkouts.items():
        for script, flags in real_flags(trainer, checkout).items():
            dump = json.loads((FAKE_FLAGS / script.replace(".py", ".json")).read_text(encoding="utf-8"))
            assert dump == flags, f"tests/fakes/faketrainer/flags/ differ from {trainer}'s {script}: {_REGENERATE}"


def _value_type(real: dict[str, Any]) -> str:
    if real["type"] == "store_true":
        return "switch"
    return {"Path": "path", "_int_or_float": "int_or_float"}.get(real["type"], real["type"])


def _differences(real: dict[str, Any], ours: FlagSpec) -> list[str]:
    found = []
    if _value_type(real) != ours.value_type:
        found.append(f"type {ours.value_type}, the trainer's is {_value_type(real)}")
    if not real["choices_unknown"] and (real["choices"] or None) != (ours.choices or None):
        found.append(f"choices {ours.choices}, the trainer's are {real['choices']}")
    if real["required"] != ours.required:
        found.append(f"required={ours.required}, the trainer's is {real['required']}")
    if (real["nargs"] in ("*", "+")) != ours.takes_many:
        found.append(f"takes_many={ours.takes_many}, the trainer's nargs is {real['nargs']!r}")
    if real["type"] != "store_true" and real["default"] != ours.default:
        found.append(f"default {ours.default!r}, the trainer's is {real['default']!r}")
    return found


def test_loragate_flag_lists_match_the_real_parsers(checkouts: dict[str, Path]) -> None:
    problems = []
    for trainer, checkout in checkouts.items():
        for script, flags in real_flags(trainer, checkout).items():
            real = {flag["name"]: flag for flag in flags}
            ours = script_flags(script)
            problems += [f"{script}: loragate lacks {name}" for name in sorted(set(real) - set(ours))]
            problems += [f"{script}: loragate lists {name}, the trainer has no such flag" for name in sorted(set(ours) - set(real))]
            problems += [f"{script} {name}: loragate says {d}" for name in sorted(set(real) & set(ours))
                         for d in _differences(real[name], ours[name])]
    assert SCRIPTS and not problems, "\n".join(problems)
