"""The project facts a diagnosis weighs, read from the record: plan, captions, checkpoints, the
run's loss anomalies, the gate ledger and the evaluation."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.evaluate.gate import read_evaluation
from loragate.evaluate.model import EvalReport
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan

COLOUR_WORDS = re.compile(
    r"\b(red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|grey|gray|gold|golden|silver|teal|cyan|magenta|"
    r"beige|crimson|navy|pastel|monochrome|colou?rful|warm tones?|cool tones?)\b",
    re.IGNORECASE,
)


class CaptionFacts(BaseModel):
    captions: int = 0
    without_trigger: int = 0
    trigger_first: int = Field(default=0, description="Captions that start with the trigger.")
    with_colour_words: int = 0
    mean_words: float = 0.0


class ProjectFacts(BaseModel):
    project: str
    plan: TrainingPlan
    items: int = Field(description="Pictures and clips the plan trains on.")
    repeats: int = Field(default=1, description="Times each item is repeated per epoch.")
    views_per_item: float = Field(description="How many times the run shows the trainer each picture: epochs x repeats.")
    captions: CaptionFacts
    checkpoints: list[str] = Field(default_factory=list, description="Checkpoint files, oldest first.")
    anomalies: list[str] = Field(default_factory=list, description="Loss anomaly codes from the run.")
    gate_blocking: list[str] = Field(default_factory=list, description="Blocking codes recorded by the gates.")
    gates_go: list[int] = Field(default_factory=list, description="Gates whose latest verdict is GO.")
    evaluation: EvalReport | None = None


def caption_facts(plan: TrainingPlan) -> CaptionFacts:
    folder = Path(plan.dataset.path)
    facts = CaptionFacts()
    if not folder.is_dir():
        return facts
    words = 0
    trigger = plan.trigger.lower()
    for path in sorted(folder.rglob(f"*{plan.dataset.caption_extension}")):
        if "_quarantine" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        facts.captions += 1
        words += len(text.split())
        facts.without_trigger += trigger not in text.lower()
        facts.trigger_first += text.lower().startswith(trigger)
        facts.with_colour_words += bool(COLOUR_WORDS.search(text))
    facts.mean_words = round(words / facts.captions, 1) if facts.captions else 0.0
    return facts


def _anomalies(project: str) -> list[str]:
    from loragate.runs.job import read_job

    if read_job(project) is None:
        return []
    from loragate.runs.monitor import monitor

    try:
        return sorted({a.code for a in monitor(project, plot=False).anomalies})
    except LoragateError:
        return []


def _gates(project: str) -> tuple[list[str], list[int]]:
    """Blocking codes the gates recorded, and the gates whose latest verdict is GO."""
    from loragate.gates.ledger import read_ledger

    try:
        ledger = read_ledger(project)
    except LoragateError:  # a damaged ledger says nothing about the LoRA's pictures
        return [], []
    codes = sorted({code for record in ledger.latest.values() for code in record.blocking})
    return codes, sorted(record.gate for record in ledger.latest.values() if record.verdict == "GO")


def gather_facts(project: str) -> ProjectFacts:
    from loragate.runs.retention import project_checkpoints

    plan = load_project_plan(project)
    family = get_family(plan.model)
    subsets = plan.dataset.subsets
    items = sum(s.count for s in subsets) or (plan.dataset.image_count + (plan.dataset.video_count if family.video else 0))
    repeats = max([s.num_repeats for s in subsets] or [plan.dataset.num_repeats])
    views = float(plan.schedule.max_train_epochs * repeats)
    if plan.schedule.max_train_steps is not None and items:
        views = plan.schedule.max_train_steps * plan.schedule.batch_size / items
    blocking, go = _gates(project)
    return ProjectFacts(
        project=project, plan=plan, items=items, repeats=repeats, views_per_item=round(views, 1), captions=caption_facts(plan),
        checkpoints=[c.file for c in project_checkpoints(project).checkpoints],
        anomalies=_anomalies(project), gate_blocking=blocking, gates_go=go, evaluation=read_evaluation(project),
    )
