"""The draft eval.md in the skill's format, for the artist to finish with Claude.

The measurements fill what can be measured; what needs eyes (quality at the sweet spot, issues at
high weight) is left as a question. A file the artist has edited is never overwritten: the draft
then goes to eval-draft.md beside it.
"""

from __future__ import annotations

from pathlib import Path

from loragate.atomic import atomic_write_text
from loragate.evaluate.model import EVAL_MD, CheckpointMeasure, EvalReport, WeightEffect

DRAFT_MARK = "<!-- draft written by loragate eval: delete this line when you edit, and loragate never overwrites the file -->"
# The suggested starting weight reaches this share of the full (weight 1.0) change.
SUGGEST_SHARE = 0.6


def suggested_weight(profile: list[WeightEffect]) -> float | None:
    full = next((e.mean_change for e in profile if e.weight == 1.0), None) or max((e.mean_change for e in profile), default=0.0)
    if not full:
        return None
    return next((e.weight for e in profile if e.mean_change >= SUGGEST_SHARE * full), None)


def _measure_lines(measure: CheckpointMeasure) -> list[str]:
    profile = ", ".join(f"{e.weight:g}: {e.mean_change:.3f}" for e in measure.strength_profile) or "not measured"
    lines = [f"### {measure.checkpoint}", f"- Takes effect: {'yes' if measure.takes_effect else 'NO - no visible change at the strongest weight'}",
             f"- Change against no LoRA, by weight: {profile}"]
    if measure.nearest_training_distance is not None:
        lines.append(f"- Closest output to a training picture: {measure.nearest_training_distance} bits apart (0 = the same picture)")
    for copy in measure.copies:
        lines.append(f"- Near-copy of a training picture: {Path(copy.output).name} ~ {copy.training_file} ({copy.distance} bits)")
    if measure.clip_score is not None:
        lines.append(f"- CLIP score (picture against its prompt, mean above weight 0): {measure.clip_score:.1f}")
    if measure.reference_similarity is not None:
        lines.append(f"- Similarity to your reference pictures (CLIP, 1 = the same): {measure.reference_similarity:.3f}")
    if measure.grid:
        lines.append(f"- Grid: {measure.grid}")
    return lines


def _score_lines(report: EvalReport) -> list[str]:
    """The optional scores' setting and the base model's own, to read the checkpoints' against."""
    scores = report.scores
    if scores is None:
        return []
    base = [f"CLIP score {scores.base_clip_score:.1f}" if scores.base_clip_score is not None else "",
            f"similarity to the references {scores.base_reference_similarity:.3f}" if scores.base_reference_similarity is not None else ""]
    said = " and ".join(b for b in base if b)
    return ["", "## Optional scores", f"- CLIP model: {scores.model}; {scores.references} reference picture(s) held back",
            f"- Without the LoRA (weight 0): {said or 'not measured'}",
            "- Higher than without the LoRA means the pictures follow the prompt (or look like your references) more closely."]


def render_eval_md(report: EvalReport) -> str:
    chosen = next((m for m in reversed(report.measures) if m.takes_effect), report.measures[-1] if report.measures else None)
    weight = suggested_weight(chosen.strength_profile) if chosen else None
    own = sum(1 for p in report.prompts if p.own)
    standard = len(report.prompts) - own
    lines = [
        f"# Evaluation: {report.project}",
        DRAFT_MARK,
        "- **Sweet spot**: (look at the grid: the widest range of weights where faces stay clean, the idea is visible, the prompt "
        + "still works and nothing from the dataset creeps in)"
        + (f"; the measured change reaches 60% of full strength at {weight:g}" if weight else ""),
        f"- **Recommended weight**: {f'{weight:g} (a starting point from the measurements; confirm by eye)' if weight else '(to choose from the grid)'}",
        "- **Quality at sweet spot**: (describe what you see)",
        "- **Issues at high weight**: (describe what you see at 0.9 and 1.0)",
        f"- **Checkpoint used**: {chosen.checkpoint if chosen else '(none generated)'}",
        f"- **Test prompts**: {standard} standard prompts + {own} custom",
        "",
        "## Measured (no model needed)",
    ]
    for measure in report.measures:
        lines += _measure_lines(measure)
    lines += _score_lines(report)
    if report.comparison:
        lines.append(f"\nCheckpoints side by side: {report.comparison}")
    if report.findings:
        lines += ["", "## Findings"] + [f"- **{f.severity}** {f.code}: {f.message} {f.fix}".rstrip() for f in report.findings]
    lines += ["", "## Prompts and seeds", f"Engine: {report.engine}. Weights: {', '.join(f'{w:g}' for w in report.weights)}."]
    lines += [f"- {p.label}: `{p.text}` (seed {p.seed})" for p in report.prompts]
    if report.notes:
        lines += ["", "## Notes"] + [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def write_eval_md(folder: Path, report: EvalReport) -> Path:
    path = folder / EVAL_MD
    text = render_eval_md(report)
    if path.is_file() and DRAFT_MARK not in path.read_text(encoding="utf-8", errors="replace"):
        path = folder / "eval-draft.md"  # the artist's eval.md stays as they wrote it
    atomic_write_text(path, text)
    return path
