"""Read the two kinds of TOML the trainers take: `--config_file` (training arguments) and
`--dataset_config` (the dataset schema of musubi-tuner or sd-scripts).

A config file's sections are flattened exactly as the trainers do it (reference sd-scripts.md
§2.1, upstream train_util.read_config_from_file; musubi copies the same code): every key of every
top-level table becomes an argument, section names are ignored, and the command line wins.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loragate.catalog.flags import FlagSpec
from loragate.validate.invocation import Invocation
from loragate.validate.trainer_tables import dataset_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DatasetSchema = str  # the trainer whose dataset schema it is (a key of loragate.backends.BACKENDS)

_TABLE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")


class TomlProblem(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """(table path..., key) -> line. Array tables are indexed: ("datasets", 0, "subsets", 1, "image_dir")."""
    lines: dict[tuple[Any, ...], int] = {}
    counters: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        m = _TABLE.match(raw)
        if m and not _KEY.match(raw):
            names = [n.strip().strip("\"'") for n in m.group(2).split(".")]
            if m.group(1) == "[[":
                # the parent path keeps the indices of enclosing arrays (datasets.subsets -> datasets[i])
                parent: tuple[Any, ...] = ()
                for name in names[:-1]:
                    parent += (name,)
                    if parent in counters:
                        parent += (counters[parent],)
                array = parent + (names[-1],)
                counters[array] = counters.get(array, -1) + 1
                table = array + (counters[array],)
            else:
                table = tuple(names)
            lines.setdefault(table, number)
            continue
        k = _KEY.match(raw)
        if k:
            lines.setdefault(table + (k.group(1).strip('"'),), number)
    return lines


def load_toml_text(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise TomlProblem("it is nested too deeply (thousands of levels of brackets) to be a training config", None) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise TomlProblem(str(exc), int(m.group(1)) if m else None) from exc


def is_dataset_toml(data: dict[str, Any]) -> bool:
    """Dataset TOMLs have only `general` and `datasets` at the top (both trainers' schemas)."""
    if isinstance(data.get("datasets"), list):
        return True
    return bool(data) and set(data) <= {"general", "datasets"} and isinstance(data.get("general"), dict)


@dataclass
class DatasetConfig:
    """A dataset TOML as read, with where each key sits for evidence."""

    name: str  # the path as written (argv or file name)
    file: str  # the path shown in findings
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    base_dir: Path | None = None  # folder relative paths inside it are read from
    resolved: Path | None = None  # the file on disk, when it was read from one
    schema: DatasetSchema | None = None
    error: TomlProblem | None = None

    def where(self, *path: Any) -> str:
        line = self.lines.get(tuple(path))
        while line is None and path:
            path = path[:-1]
            line = self.lines.get(tuple(path))
        return f"{self.file}:{line}" if line else self.file

    def evidence(self, *path: Any, **extra: Any) -> dict[str, Any]:
        where = self.where(*path)
        file, _, line = where.rpartition(":")
        ev: dict[str, Any] = {"file": file or where, "line": int(line) if line.isdigit() else None}
        if path:
            ev["key"] = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")
        ev.update(extra)
        return ev

    @property
    def general(self) -> dict[str, Any]:
        g = self.data.get("general")
        return g if isinstance(g, dict) else {}

    @property
    def datasets(self) -> list[dict[str, Any]]:
        ds = self.data.get("datasets")
        return [d for d in ds if isinstance(d, dict)] if isinstance(ds, list) else []


MAX_DATASETS = 256


def read_dataset_config(name: str, text: str, file: str, base_dir: Path | None,
                        schema: DatasetSchema | None = None, resolved: Path | None = None) -> DatasetConfig:
    config = DatasetConfig(name=name, file=file, text=text, base_dir=base_dir, resolved=resolved)
    try:
        config.data = load_toml_text(text)
    except TomlProblem as exc:
        config.error = exc
        return config
    datasets = config.data.get("datasets")
    if isinstance(datasets, list) and len(datasets) > MAX_DATASETS:
        config.error = TomlProblem(f"it has {len(datasets):,} [[datasets]] tables; loragate checks at most {MAX_DATASETS} "
                                   "(a real training uses a handful)", None)
        return config
    config.lines = key_lines(text)
    config.schema = schema or dataset_schema(config.data)
    return config


def flatten_config(data: dict[str, Any]) -> dict[str, Any]:
    """sd-scripts train_util.read_config_from_file: one level of tables is flattened, names dropped."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _first_lines(lines: dict[tuple[Any, ...], int]) -> dict[Any, int]:
    """key -> the first line it is written on, at any depth (one pass, not one per key)."""
    first: dict[Any, int] = {}
    for path, line in lines.items():
        if path and (path[-1] not in first or line < first[path[-1]]):
            first[path[-1]] = line
    return first


def merge_config_file(inv: Invocation, data: dict[str, Any], text: str, file: str,
                      specs: dict[str, FlagSpec]) -> None:
    """Add a config TOML's arguments to an invocation; flags on the command line keep their value."""
    first_line = _first_lines(key_lines(text))
    for key, value in flatten_config(data).items():
        flag = "--" + key
        if flag in inv.args and flag not in inv.from_config:
            continue  # command line > config file (reference sd-scripts.md §2.1)
        line = first_line.get(key)
        inv.from_config[flag] = f"{file}:{line}" if line else file
        inv.config_raw[flag] = value
        spec = specs.get(flag)
        if isinstance(value, bool):
            if value:
                inv.args[flag] = [] if (spec is None or spec.is_switch) else ["True"]
            elif spec is not None and spec.is_switch:
                inv.args.pop(flag, None)  # false leaves the switch off
                inv.config_off.append(flag)
            else:
                inv.args[flag] = ["False"]
        elif isinstance(value, list):
            inv.args[flag] = [str(v) for v in value]
        else:
            inv.args[flag] = [str(value)]
        inv.occurrences.setdefault(flag, 1)
