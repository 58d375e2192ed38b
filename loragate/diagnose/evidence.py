"""The evidence tests named by loragate/data/failure_modes.toml: each reads the project's facts and
says whether they confirm a cause, rule it out, or cannot tell, with the numbers that decided."""

from __future__ import annotations

from collections.abc import Callable

from loragate.catalog.models import get_family
from loragate.catalog.optimizers import lr_range
from loragate.dataset.size import RECOMMENDED
from loragate.diagnose.facts import ProjectFacts
from loragate.core.errors import LoragateError
from loragate.diagnose.results import State

Result = tuple[State, str]

# Passes over each picture (epochs x repeats). A LoRA on 15-40 pictures is usually trained for
# 1,500-3,000 steps, about 100 passes (sd-scripts and musubi-tuner examples, loragate's presets);
# well beyond that it starts to burn and copy, well below it stays faint.
MANY_VIEWS = 200
FEW_VIEWS = 40


def _eval_weak(f: ProjectFacts) -> bool | None:
    if f.evaluation is None or not f.evaluation.measures:
        return None
    return not all(m.takes_effect for m in f.evaluation.measures)


def many_views(f: ProjectFacts) -> Result:
    text = (f"each picture was shown {f.views_per_item:g} times ({f.plan.schedule.max_train_epochs} epochs x {f.repeats} repeats, "
            f"{f.items} items)")
    if f.views_per_item > MANY_VIEWS:
        return "confirms", text + f", above the ~{MANY_VIEWS} where LoRAs usually start to burn or copy"
    if f.views_per_item < FEW_VIEWS * 1.5:
        return "rules out", text + ", which is few"
    return "unknown", text + "; compare the checkpoints at the same seed"


def few_views(f: ProjectFacts) -> Result:
    weak = _eval_weak(f)
    text = f"each picture was shown {f.views_per_item:g} times"
    if f.views_per_item < FEW_VIEWS or weak:
        return "confirms", text + (" and the evaluation measured no effect at 1.0" if weak else f", below ~{FEW_VIEWS}")
    if f.views_per_item > MANY_VIEWS / 2 and weak is False:
        return "rules out", text + " and the evaluation measured a clear effect"
    return "unknown", text + "; a later checkpoint or `loragate eval` tells"


def lr_high(f: ProjectFacts) -> Result:
    lr = f.plan.optimizer.learning_rate
    try:
        _, high = lr_range(f.plan.optimizer.type, f.plan.model)
    except LoragateError:
        high = None
    diverging = [a for a in f.anomalies if a in ("LOSS_DIVERGING", "LOSS_NAN", "LOSS_SPIKE")]
    if diverging:
        return "confirms", f"the run's loss showed {', '.join(diverging)} at learning rate {lr:g}"
    if high is not None and lr > high:
        return "confirms", f"learning rate {lr:g} is above the usual {high:g} for {f.plan.optimizer.type} on this model"
    return "rules out", f"learning rate {lr:g} is in the usual range" + (" and the loss was steady" if not f.anomalies else "")


def alpha_weak(f: ProjectFacts) -> Result:
    net = f.plan.network
    ratio = net.alpha / net.dim if net.dim else 1.0
    if ratio < 0.25:
        return "confirms", f"alpha {net.alpha:g} with rank {net.dim} scales every step by {ratio:.2g}"
    return "rules out", f"alpha {net.alpha:g} with rank {net.dim} (scale {ratio:.2g})"


def rank_low(f: ProjectFacts) -> Result:
    dim = f.plan.network.dim
    if dim < 8:
        return "confirms", f"rank {dim} is small"
    return ("rules out" if dim >= 16 else "unknown"), f"rank {dim}"


def trigger_missing(f: ProjectFacts) -> Result:
    c = f.captions
    if not c.captions:
        return "confirms", f"no {f.plan.dataset.caption_extension} caption files were found in the dataset"
    if c.without_trigger:
        return "confirms", f"{c.without_trigger} of {c.captions} captions do not contain '{f.plan.trigger}'"
    return "rules out", f"every caption contains '{f.plan.trigger}' ({c.trigger_first} of {c.captions} start with it)"


def copies_measured(f: ProjectFacts) -> Result:
    if f.evaluation is None or not f.evaluation.measures:
        return "unknown", "no evaluation yet: `loragate eval` measures how close the outputs come to the training pictures"
    found = [(m.checkpoint, len(m.copies)) for m in f.evaluation.measures if m.copies]
    if found:
        return "confirms", "near-copies measured: " + ", ".join(f"{label}: {n}" for label, n in found)
    nearest = min((m.nearest_training_distance for m in f.evaluation.measures if m.nearest_training_distance is not None), default=None)
    return "rules out", "the evaluation found no output close to a training picture" + (f" (closest {nearest} bits apart)" if nearest is not None else "")


def small_dataset(f: ProjectFacts) -> Result:
    low, _ = RECOMMENDED.get(f.plan.training_type, (15, 40))
    if f.items < low:
        return "confirms", f"{f.items} items, fewer than the {low} a {f.plan.training_type} LoRA needs"
    return "rules out", f"{f.items} items (at least {low} recommended)"


def colour_words_absent(f: ProjectFacts) -> Result:
    c = f.captions
    if not c.captions:
        return "unknown", "no captions to read"
    share = c.with_colour_words / c.captions
    state: State = "confirms" if share < 0.2 else "rules out"
    return state, f"{c.with_colour_words} of {c.captions} captions name a colour"


def wan21_fp8_scaled(f: ProjectFacts) -> Result:
    if f.plan.model.startswith("wan2.1") and f.plan.memory.fp8_scaled:
        return "confirms", "Wan 2.1 trained with fp8_scaled"
    return "rules out", "not Wan 2.1 with fp8_scaled"


def no_effect_measured(f: ProjectFacts) -> Result:
    weak = _eval_weak(f)
    if weak is None:
        return "unknown", "no evaluation yet: `loragate eval` measures each weight against weight 0"
    if weak:
        labels = [m.checkpoint for m in f.evaluation.measures if not m.takes_effect]  # type: ignore[union-attr]
        return "confirms", "no measured change at weight 1.0 for " + ", ".join(labels)
    return "rules out", "the evaluation measured a change at every checkpoint: check how the LoRA is loaded where it has no effect"


def keys_mismatch(f: ProjectFacts) -> Result:
    if f.evaluation is None:
        return "unknown", "no evaluation yet: it reads the LoRA's layer names against the model"
    if any(x.code == "EVAL_LORA_KEYS" for x in f.evaluation.findings):
        return "confirms", "the evaluation found layers that do not exist in the model"
    return "rules out", "the LoRA's layer names fit the model"


def wan_task(f: ProjectFacts) -> Result:
    if get_family(f.plan.model).group != "wan":
        return "rules out", "not a Wan model"
    if any(code.startswith("WAN_TASK") for code in f.gate_blocking):
        return "confirms", "Gate 3 found the task does not fit the weights"
    if 3 in f.gates_go:
        return "rules out", "Gate 3 read the weights' header and found the task fits"
    return "unknown", "Gate 3 has not passed: `loragate env --plan NAME` reads the weights' header"


def caption_extension(f: ProjectFacts) -> Result:
    if not f.captions.captions:
        return "confirms", f"no {f.plan.dataset.caption_extension} files in the dataset: the trainer saw no captions"
    return "rules out", f"the trainer was told to read {f.plan.dataset.caption_extension} and {f.captions.captions} such files exist"


def short_captions(f: ProjectFacts) -> Result:
    words = f.captions.mean_words
    if not f.captions.captions:
        return "unknown", "no captions to read"
    if words < 6:
        return "confirms", f"captions average {words:g} words: the content is barely described"
    return ("rules out" if words > 15 else "unknown"), f"captions average {words:g} words"


def low_expert_short(f: ProjectFacts) -> Result:
    family = get_family(f.plan.model)
    if not family.experts:
        return "unknown", "not a two-expert Wan 2.2 model: compare checkpoints instead"
    experts = {e.expert for e in f.plan.experts}
    if experts and "low" not in experts:
        return "confirms", "only the high-noise expert was trained: nothing adds detail"
    return "unknown", "compare the low-noise expert's checkpoints at the same seed"


def wan_boundary(f: ProjectFacts) -> Result:
    family = get_family(f.plan.model)
    if not family.experts or family.timestep_boundary is None:
        return "rules out", "not a two-expert Wan 2.2 model"
    bad = [e for e in f.plan.experts if (e.expert == "low" and e.max_timestep != family.timestep_boundary)
           or (e.expert == "high" and e.min_timestep != family.timestep_boundary)]
    if bad:
        return "confirms", f"the experts' ranges do not meet at {family.timestep_boundary}: " + ", ".join(
            f"{e.expert} {e.min_timestep}-{e.max_timestep}" for e in bad)
    return "rules out", f"the experts meet at {family.timestep_boundary}"


def one_frame(f: ProjectFacts) -> Result:
    if not f.plan.dataset.video_count:
        return "unknown", "the dataset has no clips: motion can only come from clips"
    frames = [x for x in f.plan.dataset.target_frames if x > 1]
    if not frames:
        return "confirms", "the clips are cached as single frames (target_frames has no length above 1)"
    return "rules out", f"clips are cached at {', '.join(map(str, frames))} frames"


def fps_unset(f: ProjectFacts) -> Result:
    if not f.plan.dataset.video_count:
        return "rules out", "no clips"
    if f.plan.dataset.source_fps is None:
        return "confirms", "source_fps is not set, so clips are read at their own frame rate instead of 16 fps"
    return "rules out", f"clips are resampled from {f.plan.dataset.source_fps:g} fps"


CHECKS: dict[str, Callable[[ProjectFacts], Result]] = {
    fn.__name__: fn for fn in (
        many_views, few_views, lr_high, alpha_weak, rank_low, trigger_missing, copies_measured, small_dataset,
        colour_words_absent, wan21_fp8_scaled, no_effect_measured, keys_mismatch, wan_task, caption_extension,
        short_captions, low_expert_short, wan_boundary, one_frame, fps_unset,
    )
}
