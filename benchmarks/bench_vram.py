"""Every published VRAM figure beside loragate's estimate.

Run: python benchmarks/bench_vram.py
Prints one row per figure in loragate/data/vram_published.toml and exits non-zero when any estimate
falls outside (0.7 X, X], X being the GPU size the source says the configuration fits (or the
reading it measured).
"""

from __future__ import annotations

import sys

from loragate.vram.published import LOW, check_published


def main() -> int:
    rows = check_published()
    print(f"{'figure':30} {'kind':8} {'X GB':>6} {'estimate':>9} {'ratio':>6}  ok")
    for row in rows:
        flag = "ok" if row.ok else "OUTSIDE"
        print(f"{row.id:30} {row.kind:8} {row.gpu_gb:6.1f} {row.estimate_gb:9.2f} {row.ratio:6.3f}  {flag}")
    bad = [row.id for row in rows if not row.ok]
    ratios = [row.ratio for row in rows]
    print(f"\n{len(rows)} figures, ratio min {min(ratios):.3f} max {max(ratios):.3f}; target ({LOW}, 1.0]")
    if bad:
        print("outside the target: " + ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
