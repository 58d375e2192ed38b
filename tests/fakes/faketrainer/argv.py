"""An argparse parser rebuilt from the real trainers' parsers, so the stand-ins accept exactly the
real flags and fail on anything else with argparse's own message and exit code 2.

The flag lists (flags/*.json) are dumped from the real scripts' own parser builders by
`python -m tests.contract.realcode`; tests/contract/test_flag_lists.py fails when a dump and the real
parser disagree. They are deliberately not loragate's own lists (loragate/data/flags/), so a
wrong list there cannot pass its own test through the stand-ins.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FLAGS = Path(__file__).with_name("flags")


def _int_or_float(value: str) -> int | float:
    # musubi/sd-scripts `int_or_float`: "10%" or "0.1" is a ratio, "10" a step count.
    if value.endswith("%"):
        return float(value[:-1]) / 100.0
    try:
        return int(value)
    except ValueError:
        return float(value)


_int_or_float.__name__ = "int_or_float"

_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "int_or_float": _int_or_float,
    "_int_or_float": _int_or_float,
    "Path": Path,
}


def _add(parser: argparse.ArgumentParser, flag: dict[str, Any]) -> None:
    names = flag["aliases"]
    if flag["type"] in ("store_true", "store_false"):
        parser.add_argument(*names, dest=flag["dest"], action=flag["type"])
        return
    kwargs: dict[str, Any] = {"dest": flag["dest"], "default": flag["default"], "type": _TYPES[flag["type"]]}
    if flag["nargs"] is not None:
        kwargs["nargs"] = flag["nargs"]
    if flag["choices"] is not None:
        kwargs["choices"] = flag["choices"]
    if flag["required"]:
        kwargs["required"] = True
    parser.add_argument(*names, **kwargs)


def real_flags(script: str) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = json.loads((FLAGS / script.replace(".py", ".json")).read_text(encoding="utf-8"))
    return flags


def build_parser(script: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name if sys.argv else script)
    for flag in real_flags(script):
        _add(parser, flag)
    return parser


def _flatten_toml(path: str) -> dict[str, Any]:
    """`--config_file`: every section flattened into one dict (reference sd-scripts.md section 2.1)."""
    import tomllib

    file = Path(path if path.endswith(".toml") else path + ".toml")
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def parse_args(script: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser(script)
    args = parser.parse_args(argv)
    if getattr(args, "config_file", None):
        # Command line > config file > argparse default; unknown keys are kept silently.
        parser.set_defaults(**_flatten_toml(args.config_file))
        args = parser.parse_args(argv)
    return args
