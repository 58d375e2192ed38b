"""Monitor polling speed on a large trainer log.

Writes a log of tqdm updates (the trainers' real format, one `\\r`-separated status per step) of
about SIZE_MB megabytes, then times: the first poll (parses everything), a re-poll after a small
append (parses only the tail), and a poll with nothing new. Each poll is `poll_log`, the part of
`monitor()` that scales with the log; `monitor()` adds the report, progress.md and the plot.

    python benchmarks/bench_monitor.py [SIZE_MB]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from loragate.runs.logtail import poll_log


def tqdm(n: int, total: int, loss: float) -> str:
    pct = 100 * n // total
    bar = ("█" * (pct // 10)).ljust(10)
    return f"\rsteps: {pct:3d}%|{bar}| {n}/{total} [12:34<56:07,  2.05it/s, avr_loss={loss:.3g}]"


def main(size_mb: int = 100) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.log"
        total = 2_000_000
        with open(log, "w", encoding="utf-8") as handle:
            n, written = 0, 0
            while written < size_mb * 1_000_000:
                chunk = "".join(tqdm(n + i, total, 0.08 + (i % 7) / 1000) for i in range(1, 10_001))
                handle.write(chunk)
                written += len(chunk.encode())
                n += 10_000
        size = log.stat().st_size
        t0 = time.perf_counter()
        first = poll_log(log, None)
        t1 = time.perf_counter()
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(tqdm(n + 1, total, 0.079) + "\n")
        t2 = time.perf_counter()
        second = poll_log(log, first.state)
        t3 = time.perf_counter()
        third = poll_log(log, second.state)
        t4 = time.perf_counter()
        print(f"log: {size / 1e6:.1f} MB, {n} tqdm updates")
        print(f"first poll:   {t1 - t0:7.3f} s  read {first.bytes_read / 1e6:.1f} MB, step {first.state.facts.step}")
        print(f"after append: {t3 - t2:7.3f} s  read {second.bytes_read} bytes, step {second.state.facts.step}")
        print(f"nothing new:  {t4 - t3:7.3f} s  read {third.bytes_read} bytes")

        # the whole monitor() in --log mode: report, progress.md, state file and plot
        os.environ["LORAGATE_CACHE_DIR"] = str(Path(tmp) / "cache")
        from loragate.runs.monitor import monitor

        t5 = time.perf_counter()
        monitor(log=log)
        t6 = time.perf_counter()
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(tqdm(n + 2, total, 0.078) + "\n")
        t7 = time.perf_counter()
        report = monitor(log=log)
        t8 = time.perf_counter()
        print(f"monitor() first call: {t6 - t5:7.3f} s (includes drawing the plot)")
        print(f"monitor() re-poll:    {t8 - t7:7.3f} s  read {report.bytes_read} bytes, step {report.step}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
