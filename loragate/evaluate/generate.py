"""Making the grid's pictures: through ComfyUI, through the trainer's scripts, or exported to run elsewhere.

Each engine takes the cells (CellSpec by index) and returns index -> output file (or an error).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from loragate.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from loragate.catalog.models import ModelFamily
from loragate.core.errors import LoragateError
from loragate.evaluate.comfyui import ComfyUI
from loragate.backends import generation_commands
from loragate.backends.generation import CellSpec, GenCommand
from loragate.evaluate.workflows import ModelNames, build_workflow, has_workflow
from loragate.core.plan import TrainingPlan

OUTPUT_SUFFIXES = (".png", ".webp", ".mp4", ".jpg")
PROCESS_TIMEOUT_S = 3 * 3600

Done = Callable[[int, float], None]  # (cell index, seconds it took)


def run_comfyui(client: ComfyUI, family: ModelFamily, names: ModelNames, cells: list[CellSpec], out: Path, done: Done) -> dict[int, Path | str]:
    results: dict[int, Path | str] = {}
    first = True
    for index, cell in enumerate(cells):
        workflow = build_workflow(cell, family, names)
        if first:
            client.check_files(workflow)  # a missing LoRA or model stops before anything is queued
            first = False
        started = time.monotonic()
        name, data = client.generate(workflow)
        path = out / f"{cell.prefix}{Path(name).suffix or '.png'}"
        atomic_write_bytes(path, data)
        results[index] = path
        done(index, time.monotonic() - started)
    return results


def script_commands(plan: TrainingPlan, family: ModelFamily, cells: list[CellSpec], out: Path, lightning: list[str]) -> list[GenCommand]:
    """The processes that make every cell, as the plan's backend builds them for the trainer's own
    generation script (loragate/data/generation.toml)."""
    return generation_commands(plan.backend)(plan, family, cells, out, lightning)


def _newest_output(folder: Path) -> Path | None:
    found = [p for p in folder.rglob("*") if p.suffix.lower() in OUTPUT_SUFFIXES and p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def run_scripts(commands: list[GenCommand], cells: list[CellSpec], log: Path, done: Done, env: dict[str, str] | None = None) -> dict[int, Path | str]:
    results: dict[int, Path | str] = {}
    with open(log, "ab") as handle:
        for command in commands:
            folder = Path(command.output_dir)
            folder.mkdir(parents=True, exist_ok=True)
            if command.prompt_file and command.prompt_text is not None:
                atomic_write_text(Path(command.prompt_file), command.prompt_text)
            handle.write(f"\n$ {shlex.join(command.argv)}\n".encode())
            handle.flush()
            started = time.monotonic()
            try:
                code = subprocess.run(command.argv, cwd=command.cwd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, timeout=PROCESS_TIMEOUT_S, check=False).returncode
            except FileNotFoundError as exc:
                raise LoragateError(f"The trainer's Python {command.argv[0]} does not exist.", "Check trainer_python in the plan or studio.md.") from exc
            except subprocess.TimeoutExpired:
                code = -1
            took = (time.monotonic() - started) / max(len(command.cells), 1)
            for index in command.cells:
                cell = cells[index]
                expected = folder / f"{cell.prefix}.png"
                path = expected if expected.is_file() else (_newest_output(folder) if len(command.cells) == 1 else None)
                if code != 0:
                    results[index] = f"{Path(command.argv[1]).name} exited with status {code}; see {log.name}"
                elif path is None:
                    results[index] = f"{Path(command.argv[1]).name} finished but wrote no picture for this cell; see {log.name}"
                else:
                    results[index] = path
                done(index, took)
            if code != 0 and command is commands[0]:
                break  # the first process failing will fail the same way for the rest: stop spending
    return results


def export(family: ModelFamily, names: ModelNames, cells: list[CellSpec], commands: list[GenCommand], out: Path) -> list[str]:
    """ComfyUI workflows (API format, one per cell, for the families they draw) and the trainer-script
    commands, to run elsewhere."""
    written: list[str] = []
    for cell in cells if has_workflow(family) else []:
        path = out / "workflows" / f"{cell.prefix}.json"
        atomic_write_json(path, build_workflow(cell, family, names))
        written.append(str(path))
    lines = ["#!/usr/bin/env bash", "# The evaluation grid with the trainer's own scripts; run from the trainer's folder.", "set -euo pipefail"]
    for command in commands:
        if command.prompt_file and command.prompt_text is not None:
            atomic_write_text(Path(command.prompt_file), command.prompt_text)
            written.append(command.prompt_file)
        lines.append(f"mkdir -p {shlex.quote(command.output_dir)}")
        lines.append(shlex.join(command.argv))
    script = out / "commands.sh"
    atomic_write_text(script, "\n".join(lines) + "\n")
    script.chmod(0o755)
    written.append(str(script))
    atomic_write_text(out / "cells.json", json.dumps([c.model_dump() for c in cells], indent=2) + "\n")
    return written
