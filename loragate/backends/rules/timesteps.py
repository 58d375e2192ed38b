"""Wan timesteps: each Wan 2.2 expert's range, the sampler that makes ranges work, the boundary flag."""

from __future__ import annotations

from typing import Iterator

from loragate.backends.command_family import named_weights
from loragate.catalog.models import ExpertFacts, ModelFamily
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

_NO_SHIFT_SAMPLERS = {"sigma", "uniform", "sigmoid"}


def _range(inv: Invocation) -> tuple[float, float] | None:
    if not (inv.has("--min_timestep") or inv.has("--max_timestep")):
        return None
    return inv.number("--min_timestep", 0.0) or 0.0, inv.number("--max_timestep", 1000.0) or 1000.0


def _expert_of(setup: Setup, inv: Invocation, family: ModelFamily) -> ExpertFacts | None:
    """The expert a single-expert Wan 2.2 run trains: from the file name, else from the range written."""
    w = named_weights(inv)
    if w and w.expert:
        return next((e for e in family.experts if e.name == w.expert), None)
    rng = _range(inv)
    if rng is None:
        return None
    # the range side nearer 1000 is the high-noise expert
    return next((e for e in family.experts if e.name == ("high" if rng[0] > 0 else "low")), None)


def single_experts(setup: Setup) -> Iterator[tuple[Invocation, ModelFamily, ExpertFacts | None]]:
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        if family and family.experts and not inv.has("--dit_high_noise"):
            yield inv, family, _expert_of(setup, inv, family)


@rule("WAN_EXPERT_TIMESTEPS", "block", "A Wan 2.2 expert trained outside its timestep range.",
      "reference musubi-tuner.md §5.1 (docs/wan.md table: T2V low 0-875 / high 875-1000; I2V 0-900 / 900-1000)")
def expert_timesteps(setup: Setup) -> Iterator[Hit]:
    for inv, family, expert in single_experts(setup):
        if expert is None:
            continue
        want = (expert.min_timestep, expert.max_timestep)
        rng = _range(inv)
        fix = f"Use --min_timestep {want[0]} --max_timestep {want[1]} for the {expert.name}-noise expert."
        if rng is None:
            yield Hit(f"This run trains only the {expert.name}-noise expert of {family.display_name} but sets no "
                      f"--min/--max_timestep, so it also trains on the other expert's timesteps (boundary "
                      f"{family.timestep_boundary}).", fix, inv.evidence("--min_timestep", expected=list(want)))
        elif rng != (float(want[0]), float(want[1])):
            got = f"{rng[0]:g}-{rng[1]:g}"
            note = ""
            boundary = family.timestep_boundary
            if boundary and (875 in rng or 900 in rng) and boundary not in rng:
                note = f" {family.display_name} switches experts at {boundary}, not {875 if boundary == 900 else 900}: "\
                       "part of the range is trained by neither expert or by both."
            yield Hit(f"The {expert.name}-noise expert of {family.display_name} covers timesteps {want[0]}-{want[1]}, "
                      f"but this run trains {got}.{note}", fix,
                      inv.evidence("--max_timestep" if expert.name == "low" else "--min_timestep",
                                   expected=list(want), given=[rng[0], rng[1]]))


@rule("WAN_PRESERVE_SHAPE", "warn", "A Wan 2.2 expert range without --preserve_distribution_shape.",
      "reference musubi-tuner.md §5.4 (advanced_config.md: without it min/max squash the distribution)")
def preserve_shape(setup: Setup) -> Iterator[Hit]:
    for inv, _family, _ in single_experts(setup):
        sampling = inv.value("--timestep_sampling", "sigma")
        if _range(inv) is not None and sampling != "sigma" and not inv.has("--preserve_distribution_shape"):
            yield Hit("With --min/--max_timestep but no --preserve_distribution_shape, the sampler's curve is squashed "
                      "into the range instead of cut to it, so the expert sees a different mix of noise levels.",
                      "Add --preserve_distribution_shape.", inv.evidence("--min_timestep"))


@rule("WAN_SIGMA_TIMESTEP_RANGE", "block", "--min/--max_timestep with the default sigma sampling (range inverted).",
      "reference musubi-tuner.md §5.3 (FlowMatchDiscreteScheduler timesteps descend; index range = inverted)")
def sigma_range(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        rng = _range(inv)
        sampling = inv.value("--timestep_sampling", "sigma")
        if rng is None or sampling != "sigma":
            continue
        lo, hi = 1000 - rng[1] + 1, 1000 - rng[0]
        default = "" if inv.has("--timestep_sampling") else " (the default)"
        yield Hit(f"--timestep_sampling sigma{default} reads --min/--max_timestep as positions in a descending list, "
                  f"so {rng[0]:g}-{rng[1]:g} actually trains timesteps {lo:g}-{hi:g}: the opposite expert's range.",
                  "Add --timestep_sampling shift --discrete_flow_shift 3.0 (and --preserve_distribution_shape).",
                  inv.evidence("--timestep_sampling" if inv.has("--timestep_sampling") else "--min_timestep",
                               sampling=sampling))


@rule("WAN_SHIFT_IGNORED", "warn", "--discrete_flow_shift with a sampler that ignores it.",
      "reference musubi-tuner.md §5.3 (sigma, uniform and sigmoid apply no shift)")
def shift_ignored(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        sampling = inv.value("--timestep_sampling", "sigma")
        if inv.has("--discrete_flow_shift") and sampling in _NO_SHIFT_SAMPLERS:
            yield Hit(f"--discrete_flow_shift has no effect with --timestep_sampling {sampling}.",
                      "Add --timestep_sampling shift so the shift is used.", inv.evidence("--discrete_flow_shift"))


@rule("WAN_TIMESTEP_BOUNDARY_FRACTION", "block", "--timestep_boundary written as a fraction.",
      "reference musubi-tuner.md §1.5 / §5.2 (argparse type=int: 'invalid int value')")
def boundary_fraction(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        value = inv.value("--timestep_boundary")
        if value is None:
            continue
        try:
            int(value)
        except ValueError:
            try:
                suggestion = str(round(float(value) * 1000)) if float(value) <= 1 else str(round(float(value)))
            except ValueError:
                suggestion = "875 (T2V) or 900 (I2V)"
            yield Hit(f"--timestep_boundary {value}: the trainer reads this flag as a whole number (0-1000) although "
                      "its docs mention fractions, so it stops with 'invalid int value'.",
                      f"Write --timestep_boundary {suggestion}.", inv.evidence("--timestep_boundary"))


@rule("WAN_TIMESTEP_BOUNDARY_VALUE", "block", "A --timestep_boundary other than the model's.",
      "reference musubi-tuner.md §5.1 (t2v_A14B.boundary 0.875, i2v_A14B.boundary 0.900)")
def boundary_value(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        value = inv.number("--timestep_boundary")
        if value is None or not family or not family.timestep_boundary:
            continue
        boundary = value * 1000 if value <= 1 else value
        if not inv.has("--dit_high_noise"):
            yield Hit("--timestep_boundary only matters when both experts train in one run (--dit_high_noise); here "
                      "it does nothing.", "Remove it, and set --min/--max_timestep for this expert instead.",
                      inv.evidence("--timestep_boundary"), severity="info")
        elif round(boundary) != family.timestep_boundary:
            yield Hit(f"{family.display_name} switches experts at {family.timestep_boundary}; --timestep_boundary "
                      f"{inv.value('--timestep_boundary')} hands steps to the wrong expert.",
                      f"Use --timestep_boundary {family.timestep_boundary}, or leave it out (that is the default).",
                      inv.evidence("--timestep_boundary", expected=family.timestep_boundary))


@rule("WAN_EXPERT_BOUNDARIES", "block", "The two experts' runs leave a gap or overlap between them.",
      "reference musubi-tuner.md §5.1 (the experts split the timesteps at one boundary)")
def expert_pairs(setup: Setup) -> Iterator[Hit]:
    runs = [(inv, family, expert) for inv, family, expert in single_experts(setup) if expert and _range(inv)]
    lows = [r for r in runs if r[2].name == "low"]
    highs = [r for r in runs if r[2].name == "high"]
    for low_inv, family, _ in lows:
        for high_inv, high_family, _ in highs:
            if high_family.id != family.id:
                continue
            low_max, high_min = _range(low_inv)[1], _range(high_inv)[0]  # type: ignore[index]
            if low_max != high_min:
                what = "a gap" if low_max < high_min else "an overlap"
                yield Hit(f"The low-noise run stops at {low_max:g} but the high-noise run starts at {high_min:g}: "
                          f"{what} between the experts ({family.display_name} switches at {family.timestep_boundary}).",
                          f"Use {family.timestep_boundary} for both (low: --max_timestep, high: --min_timestep).",
                          high_inv.evidence("--min_timestep", low_run=low_inv.source, low_max=low_max))
