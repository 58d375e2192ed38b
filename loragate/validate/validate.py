"""Validate trainer setups: shell scripts, command lines, config TOMLs and dataset TOMLs, together.

`validate_files` reads what an artist has; `validate_commands` checks argv lists (a generated plan).
Both gather every command and dataset TOML into one Setup and run every rule over it, so checks
can compare commands (cache vs train, one expert vs the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from loragate.backends.command_family import expert
from loragate.backends.config_script import script_for_config
from loragate.backends.kohya_args import CONFIG_FILE, DATASET_CONFIG
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, count_by_severity, sort_findings, verdict_of
from loragate.fsguard import TooLarge, read_capped
from loragate.validate.file_kind import binary_kind, text_kind, trainer_mention
from loragate.validate.invocation import Invocation, classify_script
from loragate.validate.parse_python import Unread, mentions_unread, parse_python_text
from loragate.validate.parse_shell import flags_for, parse_argv, parse_script_text
from loragate.validate.parse_toml import (
    flatten_config,
    TomlProblem,
    is_dataset_toml,
    load_toml_text,
    merge_config_file,
    read_dataset_config,
)
from loragate.validate.rules import RULES, Setup
from loragate.validate.report import InvocationSummary, ValidationReport  # noqa: F401 - also imported from here

_TOML_SUFFIXES = {".toml"}
SCRIPT_CAP = 4 * 1024 * 1024  # scripts and TOMLs are small; a bigger file is not one


def _head(path: Path) -> bytes:
    """The first bytes of a regular file (read_capped has checked that it is one) to say what it is."""
    import os

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if it was swapped for a FIFO
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _read_text(path: Path) -> str:
    return _decode(read_capped(path, SCRIPT_CAP))


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")  # PowerShell ISE saves scripts as UTF-16
    return data.decode("utf-8-sig", errors="replace")


def _attach_configs(setup: Setup) -> None:
    """Merge each --config_file and load each --dataset_config that exists on disk."""
    for inv in setup.invocations:
        base = setup.base_dir(inv)
        value = inv.value(CONFIG_FILE)
        if value:
            path = setup.resolve(value, base)
            if path.suffix != ".toml":
                path = path.with_name(path.name + ".toml")  # sd-scripts appends .toml
            if setup.may_look(path, value) and path.is_file():
                text = _read_text(path)
                try:
                    merge_config_file(inv, load_toml_text(text), text, str(path), flags_for(inv.script))
                    inv.config_files.append(str(path))
                except TomlProblem as exc:
                    setup.toml_errors.append((str(path), exc))
        value = inv.value(DATASET_CONFIG)
        if value and setup.dataset_for(inv) is None:
            path = setup.resolve(value, base)
            if setup.may_look(path, value) and path.is_file() and path.suffix in _TOML_SUFFIXES:
                setup.datasets[value] = read_dataset_config(value, _read_text(path), str(path), base, resolved=path)
        config = setup.dataset_for(inv)
        if config is not None and config.schema is None and inv.trainer:
            config.schema = inv.trainer


def _unread_list(unread: list[Unread]) -> str:
    return ", ".join(f"`{u.expression}` (line {u.line})" for u in unread[:3]) + (" and more" if len(unread) > 3 else "")


def _run(setup: Setup, extra: list[Finding]) -> ValidationReport:
    if not setup.invocations and not setup.datasets and not setup.toml_errors and not extra:
        raise LoragateError("No trainer command or dataset TOML was found in what was given.",
                            "Give the shell script or command file that runs wan_train_network.py / "
                            "sdxl_train_network.py etc., or a dataset TOML.")
    findings = list(extra)
    seen: set[tuple[str, str, str]] = set()
    rule_hits = [(r, list(r.check(setup))) for r in RULES]  # rules first: they may refuse to look at paths
    if setup.not_followed:
        findings.append(Finding(
            code="PATH_NOT_FOLLOWED", severity="info",
            message=f"{len(setup.not_followed)} path(s) in these files lie outside the folders this server may read; "
                    "they were not opened or checked.",
            fix="Validate from the CLI on the training machine, or add their folder to LORAGATE_ALLOWED_ROOTS.",
            evidence={"paths": setup.not_followed[:20]}))
    for r, hits in rule_hits:
        for hit in hits:
            key = (r.code, hit.message, str(hit.evidence.get("file")))
            if key in seen:
                continue
            seen.add(key)
            file = hit.evidence.get("file")
            finding = Finding(code=r.code, severity=hit.severity or r.severity, message=hit.message,
                              fix=hit.fix, path=str(file) if file else None, evidence=hit.evidence)
            if not mentions_unread(finding):  # a value a Python launcher computes is reported as not read
                findings.append(finding)
    trains = [i for i in setup.invocations if i.stage == "train"] or setup.invocations
    model = setup.model or next((setup.family_id(i) for i in trains if setup.family_id(i)), None)
    summaries = [InvocationSummary(source=i.source, script=i.script, stage=i.stage, trainer=i.trainer,
                                   model=setup.family_id(i), expert=expert(i),
                                   dataset_config=i.value(DATASET_CONFIG), config_files=i.config_files,
                                   flags=len(i.args)) for i in setup.invocations]
    ordered = sort_findings(findings)
    return ValidationReport(verdict=verdict_of(ordered), model=model,
                            model_source="given" if setup.model else ("inferred" if model else "unknown"),
                            counts=count_by_severity(ordered), findings=ordered, invocations=summaries,
                            dataset_configs=[c.file for c in setup.datasets.values()], checked_paths=setup.check_paths,
                            rules_run=len(RULES))


def _check_model(model: str | None) -> str | None:
    return get_family(model).id if model else None  # LoragateError names the known families


def validate_files(paths: list[Path], model: str | None = None, check_paths: bool = True,
                   allowed: Callable[[Path], bool] | None = None) -> ValidationReport:
    """Validate scripts, command files, config TOMLs and dataset TOMLs together.

    check_paths: report input paths missing on this machine (as warnings, since a setup is often
    checked before it is uploaded to the machine that trains).
    allowed: where this machine may look (the MCP door's allowed roots); a config, dataset TOML,
    folder or weights file outside it is never opened nor probed for existence.
    """
    return _run(*read_setup(paths, model, check_paths, allowed))


def read_setup(paths: list[Path], model: str | None = None, check_paths: bool = True,
               allowed: Callable[[Path], bool] | None = None,
               command: str | None = None) -> tuple[Setup, list[Finding]]:
    """Every trainer command and dataset TOML in `paths` (and in `command`, a command line as
    typed), with the config and dataset TOMLs they name attached: what the validator judges and
    `plan import` reads back into a plan. The findings are the readers' own (lines not read)."""
    model = _check_model(model)
    setup = Setup(invocations=[], datasets={}, model=model, check_paths=check_paths, allowed=allowed)
    extra: list[Finding] = []
    if command and command.strip():
        typed = parse_script_text(command, "<command line>")
        if not typed.invocations:
            raise LoragateError("The command line given does not run a trainer script.",
                                "Give the whole command, e.g. accelerate launch ... wan_train_network.py --dit ...")
        setup.invocations += typed.invocations
        extra += typed.findings
    not_trainer: list[str] = []
    loose_configs: list[tuple[Path, str, dict]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise LoragateError(f"{raw} {what}.", "Give the path of a script, command file or TOML.")
        try:
            data = read_capped(path, SCRIPT_CAP)
        except TooLarge as exc:
            kind = binary_kind(_head(path), path.suffix)  # a photo or clip is often larger than any script
            if kind:
                not_trainer.append(f"{raw} is {kind}")
                continue
            raise LoragateError(f"{raw} cannot be read ({exc.strerror}).",
                                "Give a plain script, command file or TOML (readable, at most 4 MB).") from exc
        except OSError as exc:
            raise LoragateError(f"{raw} cannot be read ({exc.strerror}).",
                                "Give a plain script, command file or TOML (readable, at most 4 MB).") from exc
        kind = binary_kind(data[:4096], path.suffix)
        if kind:
            not_trainer.append(f"{raw} is {kind}")
            continue
        text = _decode(data)
        shown = str(raw)
        setup.base_dirs[shown] = path.resolve().parent
        if path.suffix.lower() in _TOML_SUFFIXES:
            try:
                table = load_toml_text(text)
            except TomlProblem as exc:
                setup.toml_errors.append((shown, exc))
                continue
            if is_dataset_toml(table):
                setup.datasets[shown] = read_dataset_config(shown, text, shown, path.resolve().parent,
                                                            resolved=path.resolve())
            else:
                loose_configs.append((path.resolve(), shown, table))
            continue
        if path.suffix.lower() == ".py":
            py = parse_python_text(text, shown, start_index=len(setup.invocations))
            if not py.invocations:
                why = f"it cannot be read as Python ({py.syntax_error})" if py.syntax_error else (
                    "no trainer command could be read from it without running it" + (
                        f" (it depends on {_unread_list(py.unread)})" if py.unread else ""))
                not_trainer.append(f"{raw} is a Python script, but {why}")
                continue
            setup.invocations += py.invocations
            extra += py.findings
            continue
        parsed = parse_script_text(text, shown, path, start_index=len(setup.invocations))
        lines = text.splitlines()
        if not parsed.invocations and not any(trainer_mention().search(line) for line in lines):
            not_trainer.append(f"{raw} is {text_kind(path)} with no trainer command in it")
            continue
        setup.invocations += parsed.invocations
        extra += parsed.findings
    if not_trainer:
        raise LoragateError(
            "; ".join(not_trainer) + ". loragate validate reads what runs the trainer: a shell script or "
            "command file (.sh, .bat, .ps1, .txt), a Python launcher (.py) or a config / dataset TOML.",
            "Give the file that starts wan_train_network.py, sdxl_train_network.py, train_network.py or "
            "flux_train_network.py (or its TOML files); pictures and clips go to `loragate audit`.")
    _attach_configs(setup)
    for resolved, shown, table in loose_configs:
        if any(str(resolved) in inv.config_files for inv in setup.invocations):
            continue
        script = script_for_config(flatten_config(table), model)
        inv = Invocation(script=script, stage="train", trainer=classify_script(script)[0],
                         source=shown, file=shown, index=len(setup.invocations))
        text = _read_text(resolved)
        merge_config_file(inv, table, text, shown, flags_for(script))
        inv.config_files.append(str(resolved))
        setup.invocations.append(inv)
        _attach_configs(setup)
    return setup, extra


def validate_commands(
    commands: list[list[str]],
    dataset_tomls: dict[str, str] | None = None,
    model: str | None = None,
    check_paths: bool = False,
    base_dir: Path | None = None,
) -> ValidationReport:
    """Validate argv lists (e.g. a plan's commands) with the dataset TOMLs they name.

    dataset_tomls maps a --dataset_config value, exactly as written in the argv, to the TOML's text.
    """
    model = _check_model(model)
    setup = Setup(invocations=[], datasets={}, model=model, check_paths=check_paths, default_base=base_dir)
    for name, text in (dataset_tomls or {}).items():
        resolved = setup.resolve(name, base_dir)
        setup.datasets[name] = read_dataset_config(name, text, name, base_dir, resolved=resolved)
    for n, argv in enumerate(commands, start=1):
        inv = parse_argv(list(argv), source=f"command {n}", index=n - 1)
        if inv is None:
            raise LoragateError(f"Command {n} does not run a trainer script: {' '.join(argv[:4])}...",
                                "Give argv lists that start with python/accelerate and the script.")
        inv.file = "<commands>"  # one sequence, in order (the cache-order check compares positions)
        setup.invocations.append(inv)
    _attach_configs(setup)
    return _run(setup, [])
