"""The Gate 1 record (report files, ledger, staleness), the re-audit cache, and both doors:
CLI exit codes and --json, and the MCP tool through the in-memory client."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.dataset.audit import audit_dataset
from loragate.gates.ledger import gate_status, read_ledger
from tests.media import write_caption, write_image, write_video

CAPTION = "mira, a woman with short silver hair in a garden"


def make_set(folder: Path, n: int, size: int = 1024, ext: str = "png") -> Path:
    for i in range(n):
        write_image(folder / f"img_{i:03d}.{ext}", size, size, seed=i)
        write_caption(folder / f"img_{i:03d}.txt", CAPTION)
    return folder


def test_name_writes_report_and_records_gate_1(tmp_path: Path, workspace: Path) -> None:
    ds = make_set(tmp_path / "ds", 3)
    report = audit_dataset(ds, trigger="mira", model="sdxl", training_type="character", name="mira_v1")
    folder = workspace / "grimoire/training/mira_v1"
    md = (folder / "dataset-report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Captions", "## Resolution", "## Duplicates", "## Quality Issues", "## Diversity Notes", "## Gate 1 Decision: GO"):
        assert heading in md
    assert "Captioned: 3/3 (100%)" in md
    # GO says what the set is ready for, and what comes next.
    decision = md.split("## Gate 1 Decision: GO", 1)[1]
    assert "Nothing blocks training: 3 usable items for a character LoRA" in decision
    assert "loragate plan new mira_v1 --model sdxl" in decision
    assert "Content and style:" in md
    saved = json.loads((folder / "dataset-report.json").read_text(encoding="utf-8"))
    assert saved["verdict"] == "GO" and saved["report_path"] == str(folder / "dataset-report.md")
    assert report.report_path == str(folder / "dataset-report.md")

    record = read_ledger("mira_v1").latest["dataset"]
    assert record.verdict == "GO"
    assert record.subject == {"dataset": str(ds.resolve()), "caption_extension": ".txt", "trigger": "mira",
                              "model": "sdxl", "training_type": "character",
                              "thresholds": str(workspace / "grimoire/training/mira_v1/thresholds.toml")}
    assert gate_status("mira_v1").gates[0].current

    # Editing a caption after the audit makes Gate 1 stale.
    write_caption(ds / "img_001.txt", CAPTION + ", smiling")
    state = gate_status("mira_v1").gates[0]
    assert not state.current and "stale" in (state.problem or "")


def test_no_go_is_recorded_with_blocking_codes_and_fixes(tmp_path: Path, workspace: Path) -> None:
    ds = make_set(tmp_path / "ds", 2)
    write_caption(ds / "img_000.txt", "a woman")
    audit_dataset(ds, trigger="mira", name="p2")
    record = read_ledger("p2").latest["dataset"]
    assert record.verdict == "NO-GO" and record.blocking == ["DS_TRIGGER_MISSING"]
    md = (workspace / "grimoire/training/p2/dataset-report.md").read_text(encoding="utf-8")
    assert "## Gate 1 Decision: NO-GO" in md and "Add 'mira' to the caption" in md


def test_report_gathers_a_repeated_problem_into_one_entry(tmp_path: Path, workspace: Path) -> None:
    ds = make_set(tmp_path / "ds", 5, size=384, ext="jpg")
    write_video(ds / "clip.mp4", frames=20)
    write_caption(ds / "clip.txt", CAPTION)
    audit_dataset(ds, trigger="mira", model="wan2.1-t2v-14b", name="many")
    md = (workspace / "grimoire/training/many/dataset-report.md").read_text(encoding="utf-8")
    quality = md.split("## Quality Issues", 1)[1].split("\n## ", 1)[0]
    # Five small pictures: one entry naming all five, not five copies of the same advice.
    low_res = [line for line in quality.splitlines() if "DS_LOW_RES" in line]
    assert len(low_res) == 1 and "5 files" in low_res[0]
    assert all(f"`img_{i:03d}.jpg`" in low_res[0] for i in range(5))
    # A clip's problems are quality issues too, not "other notes".
    assert "DS_VIDEO_TOO_SHORT" in quality
    # GO lists the warnings as known limitations, gathered the same way.
    limits = md.split("Known limitations", 1)[1]
    assert limits.count("Use a larger original") == 1 and "5 files" in limits


def test_reaudit_of_unchanged_dataset_comes_from_cache(tmp_path: Path, workspace: Path) -> None:
    ds = make_set(tmp_path / "ds", 12, size=768, ext="jpg")
    t0 = time.perf_counter()
    first = audit_dataset(ds, trigger="mira")
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = audit_dataset(ds, trigger="mira")
    second_s = time.perf_counter() - t0
    assert first.cached == 0 and second.cached == 12
    assert second.model_dump(exclude={"seconds", "cached"}) == first.model_dump(exclude={"seconds", "cached"})
    assert second_s * 5 < first_s, (first_s, second_s)
    # The cache lives in LORAGATE_CACHE_DIR, never in the dataset.
    assert (tmp_path / "cache").is_dir()
    assert sorted(p.name for p in ds.iterdir()) == sorted(f"img_{i:03d}.{e}" for i in range(12) for e in ("jpg", "txt"))
    # A changed file is analysed again.
    write_image(ds / "img_000.jpg", 768, 768, seed=99)
    assert audit_dataset(ds, trigger="mira").cached == 11


def test_analyze_in_a_process_pool_matches_serial(tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.dataset import analyze

    ds = make_set(tmp_path / "ds", 6, size=256)
    rels = sorted(p.name for p in ds.glob("*.png"))
    serial = analyze.analyze_images(ds, rels)
    monkeypatch.setenv("LORAGATE_CACHE_DIR", str(tmp_path / "cache2"))
    monkeypatch.setattr(analyze, "SERIAL_BELOW", 2)
    seen: list[int] = []
    pooled = analyze.analyze_images(ds, rels, progress=lambda done, total, msg: seen.append(done), workers=2)
    assert {k: v.model_dump() for k, v in pooled.items()} == {k: v.model_dump() for k, v in serial.items()}
    assert seen and seen[-1] == 6


runner = CliRunner()


def test_cli_exit_codes_and_json_contract(tmp_path: Path, workspace: Path) -> None:
    ds = make_set(tmp_path / "ds", 2)
    go = runner.invoke(app, ["audit", str(ds), "--trigger", "mira", "--json"])
    assert go.exit_code == 0, go.output
    data = json.loads(go.stdout)
    assert data["verdict"] == "GO"
    assert isinstance(data["findings"], list) and isinstance(data["duplicate_groups"], list)

    write_caption(ds / "img_001.txt", "no trigger here")
    nogo = runner.invoke(app, ["audit", str(ds), "--trigger", "mira", "--json"])
    assert nogo.exit_code == 1
    data = json.loads(nogo.stdout)
    blocking = [f for f in data["findings"] if f["severity"] == "block"]
    assert blocking and set(blocking[0]) >= {"code", "severity", "message", "fix", "path"}
    assert blocking[0]["path"] == "img_001.txt"

    missing = runner.invoke(app, ["audit", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.stderr.split())
    bad_type = runner.invoke(app, ["audit", str(ds), "--type", "landscape"])
    assert bad_type.exit_code == 2
    bad_model = runner.invoke(app, ["audit", str(ds), "--model", "sd9"])
    assert bad_model.exit_code == 2 and "Unknown model family" in " ".join(bad_model.stderr.split())

    table = runner.invoke(app, ["audit", str(ds), "--trigger", "mira", "--name", "cli_p"])
    assert table.exit_code == 1 and "NO-GO" in table.stdout and "DS_TRIGGER_MISSING" in table.stdout
    # A message that already names its file is not followed by the same name again.
    flat = "".join(table.stdout.split())
    assert flat.count("img_001.txt") == 1, table.stdout
    assert (workspace / "grimoire/training/cli_p/dataset-report.md").is_file()


@pytest.mark.anyio
async def test_mcp_audit_dataset_tool(tmp_path: Path, workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    make_set(workspace / "ds", 3, size=512)
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["audit_dataset"]
        assert tool.output_schema and {"verdict", "findings", "duplicate_groups"} <= set(tool.output_schema["properties"])
        assert tool.annotations and tool.annotations.destructive_hint is False
        result = await client.call_tool(
            "audit_dataset",
            {"dataset": "ds", "trigger": "mira", "model": "sd15", "training_type": "object", "name": "mcp_p"},
            progress_callback=on_progress,
        )
        assert not result.is_error
        data = result.structured_content
        assert data["verdict"] == "GO" and data["images"] == 3 and data["model"] == "sd15"
        assert progress, "the tool reports progress while it works"
        assert (workspace / "grimoire/training/mcp_p/dataset-report.md").is_file()

        outside = await client.call_tool("audit_dataset", {"dataset": str(tmp_path)})
        assert outside.is_error and "outside the folders" in outside.content[0].text
        missing = await client.call_tool("audit_dataset", {"dataset": "nope"})
        assert missing.is_error and "does not exist" in missing.content[0].text
