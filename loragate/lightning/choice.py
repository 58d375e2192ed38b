"""The artist's Lightning choice (one input model for the CLI and MCP) and the plan part it makes.

Two ways are in use (resources/wan/WAN_LORA_CLAUDE_CODE_REFERENCE.md §11):
- train on the plain base and stack Lightning at inference: the default, since a LoRA trained on
  the distilled model is reported to work badly and binds the LoRA to one Lightning version;
- train an expert on base + Lightning: musubi `--base_weights` merges the expert's Lightning file
  into that expert's run (`merge`), or the artist gives an expert file that already holds it
  (`premerged`). The LoRA then only behaves with that exact Lightning release.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.catalog.models import ModelFamily
from loragate.core.errors import LoragateError
from loragate.core.plan import ExpertName, LightningSpec, TrainingPlan

ExpertsChoice = Literal["high", "low", "both"]

STACK_WHY = (
    "Your LoRA trains on the plain Wan 2.2 experts and Lightning is stacked on top when you render (4 steps, CFG 1). "
    "This is the usual advice: a LoRA trained on the 4-step model is reported to lose quality and then works only "
    "with that one Lightning release; trained on the base it also works without Lightning and with later releases."
)
MERGE_WHY = (
    "The {experts} trains on the base with Lightning merged in, so it learns on the model you render with; "
    "the LoRA then behaves as intended only with this exact Lightning release ({files}) stacked at inference."
)


# The strongest Lightning multiplier a plan takes (1.0 is the release as published).
LIGHTNING_STRENGTH_MAX = 2.0


class LightningChoice(BaseModel):
    """Wan 2.2 Lightning, as the artist asks for it (`plan new --lightning-*`, generate_config's `lightning`)."""

    model_config = ConfigDict(extra="forbid")

    high_noise: str = Field(description="Lightning LoRA for the high-noise expert (e.g. .../high_noise_model.safetensors).")
    low_noise: str = Field(description="Lightning LoRA for the low-noise expert (e.g. .../low_noise_model.safetensors).")
    strength: float = Field(default=1.0, gt=0, le=LIGHTNING_STRENGTH_MAX, description="Multiplier for stacking and merging (1.0 as released).")
    merge: list[ExpertsChoice] = Field(
        default_factory=list,
        description="Experts to train on base + Lightning, merged by the trainer (--base_weights); empty: train on the "
                    "base and stack Lightning at inference (recommended).")
    premerged: list[ExpertsChoice] = Field(
        default_factory=list, description="Experts whose DiT file (weights dit / dit_high_noise) already has Lightning merged in.")


def _experts(values: list[ExpertsChoice]) -> list[ExpertName]:
    out: list[ExpertName] = []
    for value in values:
        for expert in (("high", "low") if value == "both" else (value,)):
            if expert not in out:
                out.append(expert)
    return out


def lightning_spec(choice: LightningChoice, family: ModelFamily, trained: list[ExpertName], where: dict[str, str]) -> LightningSpec:
    """The plan's Lightning part; `where` maps high/low to the paths as the training machine sees them."""
    if not family.experts:
        raise LoragateError(
            f"Lightning (Wan2.2-Lightning) is a pair of LoRAs for the two Wan 2.2 experts; {family.display_name} has one model.",
            "Pick wan2.2-t2v-a14b or wan2.2-i2v-a14b, or leave the Lightning options out.",
        )
    merged, premerged = _experts(choice.merge), _experts(choice.premerged)
    both = sorted(set(merged) & set(premerged))
    if both:
        raise LoragateError(
            f"The {both[0]}-noise expert is both merged by the trainer and given pre-merged: Lightning would be in it twice.",
            "Choose one per expert: --lightning-merge for the trainer to merge it, --lightning-premerged when your file already holds it.",
        )
    untrained = sorted((set(merged) | set(premerged)) - set(trained))
    if untrained:
        raise LoragateError(
            f"The plan does not train the {untrained[0]}-noise expert, so there is nothing to merge Lightning into for it.",
            "Train that expert too (--expert both), or leave it out of the Lightning merge.",
        )
    if where["high"] == where["low"]:
        raise LoragateError(
            "The same file is given as Lightning for both experts; Lightning ships one file per expert (high_noise_model, low_noise_model).",
            "Give the high-noise file with --lightning-high and the low-noise file with --lightning-low.",
        )
    spec = LightningSpec(high_noise=where["high"], low_noise=where["low"], strength=choice.strength, merged=merged, premerged=premerged)
    spec.note = choice_note(spec)
    return spec


def choice_note(spec: LightningSpec) -> str:
    """Which form the artist gets, per expert, and why, in plain words."""
    on_lightning = [*spec.merged, *spec.premerged]
    if not on_lightning:
        return STACK_WHY
    names = " and ".join(f"{e}-noise expert" for e in sorted(on_lightning))
    files = ", ".join(lightning_file(spec, e) for e in sorted(on_lightning))
    note = MERGE_WHY.format(experts=names, files=files)
    if spec.merged:
        note += (f" The trainer merges it into the {' and '.join(sorted(spec.merged))}-noise run at start (musubi --base_weights); "
                 "nothing is written to disk.")
    if spec.premerged:
        note += (f" The {' and '.join(sorted(spec.premerged))}-noise file is used as you gave it: loragate cannot see in a "
                 "file's header whether Lightning was really merged into it, so it relies on your word.")
    rest = sorted({"high", "low"} - set(on_lightning))
    if rest:
        note += f" The {rest[0]}-noise expert trains on the plain base; Lightning is stacked on it at inference."
    return note


def lightning_file(spec: LightningSpec, expert: str) -> str:
    return spec.high_noise if expert == "high" else spec.low_noise


def merged_file(plan: TrainingPlan, expert: str | None) -> str | None:
    """The Lightning file the trainer merges into this expert's run, if any."""
    spec = plan.lightning
    if spec is None or expert not in spec.merged:
        return None
    return lightning_file(spec, expert)


def imported_spec(choice: LightningChoice | None, family: ModelFamily, trained: list[ExpertName],
                  merged: dict[str, str], strength: float | None, where: dict[str, str]) -> LightningSpec | None:
    """The Lightning part of an imported setup. What the trainer merges (each expert's file and the
    multiplier) is read from the script; the files it does not name and the pre-merged experts are the
    artist's word, given as the same LightningChoice `plan new` takes (`where`: its paths as the
    training machine sees them)."""
    if choice is None and not merged:
        return None
    files: dict[str, str] = dict(merged)
    if choice is not None:
        asked = _experts(choice.merge)
        if asked and sorted(asked) != sorted(merged):
            runs = " and ".join(f"{e}-noise" for e in sorted(merged)) or "no"
            raise LoragateError(
                f"Lightning merge was asked for the {' and '.join(sorted(asked))}-noise expert(s), but your script merges it "
                f"(--base_weights) into the {runs} run(s).",
                "Leave the merge option out (the script says which experts it merges), or change the script and import again.",
            )
        for expert, given in (("high", where["high"]), ("low", where["low"])):
            if expert in merged and merged[expert] != given:
                raise LoragateError(
                    f"Your script merges {merged[expert]} into the {expert}-noise run (--base_weights), "
                    f"but {given} was given as that expert's Lightning file.",
                    f"Give the file the script merges for --lightning-{expert}, or leave it out.",
                )
            files.setdefault(expert, given)
    missing = [e for e in ("high", "low") if e not in files]
    if missing:
        raise LoragateError(
            f"Your script merges Lightning into the {' and '.join(sorted(merged))}-noise run (--base_weights) but does not "
            f"name the {missing[0]}-noise expert's Lightning file, which the LoRA is rendered with.",
            f"Import again with --lightning-{missing[0]} FILE (its {missing[0]}_noise_model.safetensors), and the other file too.",
        )
    asked_strength = choice.strength if choice is not None else 1.0
    full = LightningChoice(high_noise=files["high"], low_noise=files["low"],
                           strength=strength if strength is not None else asked_strength,
                           merge=sorted(merged), premerged=choice.premerged if choice is not None else [])  # type: ignore[arg-type]
    return lightning_spec(full, family, trained, {"high": files["high"], "low": files["low"]})
