"""`register_lora`: the evaluated LoRA into grimoire/studio.md so /art can use it, and the project closed.

Registration needs a current evaluation of the file (loragate.evaluate.gate). It writes, each
atomically and each the same when repeated: the studio.md entry (the artist's own lines kept),
`status.md` set to COMPLETE, the evaluation's pictures archived in `training/NAME/eval/`, and a
JSON with the same facts beside the LoRA. The LoRA file itself is never opened for writing.
"""

from __future__ import annotations

import fcntl
import shutil
from datetime import datetime, timezone
from pathlib import Path

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.evaluate.gate import require_evaluation
from loragate.evaluate.model import EvalReport
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan
from loragate.registry.studio_loras import (
    GOOD_FOR_PLACEHOLDER,
    RegisteredLora,
    read_entries,
    upsert,
)
from loragate.workspace import grimoire_dir, project_dir
from loragate.registry.results import LoraList, Registration  # noqa: F401 - also imported from here

ARCHIVE_DIR = "eval"
STATUS_FILE = "status.md"
SIDECAR_SUFFIX = ".loragate.json"


def _checkpoint_ref(report: EvalReport, checkpoint: Path):
    key = checkpoint.resolve()
    return next((c for c in report.checkpoints if c.path and Path(c.path).resolve() == key), None)


def _archive(report: EvalReport, label: str, folder: Path) -> list[str]:
    """The chosen checkpoint's grid and pictures (with the no-LoRA reference row) and the comparison."""
    measure = next((m for m in report.measures if m.checkpoint == label), None)
    files = [Path(p) for p in ([measure.grid] if measure and measure.grid else []) + (measure.animations if measure else [])]
    files += [Path(report.comparison)] if report.comparison else []
    first = report.checkpoints[0].label if report.checkpoints else None
    files += [Path(c.output) for c in report.cells if c.output and (c.checkpoint == label or (c.weight == 0.0 and c.checkpoint == first))]
    archived = []
    for source in files:
        if not source.is_file():
            continue
        target = folder / source.name
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        archived.append(str(target))
    return archived


def _status_text(old: str, project: str, lora: RegisteredLora) -> str:
    line = f"- **Status**: COMPLETE (registered {lora.date}: {Path(lora.file).name} at weight {lora.weight:g})"
    lines = old.splitlines() if old.strip() else [f"# Status: {project}"]
    for i, existing in enumerate(lines):
        if existing.strip().lower().startswith("- **status**"):
            lines[i] = line
            return "\n".join(lines) + "\n"
    return "\n".join(lines[:1] + [line] + lines[1:]) + "\n"


def checked_with(plan: TrainingPlan, stacked: list[str]) -> str | None:
    """What the evaluation rendered with besides the LoRA, so whoever uses it renders the same way."""
    if not stacked:
        return None
    files = ", ".join(Path(f).name for f in stacked)
    spec = plan.lightning
    trained = sorted([*spec.merged, *spec.premerged]) if spec else []
    how = (f"trained on base + Lightning ({', '.join(trained)}-noise), so use this Lightning release" if trained
           else "trained on the plain base")
    return f"Lightning stacked at 1.0, 4 steps, CFG 1 ({files}); {how}"


def register_lora(project: str, checkpoint: str, weight: float, good_for: str | None = None) -> Registration:
    if not 0.0 < weight <= 2.0:
        raise LoragateError(f"A recommended weight of {weight:g} is not usable.", "Give the sweet spot from the evaluation, e.g. --weight 0.7.")
    plan = load_project_plan(project)
    path = Path(checkpoint).expanduser()
    if not path.is_absolute() and not path.exists():
        path = Path(plan.output_dir) / path
    if not path.is_file():
        raise LoragateError(f"There is no LoRA file {checkpoint}.", f"Pick one from `loragate checkpoints {project}`.")
    report = require_evaluation(project, path)
    ref = _checkpoint_ref(report, path)
    family = get_family(plan.model)
    epochs = ref.epoch if ref and ref.epoch is not None else (plan.schedule.max_train_epochs if ref and ref.role == "final" else None)
    lora = RegisteredLora(
        name=project, file=str(path.resolve()), high_noise_file=ref.high_noise_path if ref and ref.high_noise_path != ref.path else None,
        type=plan.training_type, trigger=plan.trigger, weight=round(weight, 3), base_model=f"{family.display_name} ({plan.model})",
        good_for=good_for.strip() if good_for and good_for.strip() else GOOD_FOR_PLACEHOLDER,
        date=datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d"), preset=plan.preset,
        epochs=epochs, rank=plan.network.dim, checkpoint=ref.label if ref else path.name,
        checked_with=checked_with(plan, report.lightning),
    )
    studio = grimoire_dir() / "studio.md"
    folder = project_dir(project)
    with open(grimoire_dir() / ".studio.lock", "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two registrations at once must not lose each other's entry
        old = studio.read_text(encoding="utf-8") if studio.is_file() else "# Studio\n"
        new = upsert(old, lora)
        if new != old:
            atomic_write_text(studio, new)
    lora = next(entry for entry in read_entries(new) if entry.name == project)
    status = folder / STATUS_FILE
    old_status = status.read_text(encoding="utf-8") if status.is_file() else ""
    new_status = _status_text(old_status, project, lora)
    if new_status != old_status:
        atomic_write_text(status, new_status)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)  # beside the LoRA; the LoRA itself is untouched
    atomic_write_json(sidecar, {**lora.model_dump(), "eval_md": report.eval_md, "registered_in": str(studio)})
    archived = _archive(report, ref.label, folder / ARCHIVE_DIR) if ref else []
    return Registration(lora=lora, studio_md=str(studio), status_md=str(status), sidecar=str(sidecar), archived=archived,
                        changed=new != old or new_status != old_status)


def list_loras() -> LoraList:
    """The registered LoRAs as /art reads them from studio.md."""
    studio = grimoire_dir() / "studio.md"
    text = studio.read_text(encoding="utf-8") if studio.is_file() else ""
    return LoraList(studio_md=str(studio), loras=read_entries(text))
