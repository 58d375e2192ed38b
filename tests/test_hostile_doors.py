"""The hostile corpus (tests/hostile_kit.py) through both doors, the CLI in its own process and
the MCP server in memory: 0 crashes, 0 hangs, 0 bytes or modes of media changed, 0 reads, writes,
listings or program starts outside the workspace (canaries under an audit hook), and the verdicts
the lying files deserve. The figures are in benchmarks/README.md ("Hostile input").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.server import build_server
from tests.hostile_kit import build_world, ledger, stop_watching, watch

REPO = Path(__file__).resolve().parents[1]
HANG_S = 120
SECRET = "sk-CANARY"

# The CLI runs in its own process with the same audit hook, so a hang is a timeout and a crash is a
# traceback on stderr rather than a test that never ends.
CLI_RUNNER = """
import atexit, json, sys
sys.path.insert(0, {repo!r})
from tests.hostile_kit import watch
hits = watch([__import__('pathlib').Path(p) for p in {watched!r}])
atexit.register(lambda: open({hits_file!r}, 'w').write(json.dumps(hits)))
sys.argv = ['loragate'] + {argv!r}
from loragate.cli import main
main()
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_world(tmp_path_factory.mktemp("hostile"))


def _env(world: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAUDE_PROJECT_DIR", "LORAGATE_ALLOWED_ROOTS")}
    env.update(LORAGATE_ROOT=str(world["root"]), LORAGATE_CACHE_DIR=str(world["root"] / ".cache"), COLUMNS="200")
    return env


def _cli(world: dict[str, Any], argv: list[str], tmp: Path) -> dict[str, Any]:
    hits_file = tmp / f"hits-{abs(hash(tuple(argv)))}.json"
    code = CLI_RUNNER.format(repo=str(REPO), watched=[str(p) for p in world["canaries"]], hits_file=str(hits_file), argv=argv)
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=world["root"], env=_env(world), capture_output=True,
                              text=True, errors="replace", timeout=HANG_S)
    except subprocess.TimeoutExpired:
        return {"argv": argv, "hang": True, "rc": None, "out": "", "err": "", "hits": []}
    hits = json.loads(hits_file.read_text()) if hits_file.exists() else ["no hit report: the process died"]
    return {"argv": argv, "hang": False, "rc": done.returncode, "out": done.stdout, "err": done.stderr, "hits": hits}


CLI_CALLS = [
    ["audit", "ds", "--trigger", "[/b]", "--model", "sdxl", "--name", "hostile"],
    ["audit", "ds", "--trigger", "[red]mira", "--json"],
    ["duplicates", "ds", "--name", "hostile"],
    ["duplicates", "ds", "--sheets", "sheets", "--mirror"],
    ["gates", "hostile"],
    ["validate", "cont.sh", "--no-check-paths"],
    ["validate", "many.toml"],
    ["validate", "deep.toml"],
    ["validate", "odd16.sh"],
    ["vram", "--model", "sdxl", "--resolution", "1024", "--batch", "10000000"],
    ["vram", "--model", "wan2.1-t2v-14b", "--resolution", "832x480", "--frames", "100000001"],
    ["quarantine", "ds2", "keep_0.png", "keep_1.png", "../outside/secret.toml"],
    ["quarantine", "ds", "--undo"],
    ["captions", "write", "ds", "--from", "deep.json", "--trigger", "mira"],
    ["captions", "write", "ds", "--from", "deep.json", "--trigger", "mira", "--caption-ext", ".png", "--overwrite"],
    ["plan", "check", "no-such-project"],
]


def _mcp_calls(world: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    outside, evil = world["outside"], world["evil"]
    sample = [{"image": "good_0.png", "caption": "mira, a portrait", "content": [], "style": []}]
    return [
        ("audit_dataset", {"dataset": "ds", "trigger": "[/b]", "model": "sdxl", "name": "hostile-mcp"}),
        ("find_duplicates", {"dataset": "ds", "name": "hostile-mcp", "mirror": True}),
        ("quarantine_files", {"dataset": "ds2", "files": ["keep_0.png", "../../outside/private/photo.png", "keep_1.png"]}),
        ("quarantine_files", {"dataset": "ds", "files": [], "undo": True}),
        ("write_captions", {"dataset": "ds", "trigger": "mira", "captions": sample, "save_as": "ds/good_0.png"}),
        ("write_captions", {"dataset": "ds", "trigger": "mira", "captions": sample, "save_as": "."}),
        ("write_captions", {"dataset": "ds", "trigger": "mira", "captions": sample, "save_as": "ds/approved.json"}),
        ("write_captions", {"dataset": "ds", "trigger": "mira", "captions": sample, "caption_extension": ".png", "overwrite": True}),
        ("write_captions", {"dataset": "ds", "trigger": "mira", "captions": sample, "caption_extension": "PNG", "overwrite": True}),
        ("caption_dataset", {"dataset": "ds", "trigger": "mira", "examples": "deep.json"}),
        ("generate_config", {"name": "evil", "model": "sdxl", "dataset": "ds", "trigger": "mira", "platform": "runpod",
                             "trainer_python": str(evil)}),
        ("generate_config", {"name": "evil", "model": "sdxl", "dataset": "ds", "trigger": "mira", "platform": "modal",
                             "trainer_dir": str(outside), "weights": {"base_model": str(outside / "private" / "w.safetensors")}}),
        ("validate_config", {"files": ["train.sh"]}),
        ("validate_config", {"files": [str(world["secret"])]}),
        ("validate_config", {"files": ["deep.toml", "many.toml", "cont.sh", "odd16.sh"]}),
        ("validate_config", {"files": ["ds/fifo.txt"]}),
        ("estimate_vram", {"model": "sdxl", "resolution": "1024", "batch": 10_000_000}),
        ("estimate_vram", {"model": "wan2.1-t2v-14b", "resolution": "832x480", "frames": 100_000_001}),
        ("estimate_vram", {"model": "sdxl", "resolution": "1024", "batch": "lots"}),
        ("audit_dataset", {"dataset": "a" * 300}),
        ("audit_dataset", {"dataset": "ds/" + "x" * 300 + "/y"}),
        ("audit_dataset", {"dataset": "ds/up"}),
        ("audit_dataset", {"dataset": "/"}),
        ("audit_dataset", {"dataset": "ds", "caption_extension": ".mp4"}),
        ("audit_dataset", {}),
        ("continue_run", {"project": "hostile-mcp", "checkpoint": str(outside / "private" / "photo.png")}),
        ("validate_env", {"plan": "no-such-project"}),
        ("gate_status", {"project": "hostile-mcp"}),
    ]


def _bare_or_raw(text: str, tool: str) -> bool:
    stripped = text.strip()
    return stripped == f"Error executing tool {tool}" or stripped.endswith(f"Error executing tool {tool}") \
        or "validation error" in text or "Traceback" in text or "pydantic" in text


@pytest.fixture(scope="module")
def runs(world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every call through both doors, with the ledgers before and after."""
    tmp = tmp_path_factory.mktemp("hostile-hits")
    before = {"ds": ledger(world["ds"]), "ds2": ledger(world["ds2"]), "outside": ledger(world["outside"])}
    cli = [_cli(world, argv, tmp) for argv in CLI_CALLS]
    mcp: list[dict[str, Any]] = []
    saved = {k: os.environ.get(k) for k in ("LORAGATE_ROOT", "LORAGATE_CACHE_DIR", "CLAUDE_PROJECT_DIR", "LORAGATE_ALLOWED_ROOTS")}
    os.environ.update(LORAGATE_ROOT=str(world["root"]), LORAGATE_CACHE_DIR=str(world["root"] / ".cache"))
    os.environ.pop("CLAUDE_PROJECT_DIR", None)
    os.environ.pop("LORAGATE_ALLOWED_ROOTS", None)
    hits = watch(world["canaries"])

    async def drive() -> None:
        async with Client(build_server()) as client:
            for tool, args in _mcp_calls(world):
                entry: dict[str, Any] = {"tool": tool, "args": args, "hang": False}
                try:
                    with anyio.fail_after(HANG_S):
                        result = await client.call_tool(tool, args)
                    entry["error"] = result.is_error
                    entry["text"] = " ".join(getattr(c, "text", "") for c in result.content)
                    entry["data"] = result.structured_content
                except TimeoutError:
                    entry["hang"] = True
                mcp.append(entry)

    try:
        anyio.run(drive)
    finally:
        stop_watching()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    after = {"ds": ledger(world["ds"]), "ds2": ledger(world["ds2"]), "outside": ledger(world["outside"])}
    return {"cli": cli, "mcp": mcp, "mcp_hits": list(hits), "before": before, "after": after}


def test_hostile_corpus_0_crashes_0_hangs_through_the_cli(runs: dict[str, Any]) -> None:
    for call in runs["cli"]:
        assert not call["hang"], f"hang: loragate {call['argv']}"
        assert call["rc"] in (0, 1, 2), f"crash (rc {call['rc']}): loragate {call['argv']}\n{call['err'][-2000:]}"
        assert "Traceback" not in call["err"] and "Traceback" not in call["out"], call["argv"]
        assert "stopped on a problem it did not expect" not in call["err"], f"{call['argv']}: {call['err']}"
        assert "\x1b" not in call["out"] + call["err"], f"an escape code reached the terminal: {call['argv']}"
        assert SECRET not in call["out"] + call["err"]


def test_hostile_corpus_0_crashes_0_hangs_through_mcp_every_error_a_plain_sentence(runs: dict[str, Any]) -> None:
    for call in runs["mcp"]:
        assert not call["hang"], f"hang: {call['tool']} {call['args']}"
        if call["error"]:
            assert not _bare_or_raw(call["text"], call["tool"]), f"{call['tool']}: {call['text']}"
            assert "did not expect" not in call["text"], f"{call['tool']}: {call['text']}"
        assert SECRET not in call["text"] + json.dumps(call["data"] or {}), f"a secret came back from {call['tool']}"


def test_hostile_corpus_0_media_bytes_or_modes_changed_0_files_outside_touched(runs: dict[str, Any], world: dict[str, Any]) -> None:
    assert runs["after"]["ds"] == runs["before"]["ds"]
    assert runs["after"]["ds2"] == runs["before"]["ds2"]
    assert runs["after"]["outside"] == runs["before"]["outside"]
    assert not (world["outside"] / "EXECUTED").exists()
    assert not list(world["root"].parent.glob(".*.tmp")), "a temporary file was left beside the workspace"


def test_hostile_corpus_0_reads_writes_or_runs_outside_the_root(runs: dict[str, Any]) -> None:
    for call in runs["cli"]:
        assert call["hits"] == [], f"loragate {call['argv']} reached outside the root: {call['hits'][:5]}"
    assert runs["mcp_hits"] == [], f"the MCP server reached outside the root: {runs['mcp_hits'][:5]}"


def _mcp(runs: dict[str, Any], tool: str, n: int = 0) -> dict[str, Any]:
    return [c for c in runs["mcp"] if c["tool"] == tool][n]


def test_lying_files_get_the_verdict_they_deserve(runs: dict[str, Any]) -> None:
    audit = _mcp(runs, "audit_dataset")
    assert not audit["error"], audit["text"]
    report = audit["data"]
    assert report["verdict"] == "NO-GO"
    codes: dict[str, set[str]] = {}
    for f in report["findings"]:
        codes.setdefault(f.get("path") or "", set()).add(f["code"])
    every = {c for cs in codes.values() for c in cs}
    for name in ("fifo.txt", "pipe.png", "pipe_clip.mp4"):
        assert "DS_SPECIAL_FILE" in codes.get(name, set()), name
    outside_links = next(f for f in report["findings"] if f["code"] == "DS_LINK_OUTSIDE")
    assert {"zero.png", "zero.txt", "up", "rootlink", "private", "secret.txt"} <= set(outside_links["evidence"]["links"])
    for name in ("eps.png", "dds.png", "ppm.png", "iccp.png", "ztxt.png", "text_named.png"):
        assert "DS_NOT_AN_IMAGE" in codes.get(name, set()), (name, codes.get(name))
    assert "DS_TRUNCATED" in codes["random_144mp.png"] and "DS_TRUNCATED" in codes["trunc.webp"]
    assert "DS_UNREADABLE" not in codes["trunc.webp"]
    bomb = next(f for f in report["findings"] if f["path"] == "bomb_400mp.png" and f["code"] == "DS_TOO_LARGE")
    assert bomb["severity"] == "block"
    assert "DS_VIDEO_UNREADABLE" in codes["faststart.mp4"] and "DS_VIDEO_UNREADABLE" in codes["cut.mp4"]
    assert "DS_ALPHA" not in codes.get("lab.png", set())
    float_finding = next(f for f in report["findings"] if f["path"] == "float32.png" and f["code"] == "DS_16BIT")
    assert "32-bit" in float_finding["message"]
    mismatch = next(f for f in report["findings"] if f["path"] == "gif_named.png" and f["code"] == "DS_EXT_MISMATCH")
    assert ".gif" not in mismatch["fix"] and "PNG or JPEG" in mismatch["fix"]
    for caption, code in (("cap_utf16.txt", "DS_CAPTION_ENCODING"), ("cap_nul.txt", "DS_CAPTION_ENCODING"),
                          ("cap_cr.txt", "DS_CAPTION_MULTILINE"), ("cap_huge.txt", "DS_CAPTION_NOT_TEXT"),
                          ("cap_odd16.txt", "DS_CAPTION_ENCODING")):
        assert code in codes.get(caption, set()), (caption, codes.get(caption))
    assert "DS_NAME_NOT_TEXT" in every
    assert "DS_SYMLINK_LOOP" in codes.get("loop", set())


def test_media_can_never_be_overwritten_and_batches_are_all_or_nothing(runs: dict[str, Any]) -> None:
    refusals = [c for c in runs["mcp"] if c["tool"] == "write_captions"]
    assert all(c["error"] for c in refusals), [c["text"] for c in refusals if not c["error"]]
    assert "nothing was written" in refusals[0]["text"] and "inside the dataset" in refusals[2]["text"]
    assert ".png" in refusals[3]["text"] and "captions" in refusals[3]["text"]
    moved = _mcp(runs, "quarantine_files")
    assert moved["error"] and "Nothing was moved" in moved["text"] and "photo.png" in moved["text"]
    undo = _mcp(runs, "quarantine_files", 1)
    assert undo["error"] and "edited by hand" in undo["text"]
    cli_batch = next(c for c in runs["cli"] if c["argv"][:2] == ["quarantine", "ds2"])
    assert cli_batch["rc"] == 2 and "Nothing was moved" in cli_batch["err"]


def test_mcp_confines_every_path_it_would_read_or_run_whatever_the_platform(runs: dict[str, Any]) -> None:
    for n in (0, 1):
        plan = _mcp(runs, "generate_config", n)
        assert plan["error"] and "outside the folders this server may read" in plan["text"]
    script = _mcp(runs, "validate_config")
    assert not script["error"], script["text"]
    findings = script["data"]["findings"]
    not_followed = next(f for f in findings if f["code"] == "PATH_NOT_FOLLOWED")
    assert any("secret.toml" in p for p in not_followed["evidence"]["paths"])
    assert not any(f["code"] == "PATH_MISSING" and "outside" in json.dumps(f["evidence"]) for f in findings)
    assert _mcp(runs, "validate_config", 1)["error"]
    assert _mcp(runs, "audit_dataset", 4)["error"] and "outside" in _mcp(runs, "audit_dataset", 4)["text"]


def test_bad_arguments_read_like_the_cli(runs: dict[str, Any]) -> None:
    mcp_batch = _mcp(runs, "estimate_vram")
    cli_batch = next(c for c in runs["cli"] if "--batch" in c["argv"])
    sentence = "batch must be at most 256 (got 10000000)"
    assert sentence in mcp_batch["text"] and sentence in " ".join(cli_batch["err"].split())
    assert "frames must be at most" in _mcp(runs, "estimate_vram", 1)["text"]
    assert "batch must be a whole number" in _mcp(runs, "estimate_vram", 2)["text"]
    missing = [c for c in runs["mcp"] if c["tool"] == "audit_dataset" and not c["args"]][0]
    assert "dataset is required" in missing["text"]


def test_figures_match_benchmarks_readme(runs: dict[str, Any], world: dict[str, Any]) -> None:
    """The counts quoted in benchmarks/README.md under 'Hostile input'."""
    figures = {"inputs": len(world["inputs"]), "cli": len(runs["cli"]), "mcp": len(runs["mcp"])}
    text = (REPO / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert (f"{figures['inputs']} hostile inputs, {figures['cli']} CLI and {figures['mcp']} MCP invocations") in text, figures


def test_the_canaries_do_see_a_read_and_a_program_start(world: dict[str, Any]) -> None:
    """Positive control: the audit hook that reports 0 above reports a real read and a real run."""
    hits = watch(world["canaries"])
    try:
        world["secret"].read_bytes()
        subprocess.run([str(world["evil"])], check=True)
    finally:
        stop_watching()
        (world["outside"] / "EXECUTED").unlink()
    assert any(h.startswith("open ") and h.endswith("secret.toml") for h in hits)
    assert any(h.startswith("subprocess.Popen ") and h.endswith("evil.sh") for h in hits)
