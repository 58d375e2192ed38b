"""A dataset config as TOML text laid out the way both trainers' docs write it.

`[general]`, then each `[[datasets]]` with its `[[datasets.subsets]]` tables (sd-scripts,
reference sd-scripts.md §3.4) and short arrays on one line (`resolution = [832, 480]`), so the file
an artist opens reads like the examples they know. The values are exactly the backend's dict:
the text parses back to it.
"""

from __future__ import annotations

from typing import Any


def dataset_toml_text(trainer: str, plan_name: str, config: dict[str, Any]) -> str:
    lines = [f"# {trainer} dataset config for {plan_name}, written by loragate from plan.json.", ""]
    lines += ["[general]", *_pairs(config.get("general", {}))]
    for dataset in config.get("datasets", []):
        lines += ["", "[[datasets]]", *_pairs({k: v for k, v in dataset.items() if k != "subsets"})]
        for subset in dataset.get("subsets", []):
            lines += ["", "  [[datasets.subsets]]", *("  " + line for line in _pairs(subset))]
    return "\n".join(lines) + "\n"


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()  # TOML's own quoting of strings and numbers
