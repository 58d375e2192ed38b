"""An argparse parser built from the real flag dumps, so the stand-ins accept exactly the real
flags and fail on anything else with argparse's own message and exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from loragate.catalog.flags import FlagSpec, script_flags


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
    "path": Path,
}


def _add(parser: argparse.ArgumentParser, spec: FlagSpec) -> None:
    kwargs: dict[str, Any] = {"default": spec.default, "help": spec.help.replace("%", "%%")}
    if spec.is_switch:
        parser.add_argument(spec.name, action="store_true", help=kwargs["help"])
        return
    kwargs["type"] = _TYPES.get(spec.value_type, str)
    if spec.takes_many:
        kwargs["nargs"] = "*"
    if spec.choices is not None:
        kwargs["choices"] = spec.choices
    if spec.required:
        kwargs["required"] = True
    parser.add_argument(spec.name, **kwargs)


def build_parser(script: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name if sys.argv else script)
    for spec in script_flags(script).values():
        _add(parser, spec)
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
