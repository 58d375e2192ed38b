"""`diagnose(project, symptom)`: from the artist's words to ranked causes and one next step.

The symptom table (loragate/data/failure_modes.toml) maps what the artist sees to likely causes;
each cause is weighed against the project's own record (plan, captions, loss, gates, evaluation).
Confirmed causes come first, then the ones the record cannot settle, then the ruled-out ones. The
next step is one change, the first confirmed (else first open) cause's, because changing two
things at once hides which one helped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from loragate.catalog.datafile import read_data_toml
from loragate.diagnose.evidence import CHECKS
from loragate.diagnose.facts import ProjectFacts, gather_facts
from loragate.core.errors import LoragateError
from loragate.diagnose.results import CauseVerdict, Diagnosis, SymptomDiagnosis  # noqa: F401 - also imported from here

ORDER: dict[str, int] = {"confirms": 0, "unknown": 1, "rules out": 2}


@lru_cache(maxsize=1)
def symptom_table() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = read_data_toml("failure_modes.toml")["symptom"]
    for row in rows:
        for cause in row["causes"]:
            if cause["check"] not in CHECKS:
                raise LoragateError(f"failure_modes.toml names an unknown check {cause['check']!r}.", "Fix the data file.")
    return rows


def _matches(text: str, row: dict[str, Any]) -> list[str]:
    lowered = " " + re.sub(r"\s+", " ", text.lower()) + " "
    return [word for word in row["match"] if re.search(r"(?<![a-z])" + re.escape(word) + r"(?![a-z])", lowered)]


def _slots(facts: ProjectFacts) -> dict[str, str]:
    plan = facts.plan
    intermediate = [c for c in facts.checkpoints if not c.endswith(f"{plan.output_name}.safetensors")]
    earlier = intermediate[len(intermediate) // 2] if intermediate else "<an earlier checkpoint>"
    latest = facts.checkpoints[-1] if facts.checkpoints else "<the last checkpoint>"
    return {
        "name": plan.name, "earlier": earlier, "latest": latest, "dataset": plan.dataset.path, "trigger": plan.trigger,
        "lr_half": f"{plan.optimizer.learning_rate / 2:g}", "more_epochs": str(max(2, plan.schedule.max_train_epochs // 2)),
    }


def diagnose(project: str, symptom: str) -> Diagnosis:
    if not symptom or not symptom.strip():
        raise LoragateError("Say what the pictures look like.", 'e.g. --symptom "blurry and oversaturated at 1.0"')
    rows = [(row, _matches(symptom, row)) for row in symptom_table()]
    best = max((len(m) for _, m in rows), default=0)
    if best == 0:
        titles = "; ".join(row["title"] for row in symptom_table())
        raise LoragateError(f"loragate does not recognise {symptom!r} as a known symptom.", f"Describe it with one of: {titles}.")
    facts = gather_facts(project)
    slots = _slots(facts)
    diagnoses: list[SymptomDiagnosis] = []
    for row, matched in rows:
        if len(matched) != best:
            continue
        verdicts = []
        for cause in row["causes"]:
            state, evidence = CHECKS[cause["check"]](facts)
            verdicts.append(CauseVerdict(id=cause["id"], cause=cause["text"], state=state, evidence=evidence,
                                         fix=cause["fix"], step=cause["step"].format(**slots)))
        verdicts.sort(key=lambda v: ORDER[v.state])  # stable: the table's order within a state
        diagnoses.append(SymptomDiagnosis(id=row["id"], title=row["title"], matched=matched, causes=verdicts))
    first = next((c for d in diagnoses for c in d.causes if c.state == "confirms"), None) or next(
        (c for d in diagnoses for c in d.causes if c.state == "unknown"), None)
    if first is None:
        next_step = "The record rules out every listed cause: compare two checkpoints at the same seed (`loragate eval " + project + "`)."
    else:
        reason = "the record confirms it" if first.state == "confirms" else "the record cannot rule it out"
        next_step = f"Change one thing: {first.fix} ({reason}: {first.evidence}). Run: {first.step}"
    return Diagnosis(
        project=project, symptom=symptom, diagnoses=diagnoses, next_step=next_step,
        facts={"items": facts.items, "views_per_item": facts.views_per_item, "epochs": facts.plan.schedule.max_train_epochs,
               "learning_rate": facts.plan.optimizer.learning_rate, "rank": facts.plan.network.dim, "alpha": facts.plan.network.alpha,
               "captions": facts.captions.model_dump(), "anomalies": facts.anomalies, "checkpoints": facts.checkpoints,
               "evaluated": facts.evaluation is not None},
    )
