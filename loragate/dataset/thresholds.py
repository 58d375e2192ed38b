"""The audit's score thresholds: loragate/data/thresholds.toml, overridden per project by
grimoire/training/NAME/thresholds.toml (same tables and keys; a key the data does not have is an
error naming it, so a typo never silently leaves the default in force)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError
from loragate.workspace import project_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

THRESHOLDS_FILE = "thresholds.toml"


class QualityThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grayscale: float = Field(gt=0)
    dark: float = Field(gt=0, lt=1)
    bright: float = Field(gt=0, lt=1)
    blurry: float = Field(gt=0)
    low_info: float = Field(gt=0, lt=1)


class CommonLook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: float = Field(gt=0, le=1)
    min_files: int = Field(ge=1)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quality: QualityThresholds
    common_look: CommonLook


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return read_data_toml(THRESHOLDS_FILE)


def thresholds_path(project: str) -> Path:
    return project_dir(project) / THRESHOLDS_FILE


def load_thresholds(project: str | None = None) -> Thresholds:
    """The shipped thresholds, with the project's own file laid over them when it has one."""
    merged = {table: dict(values) for table, values in _defaults().items()}
    path = thresholds_path(project) if project else None
    if path is not None and path.is_file():
        try:
            override = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise LoragateError(f"{path} cannot be read: {exc}.", "Fix it (TOML, the tables of loragate/data/thresholds.toml) or remove it.") from exc
        for table, values in override.items():
            if not isinstance(values, dict):
                raise LoragateError(f"{path}: '{table}' is not a table of thresholds.", "Use [quality] or [common_look] tables.")
            merged.setdefault(table, {}).update(values)
    try:
        return Thresholds.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(k) for k in first["loc"])
        what = "is not a threshold loragate has (a typo?)" if first["type"] == "extra_forbidden" else f"is wrong ({first['msg']})"
        raise LoragateError(f"{path or 'loragate/data/thresholds.toml'}: '{where}' {what}.",
                            f"The thresholds are: {', '.join(QualityThresholds.model_fields)} under [quality]; "
                            f"{', '.join(CommonLook.model_fields)} under [common_look].") from exc
