"""What an imported setup says that the plan does not carry: the artist's commands and dataset TOML
compared with the ones the plan writes again, flag by flag and key by key.

Whatever a backend's import could not map shows up here as a difference, so nothing the artist
wrote is dropped without a word, whichever backend or family it is.
"""

from __future__ import annotations

from typing import Any

from loragate.backends.reading import CARRIED_ELSEWHERE, output_name
from loragate.core.findings import Finding
from loragate.core.plan import Command
from loragate.validate.invocation import Invocation

FOLDER_KEYS = ("image_directory", "video_directory", "image_dir")


def _norm(value: Any) -> Any:
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(_norm(x) == _norm(y) for x, y in zip(a, b))


def _shown(values: list[str]) -> str:
    return " ".join(values) if values else "(on)"


def _pairs(given: list[Invocation], regenerated: list[Command]) -> tuple[list[tuple[Invocation, Command]], list[Invocation], list[Command]]:
    """Each command given matched with the plan's command for the same step (and output name)."""
    pairs: list[tuple[Invocation, Command]] = []
    left = list(regenerated)
    unmatched: list[Invocation] = []
    for inv in given:
        same_stage = [c for c in left if c.stage == inv.stage]
        name = output_name(inv)
        match = next((c for c in same_stage if name and name in c.argv), same_stage[0] if same_stage else None)
        if match is None:
            unmatched.append(inv)
            continue
        left.remove(match)
        pairs.append((inv, match))
    return pairs, unmatched, left


def command_dropped(inv: Invocation, why: str) -> Finding:
    return Finding(
        code="IMPORT_COMMAND_DROPPED", severity="warn", path=inv.file or None,
        message=f"Your {inv.script} command ({inv.source}) {why}: loragate will not run it.",
        fix="If it is needed, run it yourself before launching; otherwise nothing to do.",
        evidence={"script": inv.script, "where": inv.source})


def command_differences(given: list[Invocation], regenerated: list[Command]) -> list[Finding]:
    """Flags of the artist's commands that loragate's commands leave out, set otherwise, or add."""
    from loragate.validate.parse_shell import parse_argv

    findings: list[Finding] = []
    pairs, unmatched, added = _pairs(given, regenerated)
    findings += [command_dropped(inv, "has no counterpart in the plan") for inv in unmatched]
    for command in added:
        findings.append(Finding(
            code="IMPORT_COMMAND_ADDED", severity="info",
            message=f"loragate adds a {command.stage.replace('_', ' ')} step your setup did not have: {command.description}",
            fix="Nothing to do; `plan show` lists every command.", evidence={"stage": command.stage}))
    for inv, command in pairs:
        ours = parse_argv(command.argv)
        if ours is None:
            continue
        stage = command.stage.replace("_", " ") + (f" ({command.expert}-noise expert)" if command.expert else "")
        for label, mine, theirs in (("", inv.args, ours.args), ("accelerate launch ", inv.launcher_args, ours.launcher_args)):
            for flag, values in mine.items():
                where = inv.where(flag) if not label else inv.source
                if flag not in theirs and flag in CARRIED_ELSEWHERE:
                    findings.append(Finding(
                        code="IMPORT_FLAG_CHANGED", severity="info", path=inv.file or None,
                        message=f"{flag} {_shown(values)} ({where}): {CARRIED_ELSEWHERE[flag]}.",
                        fix="Nothing to do; `plan show` shows the commands and dataset.toml the folders.",
                        evidence={"flag": flag, "given": values, "where": where}))
                elif flag not in theirs:
                    findings.append(Finding(
                        code="IMPORT_FLAG_DROPPED", severity="warn", path=inv.file or None,
                        message=(f"{label}{flag} {_shown(values)} ({where}) has no place in the plan: loragate's "
                                 f"{stage} command runs without it."),
                        fix="If your training needs it, tell loragate's maintainers; most such flags only change logging "
                            "or speed. Otherwise nothing to do.",
                        evidence={"flag": label + flag, "value": values, "where": where, "stage": command.stage}))
                elif not _same(values, theirs[flag]):
                    why = CARRIED_ELSEWHERE.get(flag, "the plan holds it this way")
                    findings.append(Finding(
                        code="IMPORT_FLAG_CHANGED", severity="info" if flag in CARRIED_ELSEWHERE else "warn", path=inv.file or None,
                        message=(f"{label}{flag} is {_shown(values)} in your setup ({where}); loragate's {stage} command "
                                 f"uses {_shown(theirs[flag])}: {why}."),
                        fix="If yours was intended, set it in plan.json and run `loragate plan check` again.",
                        evidence={"flag": label + flag, "given": values, "becomes": theirs[flag], "where": where}))
            for flag, values in theirs.items():
                if flag not in mine:
                    findings.append(Finding(
                        code="IMPORT_FLAG_ADDED", severity="info",
                        message=f"loragate's {stage} command adds {label}{flag} {_shown(values)}, which your setup left out.",
                        fix="Nothing to do unless you meant to leave it out; config.md says why each setting is there.",
                        evidence={"flag": label + flag, "value": values, "stage": command.stage}))
    return findings


def _folders(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """folder -> every key that applies to it ([general], then its dataset, then its subset)."""
    general: dict[str, Any] = config["general"] if isinstance(config.get("general"), dict) else {}
    out: dict[str, dict[str, Any]] = {}
    for dataset in config.get("datasets", []) or []:
        if not isinstance(dataset, dict):
            continue
        own = {**general, **{k: v for k, v in dataset.items() if k != "subsets"}}
        for entry in [{**own, **s} for s in dataset.get("subsets", []) if isinstance(s, dict)] or [own]:
            folder = next((str(entry[k]) for k in FOLDER_KEYS if entry.get(k)), None)
            if folder:
                out[folder] = entry
    return out


def dataset_differences(given: dict[str, Any], written: dict[str, Any], where: str) -> list[Finding]:
    """Dataset TOML keys the plan's TOML leaves out or sets otherwise, folder by folder."""
    findings: list[Finding] = []
    mine, ours = _folders(given), _folders(written)
    for folder, keys in mine.items():
        if folder not in ours:
            findings.append(Finding(
                code="IMPORT_FLAG_DROPPED", severity="warn", path=where,
                message=f"The folder {folder} in your dataset TOML is not in the plan's dataset: it will not be trained on.",
                fix="Put it back in plan.json's dataset.subsets if it should be trained on, then `loragate plan check`.",
                evidence={"folder": folder, "file": where}))
            continue
        for key, value in keys.items():
            theirs = ours[folder].get(key)
            if key not in ours[folder] or not _same(_as_list(value), _as_list(theirs)):
                becomes = "leaves it out" if key not in ours[folder] else f"writes {theirs!r}"
                findings.append(Finding(
                    code="IMPORT_FLAG_CHANGED" if key in ours[folder] else "IMPORT_FLAG_DROPPED", severity="warn", path=where,
                    message=f"{key} = {value!r} for {folder} in your dataset TOML: the plan's dataset TOML {becomes}.",
                    fix="If yours was intended, set it in plan.json's dataset and run `loragate plan check` again.",
                    evidence={"key": key, "given": value, "becomes": theirs, "folder": folder, "file": where}))
    return findings


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]
