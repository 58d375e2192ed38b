"""MCP server cold start: spawn to the first tools/list answer, a bare `mcp` server against loragate-mcp.

    python benchmarks/bench_mcp_start.py [--runs 7]

Both are started the same way (this Python, stdio), sent initialize, initialized and tools/list,
and timed until the tools/list answer arrives. The bare server is the SDK's MCPServer with one
tool: what any server built on the SDK pays. loragate-mcp keeps its tools/list answer in
$LORAGATE_CACHE_DIR (mcp_server/tool_cache.py) and ships one in the package
(mcp_server/shipped_tools.py, used when it was built from identical files and libraries). The timed
starts:
- "cached": a cache filled by the warm-up start (which also makes a first tool call, after which the
  entry is stored), as every start after the first;
- "first start": an empty cache each time, as the first start after an install: the shipped list
  answers;
- "full build": the cache switched off ($LORAGATE_NO_TOOL_CACHE), so every tool module is imported
  and every schema built, as the first start after an edit to the code pays once.
Prints the median of each, what loragate adds and the ratio; exits 1 when loragate adds more than
--budget seconds (default 0.2) to a cached or a first start, or, with --uncached, to the full build too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = """
from mcp.server import MCPServer
server = MCPServer("bare")

@server.tool()
def echo(text: str) -> str:
    \"\"\"Return the text.\"\"\"
    return text

server.run()
"""
MESSAGES = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize",
     "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
]
# A first tool call: an uncached start checks the data files then, and only then stores its entry.
FIRST_CALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_models", "arguments": {}}}


def cold_start(argv: list[str], cache: str | None = None, use_cache: bool = True, call: bool = False) -> tuple[float, int]:
    """Seconds from spawn to the tools/list answer, and how many tools it listed; with `call`, it
    then waits for the answer to a first tool call too (not timed)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("LORAGATE_NO_TOOL_CACHE", None)
    if cache is not None:
        env["LORAGATE_CACHE_DIR"] = cache
    if not use_cache:
        env["LORAGATE_NO_TOOL_CACHE"] = "1"
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=ROOT, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in MESSAGES + ([FIRST_CALL] if call else [])).encode())
    proc.stdin.flush()
    answer: tuple[float, int] | None = None
    try:
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                answer = time.perf_counter() - started, len(message["result"]["tools"])
            if answer is not None and (not call or message.get("id") == 3):
                return answer
        raise RuntimeError(f"{argv} ended without answering tools/list")
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.2, help="seconds loragate may add (default 0.2)")
    parser.add_argument("--uncached", action="store_true", help="hold the full build (cache off) to the budget too")
    args = parser.parse_args()
    loragate = [sys.executable, "-c", "from mcp_server.server import main; main()"]
    servers = {"bare mcp": [sys.executable, "-c", BARE], "cached": loragate, "first start": loragate,
               "full build": loragate}
    times: dict[str, list[float]] = {name: [] for name in servers}
    tools: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as cache:
        cold_start(servers["bare mcp"])  # warm the file cache once, for both alike
        cold_start(loragate, cache, call=True)  # and fill loragate's tool cache, as any earlier start with a tool call has
        for _ in range(args.runs):
            for name, argv in servers.items():  # interleaved, so load on the machine hits all alike
                with tempfile.TemporaryDirectory() as empty:
                    where = empty if name == "first start" else cache
                    seconds, tools[name] = cold_start(argv, where, use_cache=name != "full build")
                times[name].append(seconds)
    bare, ours = statistics.median(times["bare mcp"]), statistics.median(times["cached"])
    for name in servers:
        t = times[name]
        print(f"{name:13s} median {statistics.median(t):.3f} s  (min {min(t):.3f}, max {max(t):.3f}; {tools[name]} tools)")
    print(f"cached start: loragate adds {ours - bare:.3f} s on top of the bare server; ratio {ours / bare:.2f}")
    first = statistics.median(times["first start"])
    print(f"first start after an install (empty cache, shipped list) adds {first - bare:.3f} s; ratio {first / bare:.2f}")
    full = statistics.median(times["full build"])
    print(f"full build (cache off, as after an edit to the code) adds {full - bare:.3f} s; ratio {full / bare:.2f}")
    over = max(ours, first) - bare > args.budget or (args.uncached and full - bare > args.budget)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
