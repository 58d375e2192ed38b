"""The reference docs in resources/ stay honest: every flag they name exists, every relative link
resolves, and the tables that mirror loragate's data files (presets, optimizer ranges, the CUDA /
PyTorch matrix, the published VRAM figures) say what those files say."""

from __future__ import annotations

import re
import runpy
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"

EXPECTED_DOCS = [
    "training/training-concepts.md",
    "training/parameters-guide.md",
    "training/optimizers.md",
    "training/presets.md",
    "training/failure-modes.md",
    "dataset/dataset-sizes.md",
    "dataset/content-style.md",
    "dataset/captioning-guide.md",
    "dataset/caption-formats.md",
    "dataset/curation-guide.md",
    "backends/musubi-tuner.md",
    "backends/kohya-sd-scripts.md",
    "backends/simpletuner.md",
    "backends/ai-toolkit.md",
    "environment/cuda-pytorch-matrix.md",
    "environment/vram-calculator.md",
    "environment/preflight-checklist.md",
    "evaluation/eval-methodology.md",
    "evaluation/strength-guide.md",
    "providers/provider-guide.md",
    "wan/WAN_LORA_CLAUDE_CODE_REFERENCE.md",
]

# Flags of tools other than the trainers, accelerate and loragate. Keep this short; each needs a reason.
OTHER_TOOLS: dict[str, str] = {
    "--index-url": "pip: the PyTorch wheel index for a CUDA build (pytorch.org install selector)",
    "--upgrade": "pip: reinstall torch over a wrong build",
    "--text_encoder_lr1": "named only as a flag that does NOT exist (sd-scripts docs/sdxl_train_network.md bug)",
    "--text_encoder_lr2": "named only as a flag that does NOT exist (sd-scripts docs/sdxl_train_network.md bug)",
    "--input": "musubi-tuner src/musubi_tuner/convert_lora.py parse_args: the LoRA to convert",
    "--output": "musubi-tuner convert_lora.py: the converted copy",
    "--target": "musubi-tuner convert_lora.py: 'default' (musubi's lora_unet_ naming) or 'other'",
}

FLAG = re.compile(r"(?<![\w-])--[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9]")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def docs() -> list[Path]:
    return sorted(RESOURCES.rglob("*.md"))


def flags_in(text: str) -> list[tuple[int, str]]:
    """(line number, flag) for every `--flag` written in a text."""
    return [(n, m.group(0)) for n, line in enumerate(text.splitlines(), 1) for m in FLAG.finditer(line)]


@lru_cache(maxsize=1)
def trainer_flags() -> frozenset[str]:
    from loragate.catalog.flags import known_scripts, script_flags

    names: set[str] = set()
    for script in known_scripts():
        names |= set(script_flags(script))
        names |= set(script_flags(script, version="0.2.15"))
    return frozenset(names)


@lru_cache(maxsize=1)
def accelerate_flags() -> frozenset[str]:
    # The accelerate stand-in mirrors `accelerate launch`'s own options; reuse its lists.
    stand_in = runpy.run_path(str(ROOT / "tests" / "fakes" / "bin" / "accelerate"))
    return frozenset(stand_in["VALUED"] | stand_in["SWITCHES"])


@lru_cache(maxsize=1)
def loragate_flags() -> frozenset[str]:
    import typer

    from loragate.cli import app

    names: set[str] = set()

    def walk(command: object) -> None:
        # typer ships its own click; walk by attribute, not by click's classes
        for param in getattr(command, "params", []):
            names.update(o for o in [*param.opts, *getattr(param, "secondary_opts", [])] if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    names.add("--help")
    return frozenset(names)


def known_flags() -> frozenset[str]:
    return trainer_flags() | accelerate_flags() | loragate_flags() | frozenset(OTHER_TOOLS)


def test_every_expected_doc_exists() -> None:
    missing = [name for name in EXPECTED_DOCS if not (RESOURCES / name).is_file()]
    assert not missing, f"missing reference docs: {missing}"


def test_flag_extraction_catches_an_invented_flag() -> None:
    text = "Pass `--network_dim 32`, never --made_up_flag; a rule |---| and an em-dash -- are not flags."
    found = [flag for _, flag in flags_in(text)]
    assert found == ["--network_dim", "--made_up_flag"]
    assert "--network_dim" in known_flags()
    assert "--made_up_flag" not in known_flags()


def test_reference_lists_hold_each_source() -> None:
    assert {"--timestep_boundary", "--dit_high_noise", "--i2v", "--fp8_t5", "--blocks_to_swap"} <= trainer_flags()
    assert "--num_cpu_threads_per_process" in accelerate_flags()
    assert {"--gpu-gb", "--trigger", "--from"} <= loragate_flags()


@pytest.mark.parametrize("doc", docs(), ids=lambda p: str(p.relative_to(RESOURCES)))
def test_every_flag_named_exists(doc: Path) -> None:
    known = known_flags()
    unknown = [f"{doc.name}:{line} {flag}" for line, flag in flags_in(doc.read_text(encoding="utf-8")) if flag not in known]
    assert not unknown, "flags no trainer, accelerate or loragate has:\n" + "\n".join(unknown)


@pytest.mark.parametrize("doc", docs(), ids=lambda p: str(p.relative_to(RESOURCES)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)} links to files that do not exist: {broken}"


def _table_rows(doc: str) -> list[list[str]]:
    rows = []
    for line in (RESOURCES / doc).read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip().strip("`*") for cell in line.strip().strip("|").split("|")])
    return rows


def test_presets_doc_matches_presets_toml() -> None:
    from loragate.catalog.presets import LEVELS, TRAINING_TYPES, get_preset

    examples = {"musubi-dit": "wan2.2-t2v-a14b", "sd": "sdxl", "flux": "flux1-dev"}
    seen = set()
    for row in _table_rows("training/presets.md"):
        if len(row) < 10:
            continue
        tuning, kind, level = (c.lower() for c in row[:3])
        if tuning not in examples or kind not in TRAINING_TYPES or level not in LEVELS:
            continue
        preset = get_preset(examples[tuning], kind, level)
        rank, alpha, lr, scheduler, steps, repeats, batch = row[3:10]
        assert (int(rank), float(alpha), float(lr)) == (preset.rank, preset.alpha, preset.learning_rate), row
        assert (scheduler, int(steps)) == (preset.lr_scheduler, preset.target_steps), row
        assert (int(repeats), int(batch)) == (preset.num_repeats, preset.batch_size), row
        seen.add((tuning, kind, level))
    assert len(seen) == len(examples) * len(TRAINING_TYPES) * len(LEVELS)


def test_optimizer_ranges_match_optimizers_toml() -> None:
    from loragate.catalog.optimizers import get_optimizer, optimizer_names

    seen = set()
    for row in _table_rows("training/optimizers.md"):
        if row[0] not in optimizer_names() or " to " not in row[1]:
            continue
        info = get_optimizer(row[0])
        for tuning, cell in zip(("musubi-dit", "sd", "flux"), row[1:4]):
            low, high = (float(x) for x in re.split(r"\s+to\s+", cell))
            assert (low, high) == tuple(info.lr[tuning]), (row[0], tuning, cell)
        seen.add(row[0])
    assert seen == set(optimizer_names())


def test_cuda_matrix_doc_matches_data() -> None:
    from loragate.catalog.datafile import read_data_toml

    torch = read_data_toml("cuda_matrix.toml")["torch"]
    rows = {row[0]: row for row in _table_rows("environment/cuda-pytorch-matrix.md") if row[0] in torch}
    assert set(rows) == set(torch)
    for version, facts in torch.items():
        assert rows[version][1] == facts["torchvision"]
        assert [b.strip() for b in rows[version][2].split(",")] == facts["builds"]


def test_vram_doc_names_every_published_figure() -> None:
    from loragate.catalog.datafile import read_data_toml

    text = (RESOURCES / "environment" / "vram-calculator.md").read_text(encoding="utf-8")
    figures = [f["id"] for f in read_data_toml("vram_published.toml")["figure"]]
    assert [f for f in figures if f not in text] == []


@lru_cache(maxsize=1)
def loragate_commands() -> frozenset[str]:
    """'audit', 'plan new', 'captions write', ...: every command path of the CLI."""
    import typer

    from loragate.cli import app

    paths: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.add(f"{prefix}{name}")
            walk(sub, f"{prefix}{name} ")

    walk(typer.main.get_command(app), "")
    return frozenset(paths)


CLI_USE = re.compile(r"`loragate ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


@pytest.mark.parametrize("doc", docs(), ids=lambda p: str(p.relative_to(RESOURCES)))
def test_every_loragate_command_named_exists(doc: Path) -> None:
    commands = loragate_commands()
    wrong = []
    for first, second in CLI_USE.findall(doc.read_text(encoding="utf-8")):
        group = any(c.startswith(first + " ") for c in commands)
        if first not in commands or (group and second and f"{first} {second}" not in commands):
            wrong.append(f"loragate {first} {second}".strip())
    assert not wrong, f"{doc.name} names commands loragate does not have: {wrong}"


@pytest.mark.anyio
async def test_every_mcp_tool_named_is_served() -> None:
    from mcp import Client

    from mcp_server.server import build_server

    async with Client(build_server()) as client:
        served = {t.name for t in (await client.list_tools()).tools}
    named = set()
    for doc in docs():
        for line in doc.read_text(encoding="utf-8").splitlines():
            if "MCP tool" in line:
                named.update(n for n in re.findall(r"`([a-z]+(?:_[a-z]+)+)`", line))
    assert named, "the docs name no MCP tool at all"
    assert named <= served, f"tools named in resources/ but not served: {sorted(named - served)}"
