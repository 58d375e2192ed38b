"""Shared by the monitor tests: fixture logs with their output folder filled in, tqdm lines."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def fixture_log(name: str, dest: Path, out: Path) -> Path:
    """Copy a fixture log, pointing its `{OUT}` checkpoint paths at `out`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((FIXTURES / name).read_bytes().replace(b"{OUT}", str(out).encode()))
    return dest


def tqdm(n: int, total: int, loss: float, seconds_per_step: float = 0.5) -> str:
    """A tqdm status as the trainers print it (reference sd-scripts.md section 4.2)."""
    pct = 100 * n // total
    bar = ("█" * (pct // 10)).ljust(10)
    elapsed = int(n * seconds_per_step)
    left = int((total - n) * seconds_per_step)
    rate = f"{1 / seconds_per_step:5.2f}it/s" if seconds_per_step <= 1 else f"{seconds_per_step:5.2f}s/it"
    return (f"\rsteps: {pct:3d}%|{bar}| {n}/{total} [{elapsed // 60:02d}:{elapsed % 60:02d}<"
            f"{left // 60:02d}:{left % 60:02d}, {rate}, avr_loss={loss:.3g}]")


def make_job(project: str, processes: list[dict], *, status: str = "running", events: list[str] | None = None,
             output_dir: Path | None = None, output_names: list[str] | None = None):
    """Write grimoire/training/PROJECT/job.json as the supervisor would."""
    from loragate.runs.job import Job, JobEvent, ProcessRecord, write_job
    from loragate.workspace import project_dir

    folder = project_dir(project, create=True)
    out = output_dir or folder / "output"
    job = Job(
        job_id="j1", project=project, status=status, output_dir=str(out), output_names=output_names or ["mylora"],
        processes=[ProcessRecord(**p) for p in processes], events=[JobEvent(kind="note", message=m) for m in events or []],
    )
    write_job(job)
    return job


def train_argv(out: Path, name: str = "mylora", *extra: str) -> list[str]:
    return ["python", "wan_train_network.py", "--output_dir", str(out), "--output_name", name, *extra]


def write_lora(path: Path) -> Path:
    from tests.media import write_safetensors_header

    return write_safetensors_header(path, {"lora_unet_blocks_0.lora_down.weight": ("F32", [4, 16])})
