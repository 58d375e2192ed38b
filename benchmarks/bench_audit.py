"""Dataset audit + duplicate search: loragate against cleanvision and imagededup, on the same files.

    python benchmarks/bench_audit.py              # 2,000 images (several minutes)
    python benchmarks/bench_audit.py --count 200  # a quick check
    python benchmarks/bench_audit.py --formats    # 300 photos of 1-4 MP: each format's rate
    python benchmarks/bench_audit.py --formats --baseline /tmp/main  # and another checkout, side by side

`--formats` builds photoset.py's set (a third each JPEG, PNG, WebP, one folder per format) and
times loragate's `audit_dataset` (every Gate 1 image check, duplicates included, empty cache) and
cleanvision's `find_issues()` on each format's folder, alternating the two --repeats times so load
on the machine hits both alike; it prints each format's median rate and the ratio, by wall clock
and by CPU time (the process and its pool workers; the fair measure when the cores are shared).

Builds a planted dataset under benchmarks/_work/ (see planted.py; reused when it exists), then
runs each tool in its own process, one after the other, on the same folder:

- loragate: `audit_dataset` (every Gate 1 image check, duplicates included) followed by
  `find_duplicates(mirror=True)`, first with an empty cache, then again with the warm cache;
  the warm re-run is also timed through the installed CLI, process start included.
- cleanvision: `Imagelab(...).find_issues()` with its default issue types, which are the same
  checks (dark, light, blurry, low information, grayscale, odd aspect ratio, odd size, exact and
  near duplicates).
- imagededup: PHash encode + find_duplicates at its default threshold (10). imagededup declares
  torch as a hard dependency for its CNN method; loragate never installs torch, so it is
  installed with `pip install --no-deps imagededup` and its hashing module is loaded without the
  package's `methods/__init__.py` / `utils/__init__.py`, which import the CNN code. The PHash
  code that runs is imagededup's own, unchanged.

Duplicate accuracy is scored on pairs: two files form a true pair when they come from one
planted family; a tool's pairs are all pairs inside each group it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import photoset  # noqa: E402
import planted  # noqa: E402

WORK = HERE / "_work"


def _pairs_of_groups(groups: list[list[str]]) -> list[list[str]]:
    return [sorted(p) for g in groups for p in combinations(sorted(set(g)), 2)]


# --- one tool per process -------------------------------------------------------------------


def run_loragate(data: Path) -> dict:
    from loragate.dataset.audit import audit_dataset
    from loragate.duplicates.find import find_duplicates

    t0 = time.perf_counter()
    audit = audit_dataset(data)
    t1 = time.perf_counter()
    dups = find_duplicates(data, mirror=True)
    t2 = time.perf_counter()
    issues: dict[str, int] = {}
    for f in audit.findings:
        issues[f.code] = issues.get(f.code, 0) + max(1, len(f.evidence.get("files", [])) if isinstance(f.evidence, dict) else 1)
    return {
        "seconds": t2 - t0,
        "audit_seconds": t1 - t0,
        "duplicates_seconds": t2 - t1,
        "cached": audit.cached,
        "pairs": _pairs_of_groups([[Path(p).name for p in g.paths] for g in dups.groups]),
        "issues": issues,
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool workers, once joined)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_loragate_audit(data: Path) -> dict:
    from loragate.dataset.audit import audit_dataset

    import loragate

    t0, c0 = time.perf_counter(), _cpu()
    audit = audit_dataset(data)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": _cpu() - c0, "images": audit.images, "cached": audit.cached,
            "source": str(Path(loragate.__file__).parent.parent)}


def run_cleanvision(data: Path) -> dict:
    from cleanvision import Imagelab

    t0, c0 = time.perf_counter(), _cpu()
    lab = Imagelab(data_path=str(data), verbose=False)
    lab.find_issues(verbose=False)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    groups = []
    for kind in ("exact_duplicates", "near_duplicates"):
        groups += [[Path(p).name for p in s] for s in lab.info.get(kind, {}).get("sets", [])]
    summary = {str(row["issue_type"]): int(row["num_images"]) for _, row in lab.issue_summary.iterrows()}
    return {"seconds": seconds, "cpu_seconds": cpu, "pairs": _pairs_of_groups(groups), "issues": summary}


def _imagededup_phash() -> type:
    """imagededup's PHash without importing its torch-based CNN module."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("imagededup")
    if spec is None or spec.origin is None:
        raise ImportError("imagededup is not installed (pip install --no-deps imagededup)")
    root = Path(spec.origin).parent
    for sub in ("methods", "utils"):
        module = types.ModuleType(f"imagededup.{sub}")
        module.__path__ = [str(root / sub)]
        sys.modules[f"imagededup.{sub}"] = module
    from imagededup.methods.hashing import PHash

    return PHash


def run_imagededup(data: Path) -> dict:
    phash_cls = _imagededup_phash()
    t0 = time.perf_counter()
    phash = phash_cls(verbose=False)
    encodings = phash.encode_images(image_dir=str(data))
    found = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=10)
    seconds = time.perf_counter() - t0
    pairs = {tuple(sorted((a, b))) for a, dups in found.items() for b in dups}
    return {"seconds": seconds, "pairs": [list(p) for p in sorted(pairs)], "issues": {}}


def run_decode_only(data: Path) -> dict:
    """Only decoding every picture the way the audit does (JPEG at the analysis copy's draft scale,
    WebP and PNG whole through the audit's decoders), in one process: the floor of any audit that
    proves each file whole this way, and so the most its ratio to cleanvision can be."""
    from loragate.dataset.analyze import FAST_DECODERS, _analysis_size
    from loragate.imaging import open_image

    t0, c0 = time.perf_counter(), _cpu()
    count = 0
    for path in sorted(data.iterdir()):
        with path.open("rb") as handle:
            img = open_image(handle)
            if img.format == "JPEG":
                img.draft("RGB", _analysis_size(img.size))
            fast = FAST_DECODERS.get(img.format)
            if (fast(img, handle) if fast else None) is None:
                img.load()
        count += 1
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": _cpu() - c0, "images": count}


RUNNERS = {"loragate": run_loragate, "loragate-audit": run_loragate_audit, "cleanvision": run_cleanvision, "imagededup": run_imagededup,
           "decode-only": run_decode_only}


# --- driver -----------------------------------------------------------------------------------


def _in_subprocess(tool: str, data: Path, cache: Path, out: Path, source: Path | None = None) -> dict:
    env = dict(os.environ, LORAGATE_CACHE_DIR=str(cache))
    if source is not None:  # another checkout's loragate (PYTHONPATH comes before the installed one)
        env["PYTHONPATH"] = str(source)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--tool", tool, "--data", str(data), "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]}
    return json.loads(out.read_text())


def _cli_rerun_seconds(data: Path, cache: Path) -> float | None:
    exe = shutil.which("loragate")
    if exe is None:
        return None
    env = dict(os.environ, LORAGATE_CACHE_DIR=str(cache))
    t0 = time.perf_counter()
    for args in (["audit", str(data), "--json"], ["duplicates", str(data), "--mirror", "--json"]):
        subprocess.run([exe, *args], env=env, capture_output=True)
    return time.perf_counter() - t0


def score(pairs: list[list[str]], truth: dict[frozenset[str], str]) -> dict:
    found = {frozenset(p) for p in pairs}
    hits = found & set(truth)
    no_mirror = {p for p, how in truth.items() if "mirror" not in how}
    per_kind: dict[str, list[int]] = {}
    for pair, how in truth.items():
        if "+" in how or not how:
            continue  # score each transformation on original-vs-copy pairs
        per_kind.setdefault(how, [0, 0])
        per_kind[how][1] += 1
        per_kind[how][0] += pair in found
    return {
        "pairs_found": len(found),
        "recall": len(hits) / len(truth) if truth else 1.0,
        "precision": len(hits) / len(found) if found else 1.0,
        "recall_without_mirror": len(found & no_mirror) / len(no_mirror) if no_mirror else 1.0,
        "recall_by_transform": {k: round(v[0] / v[1], 3) for k, v in sorted(per_kind.items())},
    }


def per_format(count: int, seed: int, repeats: int, baseline: Path | None = None) -> None:
    """Each format's rate, loragate's audit against cleanvision, alternated and repeated; with
    `baseline`, the loragate of that checkout too, in the same rotation."""
    import statistics

    t0 = time.perf_counter()
    folders = photoset.build(WORK / f"photos-{count}-{seed}", count, seed)
    sizes = {fmt: len(list(folder.iterdir())) for fmt, folder in folders.items()}
    print(f"photos: {sizes} (1-4 MP), ready in {time.perf_counter() - t0:.0f} s", flush=True)
    cache = WORK / "cache-formats"
    tools = ("loragate-audit", "baseline", "cleanvision", "decode-only") if baseline else ("loragate-audit", "cleanvision", "decode-only")
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for fmt, folder in folders.items():
            for tool in tools:
                shutil.rmtree(cache, ignore_errors=True)  # every loragate run starts cold
                source = baseline if tool == "baseline" else None
                res = _in_subprocess("loragate-audit" if source else tool, folder, cache, WORK / "last-result.json", source)
                if "error" in res:
                    raise SystemExit(f"{tool} failed on {fmt}: {res['error']}")
                runs.setdefault((fmt, tool), []).append(res)
                where = f" ({res['source']})" if "source" in res else ""
                print(f"  {fmt:5s} {tool:15s} {res['seconds']:6.2f} s wall, {res['cpu_seconds']:6.2f} s CPU{where}", flush=True)
    shutil.rmtree(cache, ignore_errors=True)

    def median(fmt: str, tool: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[(fmt, tool)])

    for ours in [t for t in tools if t not in ("cleanvision", "decode-only")]:
        name = "loragate" if ours == "loragate-audit" else f"baseline {baseline}"
        print(f"\n{name}: medians of {repeats}; img/s by wall clock, and by CPU time (all processes: fair under load)")
        print(f"{'format':8} {'loragate img/s':>15} {'cleanvision img/s':>18} {'ratio':>6}   {'CPU: loragate':>14} {'cleanvision':>12} {'ratio':>6}")
        totals = {(tool, key): 0.0 for tool in (ours, "cleanvision") for key in ("seconds", "cpu_seconds")}
        for fmt in folders:
            row = {(tool, key): median(fmt, tool, key) for tool in (ours, "cleanvision") for key in ("seconds", "cpu_seconds")}
            for k, v in row.items():
                totals[k] += v
            _rate_row(fmt, sizes[fmt], row, ours)
        _rate_row("all", sum(sizes.values()), totals, ours)
    print("target: loragate >= 5x cleanvision's throughput for every format")
    print("\nthe floor: decoding alone, one process, CPU; cleanvision's CPU time over it is the most any audit that")
    print("decodes every file this way can reach")
    for fmt in folders:
        floor, theirs = median(fmt, "decode-only", "cpu_seconds"), median(fmt, "cleanvision", "cpu_seconds")
        print(f"{fmt:8} decode {1000 * floor / sizes[fmt]:6.1f} ms/img, loragate {1000 * median(fmt, 'loragate-audit', 'cpu_seconds') / sizes[fmt]:6.1f}"
              f" ms/img, cleanvision {1000 * theirs / sizes[fmt]:6.1f} ms/img: at most {theirs / floor:4.1f}x")


def _rate_row(label: str, n: int, row: dict[tuple[str, str], float], ours: str = "loragate-audit") -> None:
    wall = [n / row[(t, "seconds")] for t in (ours, "cleanvision")]
    cpu = [n / row[(t, "cpu_seconds")] for t in (ours, "cleanvision")]
    print(f"{label:8} {wall[0]:15.1f} {wall[1]:18.1f} {wall[0] / wall[1]:5.1f}x   {cpu[0]:14.1f} {cpu[1]:12.1f} {cpu[0] / cpu[1]:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="images in the planted set (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", action="append", default=[], choices=list(RUNNERS), help="leave a tool out")
    parser.add_argument("--formats", action="store_true", help="300 photos, each format's rate against cleanvision")
    parser.add_argument("--repeats", type=int, default=3, help="with --formats: runs per tool and format (default 3)")
    parser.add_argument("--baseline", type=Path, help="with --formats: also time the loragate of this checkout "
                        "(e.g. `git worktree add /tmp/main main`), in the same rotation")
    parser.add_argument("--tool", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.tool:  # worker mode
        result = RUNNERS[args.tool](args.data)
        args.out.write_text(json.dumps(result))
        return
    if args.formats:
        per_format(300 if args.count == 2000 else args.count, args.seed, args.repeats, args.baseline)
        return

    folder = WORK / f"set-{args.count}-{args.seed}"
    t0 = time.perf_counter()
    files = planted.build(folder, args.count, args.seed)
    data = folder / "data"
    truth = planted.true_pairs(files)
    megapixels = sum(float(r.get("megapixels", 0) or 0) for r in files.values() if r["made"] == "original")
    print(f"dataset: {len(files)} images ({megapixels / max(1, len(files)):.1f} MP average original), "
          f"{len(truth)} true duplicate pairs, ready in {time.perf_counter() - t0:.0f} s", flush=True)

    cache = WORK / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    results: dict[str, dict] = {}
    order = [("loragate", "loragate (first run)"), ("loragate", "loragate (re-run, warm cache)"),
             ("cleanvision", "cleanvision"), ("imagededup", "imagededup PHash")]
    for tool, label in order:
        if tool in args.skip:
            continue
        print(f"running {label} ...", flush=True)
        res = _in_subprocess(tool, data, cache, WORK / "last-result.json")
        if "error" not in res:
            res.update(score(res.pop("pairs"), truth))
            res["images_per_s"] = len(files) / res["seconds"]
        results[label] = res
    if "loragate" not in args.skip:
        results["loragate (re-run, warm cache)"]["cli_seconds"] = _cli_rerun_seconds(data, cache)

    print()
    print(f"{'tool':32} {'seconds':>8} {'img/s':>8} {'recall':>7} {'prec.':>7} {'rec.-mirror':>11}")
    for label, r in results.items():
        if "error" in r:
            print(f"{label:32} could not run: {r['error']}")
            continue
        print(f"{label:32} {r['seconds']:8.2f} {r['images_per_s']:8.1f} {r['recall']:7.3f} {r['precision']:7.3f} {r['recall_without_mirror']:11.3f}")
    print()
    for label, r in results.items():
        if "recall_by_transform" in r:
            print(f"{label}: recall by transformation {r['recall_by_transform']}")
    first = results.get("loragate (first run)", {})
    rerun = results.get("loragate (re-run, warm cache)", {})
    cv = results.get("cleanvision", {})
    print()
    if "seconds" in first and "seconds" in cv:
        print(f"loragate / cleanvision throughput: {cv['seconds'] / first['seconds']:.1f}x (target >= 5x)")
    if "seconds" in first and "seconds" in rerun:
        print(f"first run / warm re-run: {first['seconds'] / rerun['seconds']:.1f}x engine time (target >= 20x)"
              + (f", {first['seconds'] / rerun['cli_seconds']:.1f}x through the CLI incl. process start" if rerun.get("cli_seconds") else ""))
    for label, r in results.items():
        if r.get("issues"):
            print(f"{label} flagged: {dict(sorted(r['issues'].items()))}")
    out = WORK / f"results-{args.count}-{args.seed}.json"
    out.write_text(json.dumps({"images": len(files), "true_pairs": len(truth), "results": results}, indent=1))
    print(f"\nfull results: {out}")


if __name__ == "__main__":
    main()
