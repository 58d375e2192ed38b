"""Hostile-input rules one at a time: file modes, special files, records holding null, the HTTP
door beyond this machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loragate.atomic import atomic_write_text
from loragate.captions.writer import write_captions
from loragate.fsguard import NotARegularFile, TooLarge, read_capped, read_json_object
from loragate.runs.monitor import _load_states
from tests.media import write_caption, write_image


def test_written_files_keep_the_umask_and_rewritten_captions_keep_their_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.json", "{}")
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    write_image(tmp_path / "ds" / "a.png", 64, 64)
    write_caption(tmp_path / "ds" / "a.txt", "mira, old words")
    os.chmod(tmp_path / "ds" / "a.txt", 0o664)
    report = write_captions(tmp_path / "ds", {"a.png": "mira, new words"}, "mira", overwrite=True)
    assert report.overwritten == 1
    assert (tmp_path / "ds" / "a.txt").stat().st_mode & 0o777 == 0o664
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.endswith(".tmp")]


def test_special_files_are_never_opened_and_regular_ones_are_capped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    started = time.monotonic()
    with pytest.raises(NotARegularFile):
        read_capped(tmp_path / "pipe.txt")
    with pytest.raises(NotARegularFile):
        read_capped("/dev/zero")
    assert time.monotonic() - started < 5
    (tmp_path / "big.txt").write_bytes(b"x" * 2048)
    with pytest.raises(TooLarge):
        read_capped(tmp_path / "big.txt", cap=1024)


@pytest.mark.parametrize("content", ["null", "[]", "[" * 100_000 + "]" * 100_000, '"text"'])
def test_records_holding_null_lists_or_deep_nesting_read_as_damaged(tmp_path: Path, content: str) -> None:
    path = tmp_path / "monitor-state.json"
    path.write_text(content)
    with pytest.raises(ValueError):
        read_json_object(path)
    assert _load_states(path) == {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return int(s.getsockname()[1])


def _post(url: str, headers: dict[str, str]) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_http_beyond_this_machine_needs_a_token_and_keeps_host_and_origin_checks(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LORAGATE_MCP_TOKEN"}
    env["LORAGATE_ROOT"] = str(tmp_path)
    refused = subprocess.run([sys.executable, "-m", "mcp_server.server", "--http", "--host", "0.0.0.0"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "LORAGATE_MCP_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    token = "t" * 32
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mcp_server.server", "--http", "--host", "127.0.0.2", "--port", str(port)],
                              env={**env, "LORAGATE_MCP_TOKEN": token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.2:{port}/mcp"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.2", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        auth = {"authorization": f"Bearer {token}"}
        assert _post(url, {}) == 401
        assert _post(url, {"authorization": "Bearer wrong"}) == 401
        assert _post(url, auth) == 200
        assert _post(url, {**auth, "host": "evil.example"}) == 421
        assert _post(url, {**auth, "origin": "http://evil.example"}) == 403
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_full_disk_is_a_sentence_in_both_doors_never_a_traceback(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import anyio
    from mcp import Client
    from typer.testing import CliRunner

    import loragate.atomic
    from loragate.cli import app
    from mcp_server.server import build_server

    for i in range(2):
        write_image(workspace / "ds" / f"a{i}.png", 64, 64, seed=i)
        write_caption(workspace / "ds" / f"a{i}.txt", "mira, a")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(loragate.atomic.os, "fsync", full)
    result = CliRunner().invoke(app, ["audit", str(workspace / "ds"), "--trigger", "mira", "--name", "p"])
    assert result.exit_code == 2 and not isinstance(result.exception, OSError)
    assert "the disk is full" in result.output and "Traceback" not in result.output

    async def call() -> str:
        async with Client(build_server()) as client:
            answer = await client.call_tool("audit_dataset", {"dataset": "ds", "trigger": "mira", "name": "p"})
            assert answer.is_error
            return answer.content[0].text

    assert "the disk is full" in anyio.run(call)
    assert not list((workspace / "grimoire").rglob("*.tmp")), "a temporary file was left behind"
