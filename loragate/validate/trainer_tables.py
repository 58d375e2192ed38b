"""What each trainer declares about recognising its commands and dataset TOMLs (the `reading`
tables of loragate/data/trainers.toml), looked up here so the validator names no trainer."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def script_prefixes() -> tuple[tuple[str, str], ...]:
    """(prefix, trainer), longest prefix first, so the most specific one wins."""
    from loragate.environment.trainer import load_trainer_data

    pairs = [(prefix, name) for name, facts in load_trainer_data().trainer.items()
             for prefix in facts.reading.script_prefixes]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def trainer_by_prefix(script: str) -> str | None:
    return next((trainer for prefix, trainer in script_prefixes() if script.startswith(prefix)), None)


def dataset_schema(data: dict[str, Any]) -> str | None:
    """Which trainer's dataset schema a dataset TOML is written in: a table only one schema nests in
    [[datasets]] decides first, then a key of a [[datasets]], then a key of [general]."""
    from loragate.environment.trainer import load_trainer_data

    trainers = load_trainer_data().trainer
    for ds in data.get("datasets", []) or []:
        if not isinstance(ds, dict):
            continue
        for field in ("dataset_tables", "dataset_keys"):
            found = next((name for name, facts in trainers.items()
                          if any(k in ds for k in getattr(facts.reading, field))), None)
            if found:
                return found
    general = data.get("general", {}) or {}
    return next((name for name, facts in trainers.items()
                 if any(k in general for k in facts.reading.general_keys)), None)
