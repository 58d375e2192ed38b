"""False groups and recall of the duplicate finder on look-alike but distinct pictures.

    python benchmarks/bench_duplicates.py [--photos 8 --crops 24 --series 4 --paintings 8]

Builds the set of benchmarks/lookalikes.py in a temporary folder, runs find_duplicates on it and
prints the groups that hold different pictures, the false-group rate and the recall of true copies.
Exits 1 when a group holds two different pictures or a copy is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.lookalikes import build, score  # noqa: E402
from loragate.duplicates.find import find_duplicates  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--crops", type=int, default=24)
    parser.add_argument("--series", type=int, default=4)
    parser.add_argument("--paintings", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lookalikes"
        truth = build(folder, args.photos, args.crops, args.series, args.paintings, seed=args.seed)
        started = time.perf_counter()
        report = find_duplicates(folder)
        seconds = time.perf_counter() - started
        result = score(report.groups, truth)
        for group in report.groups:
            if len({truth[Path(p).name] for p in group.paths}) > 1:
                print(f"FALSE {group.kind} group of {len(group.paths)}: {', '.join(group.paths)}")
    print(f"{result['files']} files ({result['pictures']} different pictures, {result['copies']} true copies); "
          f"{result['groups']} groups, {result['false_groups']} false ({result['false_group_rate']:.1%}), "
          f"{result['wrong_pairs']} wrong pairs; copies found {result['copies_found']}/{result['copies']} "
          f"(recall {result['recall']:.3f}); {seconds:.1f} s")
    return 0 if result["false_groups"] == 0 and result["recall"] == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
