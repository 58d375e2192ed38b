"""The Claude Code wiring stays true to the code: skill, command, settings, CLAUDE.md, plugin."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import typer.main

from loragate.cli import app

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "skills" / "train" / "SKILL.md"
DOCS_NAMING_TOOLS = [SKILL, ROOT / "CLAUDE.md", ROOT / "README.md", ROOT / ".claude" / "commands" / "train.md"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def served_tools() -> set[str]:
    import anyio
    from mcp import Client

    from mcp_server.server import build_server

    async def names() -> set[str]:
        async with Client(build_server()) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    return anyio.run(names)


def cli_commands() -> set[str]:
    """'audit', 'plan new', ... every command path the typer app serves."""
    group = typer.main.get_command(app)
    paths: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        # typer vendors click, so test for a group by its sub-commands rather than its class
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{prefix} {name}".strip())
        if prefix:
            paths.add(prefix)

    walk(group, "")
    return paths


def test_skill_passes_agent_skills_validation() -> None:
    from skills_ref import validate

    assert validate(SKILL.parent) == []


def test_sizes_stay_within_claude_code_guidance() -> None:
    assert len(SKILL.read_text().splitlines()) < 500
    assert len((ROOT / "CLAUDE.md").read_text().splitlines()) < 200


def test_every_file_the_skill_links_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", SKILL.read_text())
    assert links, "the skill links its reference docs"
    missing = [link for link in links if not (SKILL.parent / link).exists()]
    assert missing == []
    # one level deep: the skill links documents, not folders of folders
    assert all(link.startswith("resources/") and link.endswith(".md") for link in links)


TOOL_SUFFIXES = ("_dataset", "_run", "_config", "_status", "_vram", "_env", "_files", "_captions", "_duplicates", "_models", "_plan")


def test_every_tool_named_anywhere_is_served() -> None:
    tools = served_tools()
    named: set[str] = set()
    for path in DOCS_NAMING_TOOLS:
        named |= set(re.findall(r"mcp__loragate__([a-z_]+)", path.read_text()))
    settings = json.loads((ROOT / ".claude" / "settings.json").read_text())
    for rule in settings["permissions"]["allow"] + settings["permissions"]["ask"]:
        if rule.startswith("mcp__loragate__"):
            named.add(rule.removeprefix("mcp__loragate__"))
    # tool names in backticks (the skill's phases, the CLAUDE.md quick reference, the README tool
    # list) and as plain words in the `train` prompt that clients without skills follow
    from mcp_server.tools.prompts import WORKFLOW

    def tool_like(words: list[str]) -> set[str]:
        return {n for n in words if not n.startswith("mcp_") and (n in tools or n.endswith(TOOL_SUFFIXES))}

    for path in DOCS_NAMING_TOOLS:
        named |= tool_like(re.findall(r"`([a-z]+_[a-z_]+)`", path.read_text()))
    named |= tool_like(re.findall(r"\b([a-z]+_[a-z_]+)\b", WORKFLOW))
    assert named, "the docs name the tools they use"
    assert sorted(named - tools) == []


def test_launch_and_stop_ask_and_read_only_tools_do_not() -> None:
    settings = json.loads((ROOT / ".claude" / "settings.json").read_text())
    ask, allow = settings["permissions"]["ask"], settings["permissions"]["allow"]
    for tool in ("launch", "stop", "dry_run"):
        assert f"mcp__loragate__{tool}" in ask and f"mcp__loragate__{tool}" not in allow
    assert "mcp__loragate__audit_dataset" in allow


def test_every_cli_command_named_in_the_docs_exists() -> None:
    commands = cli_commands()
    top = {c.split()[0] for c in commands}
    for path in DOCS_NAMING_TOOLS:
        for match in re.finditer(r"`loragate ([a-z-]+)(?: ([a-z-]+))?", path.read_text()):
            first, second = match.group(1), match.group(2)
            assert first in top, f"{path.name} names `loragate {first}`"
            if f"{first} {second}" not in commands and any(c.startswith(first + " ") for c in commands):
                assert second is None or second.startswith("-") or f"{first} {second}" in commands, (
                    f"{path.name} names `loragate {first} {second}`"
                )


def test_mcp_json_starts_the_installed_server() -> None:
    config = json.loads((ROOT / ".mcp.json").read_text())
    server = config["mcpServers"]["loragate"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert server["type"] == "stdio" and server["command"] in scripts
    # Claude Code gives the server CLAUDE_PROJECT_DIR (the folder the session trains in, also when
    # loragate is a plugin); a LORAGATE_ROOT here would override it with a guess ('.' is the server's
    # working folder, which is not always the project).
    assert "LORAGATE_ROOT" not in server.get("env", {})


def _entries(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_plugin_manifest_points_at_real_files() -> None:
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", plugin["name"])
    entries = _entries(plugin["commands"]) + _entries(plugin["skills"]) + _entries(plugin["mcpServers"])
    for entry in entries:
        # Claude Code resolves component paths against the plugin root and wants them to start with ./
        assert entry.startswith("./") and (ROOT / entry).exists(), entry


def test_plugin_skills_path_holds_the_train_skill() -> None:
    """A plugin's `skills` path is a folder of skill folders (<name>/SKILL.md), not a skill itself."""
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
    found = {skill.parent.name for entry in _entries(plugin["skills"]) for skill in (ROOT / entry).glob("*/SKILL.md")}
    assert found == {"train"}


def test_train_command_passes_the_arguments() -> None:
    text = (ROOT / ".claude" / "commands" / "train.md").read_text()
    assert "$ARGUMENTS" in text and "skills/train/SKILL.md" in text
    assert "mcp__loragate__launch" not in text.split("---")[1], "launch must not be pre-approved"


@pytest.mark.parametrize("name", ["eye.md", "studio.md"])
def test_grimoire_templates_exist(name: str) -> None:
    assert (ROOT / "grimoire" / name).read_text().strip()


def _command_options() -> dict[str, set[str]]:
    """'plan new' -> {'--model', ...}: the long options of every command path."""
    options: dict[str, set[str]] = {}

    def walk(command: object, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{prefix} {name}".strip())
        if prefix:
            options[prefix] = {
                o for p in getattr(command, "params", []) for o in [*p.opts, *getattr(p, "secondary_opts", [])] if o.startswith("--")
            } | {"--help"}

    walk(typer.main.get_command(app), "")
    return options


def _code_in(text: str) -> list[str]:
    """Inline code spans (they may wrap across lines) and the lines of fenced code blocks."""
    spans = [s.replace("\n", " ") for s in re.findall(r"(?<!`)`([^`]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))]
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        spans += block.splitlines()
    return spans


def flags_not_on_their_command(text: str) -> list[str]:
    """`loragate CMD [SUB] ... --flag` uses whose flag that very command does not take."""
    options = _command_options()
    wrong = []
    for code in _code_in(text):
        # one command per match: up to the next loragate call, a pipe, && or ;
        for match in re.finditer(r"\bloragate ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(.*?)(?=\bloragate |&&|\||;|$)", code):
            first, second, rest = match.groups()
            path = f"{first} {second}" if f"{first} {second}" in options else first
            if path not in options:
                continue  # unknown commands are test_every_cli_command_named_in_the_docs_exists's to report
            used = re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest if path != first or second is None else f"{second} {rest}")
            wrong += [f"loragate {path} {flag}" for flag in used if flag not in options[path]]
    return wrong


def test_flag_check_catches_a_flag_of_another_command() -> None:
    assert flags_not_on_their_command("`loragate plan new mira --model sdxl --gpu-gb 24`") == []
    assert flags_not_on_their_command("`loragate audit DIR --gpu-gb 24`") == ["loragate audit --gpu-gb"]
    assert flags_not_on_their_command("```\nloragate plan check mira --steps 5\n```") == ["loragate plan check --steps"]


@pytest.mark.parametrize("path", [*DOCS_NAMING_TOOLS, *sorted((ROOT / "resources").rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_named_exists_on_its_command(path: Path) -> None:
    assert flags_not_on_their_command(path.read_text(encoding="utf-8")) == []


def test_skill_walks_the_phases_in_order() -> None:
    """Interview, the gates with captions and curation between, confirmation, launch, monitoring,
    evaluation, diagnosis, registration: an artist meets them in this order."""
    headings = [line.lower() for line in SKILL.read_text().splitlines() if line.startswith("## ")]
    phases = ["intent", "gate 1", "caption", "curation", "gate 2", "gate 3", "gate 4", "confirmation",
              "monitor", "evaluation", "wrong", "registration", "rules"]
    positions = [next((i for i, h in enumerate(headings) if phase in h), -1) for phase in phases]
    assert -1 not in positions, dict(zip(phases, positions))
    assert positions == sorted(positions), dict(zip(phases, positions))
    text = SKILL.read_text()
    for must in ("intent.md", "contact-sheets", "5 ", "fit plan", "grimoire/studio.md", "mcp__loragate__"):
        assert must in text, must


def test_plugin_mode_pre_approves_the_same_tools() -> None:
    """Loaded as a plugin, the tools are mcp__plugin_loragate_loragate__<tool>: the same ones are allowed."""
    for path in (ROOT / "skills" / "train" / "SKILL.md", ROOT / ".claude" / "commands" / "train.md"):
        front = path.read_text().split("---")[1]
        allowed = re.search(r"^allowed-tools: (.*)$", front, re.M).group(1).split()  # type: ignore[union-attr]
        plain = {t.removeprefix("mcp__loragate__") for t in allowed if t.startswith("mcp__loragate__")}
        plugin = {t.removeprefix("mcp__plugin_loragate_loragate__") for t in allowed
                  if t.startswith("mcp__plugin_loragate_loragate__")}
        assert plain and plain == plugin, path
        assert "launch" not in plain | plugin


def test_the_skills_approved_captions_example_is_what_the_code_reads(tmp_path: Path) -> None:
    from loragate.captions.approved import load_approved

    text = (ROOT / "skills" / "train" / "SKILL.md").read_text()
    example = re.search(r"```json\n(.*?)```", text.split("APPROVED.json", 1)[1], re.S).group(1)  # type: ignore[union-attr]
    path = tmp_path / "APPROVED.json"
    path.write_text(example)
    [sample] = load_approved(path)
    assert sample.content == ["woman", "short red hair", "reading", "window"] and sample.caption.startswith("mira,")
