"""Learning rate, alpha and scheduler: the settings that fail quietly."""

from __future__ import annotations

from typing import Iterator

from loragate.backends.rules.weights_header import weights_header
from loragate.core.errors import LoragateError
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

_USES_MIN_RATIO = {"cosine_with_min_lr", "warmup_stable_decay", "rex"}


def _scheduler_args(inv: Invocation) -> dict[str, str]:
    return {key: value for key, _, value in (item.partition("=") for item in inv.values("--lr_scheduler_args"))}


@rule("LR_SCHEDULER_ARGS_MIN_LR_RATE", "block", "min_lr_rate passed through --lr_scheduler_args.",
      "reference musubi-tuner.md §5.10 (the trainer passes min_lr_rate itself: duplicate keyword TypeError)")
def min_lr_rate_in_args(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        args = _scheduler_args(inv)
        if "min_lr_rate" in args:
            yield Hit("--lr_scheduler_args min_lr_rate=... is not how the floor is set: the trainer passes its own "
                      "min_lr_rate, so the scheduler fails (or, in other setups, the floor is dropped and the LR "
                      "decays to zero).", f"Use --lr_scheduler_min_lr_ratio {args['min_lr_rate']} instead.",
                      inv.evidence("--lr_scheduler_args", item=f"min_lr_rate={args['min_lr_rate']}"))


@rule("LR_COSINE_MIN_NO_RATIO", "block", "cosine_with_min_lr without a floor.",
      "reference musubi-tuner.md §5.10 (transformers: 'One of min_lr or min_lr_rate should be set')")
def cosine_min_without_ratio(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if inv.value("--lr_scheduler") != "cosine_with_min_lr":
            continue
        args = _scheduler_args(inv)
        if not inv.has("--lr_scheduler_min_lr_ratio") and "min_lr" not in args and "min_lr_rate" not in args:
            yield Hit("--lr_scheduler cosine_with_min_lr needs a floor and none is given; it stops with 'One of min_lr "
                      "or min_lr_rate should be set'.", "Add --lr_scheduler_min_lr_ratio 0.1 (10% of the peak LR).",
                      inv.evidence("--lr_scheduler"))


@rule("LR_MIN_RATIO_IGNORED", "warn", "--lr_scheduler_min_lr_ratio with a scheduler that ignores it.",
      "reference musubi-tuner.md §5.10 (read only by cosine_with_min_lr, warmup_stable_decay, rex)")
def min_ratio_ignored(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        scheduler = inv.value("--lr_scheduler", "constant") or "constant"
        if inv.has("--lr_scheduler_min_lr_ratio") and scheduler not in _USES_MIN_RATIO:
            yield Hit(f"--lr_scheduler_min_lr_ratio is ignored by --lr_scheduler {scheduler}, so the LR floor you "
                      "set does not exist.", "Use --lr_scheduler cosine_with_min_lr (or remove the ratio).",
                      inv.evidence("--lr_scheduler_min_lr_ratio", scheduler=scheduler))


def _is_adaptive(inv: Invocation) -> bool:
    optimizer = (inv.value("--optimizer_type") or "").lower()
    return "prodigy" in optimizer or "dadapt" in optimizer


@rule("LR_PRODIGY", "block", "Prodigy / D-Adaptation with a learning rate far from 1.0.",
      "Prodigy README (lr is a multiplier of the estimated step; use 1.0); loragate/data/optimizers.toml")
def prodigy_lr(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if not _is_adaptive(inv):
            continue
        lr = inv.number("--learning_rate", 2e-6)
        if lr is None or 0.5 <= lr <= 2.0:
            continue
        given = inv.value("--learning_rate") or "2e-6 (the default)"
        yield Hit(f"{inv.value('--optimizer_type')} finds the step size itself and --learning_rate only scales it; "
                  f"{given} makes it {'learn almost nothing' if lr < 0.1 else 'unstable'}.",
                  "Use --learning_rate 1.0 with Prodigy.", inv.evidence("--learning_rate"),
                  severity=None if lr < 0.1 or lr > 10 else "warn")


@rule("LR_OUT_OF_RANGE", "warn", "A learning rate outside the optimizer's sane range for the model family.",
      "loragate/data/optimizers.toml (ranges per optimizer and family group, each with its source; "
      "scaled by alpha / rank, reference sd-scripts.md §6.10)")
def lr_out_of_range(setup: Setup) -> Iterator[Hit]:
    from loragate.catalog.optimizers import judge_lr

    for inv in setup.trains():
        family = setup.family(inv)
        lr = inv.number("--learning_rate")
        if family is None or lr is None or _is_adaptive(inv):
            continue  # no rate given is LR_DEFAULT's; Prodigy's rate is LR_PRODIGY's
        optimizer = inv.value("--optimizer_type") or "AdamW"  # both trainers: "" -> AdamW
        dim, scale = _dim(inv), _scale(inv)
        if not scale:
            continue
        alpha = scale * dim
        try:
            judged = judge_lr(optimizer, family.tuning, lr, alpha, dim)
        except LoragateError:
            continue  # an optimizer loragate has no ranges for
        if judged is None:
            continue
        if judged.severity == "warn" and inv.trainer == "musubi" and _wan_times(lr, scale) >= _TOO_STRONG:
            continue  # WAN_ALPHA_LR_STRENGTH says it, against musubi's own example
        direction = ("too high: the run is likely to diverge or burn the picture" if lr > judged.high
                     else "too low: the LoRA is likely to learn almost nothing")
        yield Hit(f"--learning_rate {inv.value('--learning_rate')} with {optimizer} on {family.display_name} at alpha "
                  f"{alpha:g} / rank {dim:g} is {direction}. The sane range there is {judged.low:.2g} to {judged.high:.2g} "
                  f"(source: {judged.source}).",
                  f"Use a learning rate between {judged.low:.2g} and {judged.high:.2g}.",
                  inv.evidence("--learning_rate", sane_low=float(f"{judged.low:.3g}"), sane_high=float(f"{judged.high:.3g}"),
                               source=judged.source),
                  severity=judged.severity)


@rule("LR_DEFAULT", "block", "No --learning_rate: the trainer uses 2e-6.",
      "reference sd-scripts.md §6.11 / musubi-tuner.md §5.15 (--learning_rate default 2e-6)")
def default_lr(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if not setup.known(inv) or inv.has("--learning_rate") or inv.has("--unet_lr") or _is_adaptive(inv):
            continue
        yield Hit("No --learning_rate is given, so the trainer uses its default 2e-6, far too low for a LoRA: the run "
                  "finishes and the LoRA does almost nothing.", "Add --learning_rate (e.g. 1e-4; 2e-4 for Wan).",
                  inv.evidence("--learning_rate"))


def _dim(inv: Invocation) -> float:
    return inv.number("--network_dim", 4.0) or 4.0  # lora.create_network: None -> 4


def _scale(inv: Invocation) -> float | None:
    dim = _dim(inv)
    alpha = inv.number("--network_alpha", 1.0)
    return None if alpha is None else alpha / dim


def _lora_metadata(setup: Setup, inv: Invocation) -> dict[str, str]:
    """The training settings saved in the LoRA being continued (--network_weights), read even when
    paths are not checked: a plan's Gate 2 compares against them."""
    read = weights_header(setup, inv, inv.value("--network_weights"))
    return {} if read is None else read[1]


@rule("LR_ALPHA_SCALE", "warn", "network_alpha changed without changing the learning rate.",
      "reference sd-scripts.md §6.10 (scale = alpha / dim: lower alpha means a weaker update); production validation table "
      "('alpha changed without adjusting LR: most common failure')")
def alpha_scale(setup: Setup) -> Iterator[Hit]:
    trains = [i for i in setup.trains() if setup.known(i)]
    # against the LoRA being continued (its training settings are in the file's metadata)
    for inv in trains:
        meta = _lora_metadata(setup, inv)
        try:
            old_alpha, old_dim = float(meta["ss_network_alpha"]), float(meta["ss_network_dim"])
        except (KeyError, ValueError):
            continue
        new_scale, lr = _scale(inv), inv.number("--learning_rate", 2e-6)
        if new_scale is None or lr is None or abs(new_scale - old_alpha / old_dim) < 1e-9:
            continue
        old_lr = meta.get("ss_learning_rate")
        base = float(old_lr) if old_lr else lr
        equivalent = base * (old_alpha / old_dim) / new_scale
        yield Hit(f"The LoRA being continued was trained with alpha {old_alpha:g} / dim {old_dim:g}; this run uses "
                  f"alpha {inv.value('--network_alpha', '1')} / dim {inv.value('--network_dim', '4')}, which changes "
                  "how strongly every update (and the loaded weights) acts.",
                  f"Keep --network_alpha {old_alpha:g}, or use --learning_rate {equivalent:.3g} for the same effect.",
                  inv.evidence("--network_alpha", previous_alpha=old_alpha, equivalent_lr=float(f"{equivalent:.3g}")))
    # between runs in the same setup (e.g. the two experts)
    for i, a in enumerate(trains):
        for b in trains[i + 1:]:
            sa, sb = _scale(a), _scale(b)
            la, lb = a.number("--learning_rate"), b.number("--learning_rate")
            if None in (sa, sb, la, lb) or a.trainer != b.trainer or abs(sa - sb) < 1e-9 or la != lb:  # type: ignore[operator]
                continue
            equivalent = la * sa / sb  # type: ignore[operator]
            yield Hit(f"{a.source} and {b.source} use the same learning rate ({la:g}) but different alpha/dim "
                      f"({sa:g} against {sb:g}), so the second trains {sb / sa:.2g}x as strongly.",  # type: ignore[operator]
                      f"If the first is right, the second needs --learning_rate {equivalent:.3g} for the same strength.",
                      b.evidence("--network_alpha", other=a.source, equivalent_lr=float(f"{equivalent:.3g}")))


# musubi-tuner's Wan example that trains (30c658c docs/wan.md:170-179): --learning_rate 2e-4,
# --network_dim 32 and no --network_alpha, which defaults to 1 (training/parser_common.py:554-557).
# A LoRA update is scaled by alpha/dim, so this is the step strength that recipe trains with.
WAN_EXAMPLE_LR, WAN_EXAMPLE_SCALE = 2e-4, 1 / 32
_TOO_STRONG = 8  # alpha = dim at the example's rate is 16-32x


def _wan_times(lr: float, scale: float) -> float:
    """How many times the update of musubi's Wan example this rate and alpha/dim make."""
    return lr * scale / (WAN_EXAMPLE_LR * WAN_EXAMPLE_SCALE)


@rule("WAN_ALPHA_LR_STRENGTH", "warn", "Learning rate and alpha/dim together far stronger than musubi's Wan example.",
      "musubi-tuner 30c658c docs/wan.md:170-179 (2e-4 at dim 32, alpha 1) and training/parser_common.py:554-557 "
      "(--network_alpha default 1); update scale = alpha/dim (reference musubi-tuner.md §5.15)")
def wan_alpha_strength(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        lr, scale = inv.number("--learning_rate"), _scale(inv)
        if _is_adaptive(inv) or lr is None or not scale:
            continue
        times = _wan_times(lr, scale)
        if times < _TOO_STRONG:
            continue
        same = WAN_EXAMPLE_LR * WAN_EXAMPLE_SCALE / scale
        yield Hit(f"Learning rate {inv.value('--learning_rate')} with alpha {inv.value('--network_alpha', '1')} / dim "
                  f"{inv.value('--network_dim', '4')} makes every update {times:.0f}x stronger than musubi-tuner's own Wan "
                  "example (2e-4 at dim 32 with alpha 1); results tend to burn out or turn noisy.",
                  f"Use --learning_rate {same:.2g} for the example's strength at this alpha, or --network_alpha 1 with "
                  f"--learning_rate {WAN_EXAMPLE_LR * _dim(inv) / 32:.2g}.",
                  inv.evidence("--learning_rate", times=round(times, 1), equivalent_lr=float(f"{same:.2g}")))


@rule("LR_ALPHA_DEFAULT", "info", "--network_alpha left at its default of 1.",
      "reference sd-scripts.md §6.10, musubi-tuner.md §5.15 (default alpha 1: scale 1/dim)")
def alpha_default(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        dim = inv.number("--network_dim")
        if setup.known(inv) and not inv.has("--network_alpha") and dim and dim > 1:
            yield Hit(f"--network_alpha is not set, so it is 1 and each update is scaled by 1/{dim:g}. That is fine "
                      "if the learning rate was chosen for it; recipes that set alpha = dim use a rate about "
                      f"{dim:g}x lower.", "Write --network_alpha explicitly so the pairing with the LR is deliberate.",
                      inv.evidence("--network_alpha", dim=dim))


@rule("SCHED_EPOCHS_OVERRIDE_STEPS", "warn", "Both --max_train_epochs and --max_train_steps.",
      "reference sd-scripts.md §6.11, musubi-tuner.md §5.19 (epochs override steps)")
def epochs_override(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if inv.has("--max_train_epochs") and inv.has("--max_train_steps"):
            yield Hit(f"--max_train_epochs {inv.value('--max_train_epochs')} overrides --max_train_steps "
                      f"{inv.value('--max_train_steps')}; the step count is ignored.", "Keep only one of the two.",
                      inv.evidence("--max_train_steps"))


@rule("SCHED_DEFAULT_STEPS", "warn", "Neither epochs nor steps: the trainer runs 1600 steps.",
      "reference sd-scripts.md §6.11 (--max_train_steps default 1600)")
def default_steps(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if setup.known(inv) and not inv.has("--max_train_epochs") and not inv.has("--max_train_steps"):
            yield Hit("No --max_train_epochs or --max_train_steps: the run stops after the default 1600 steps, "
                      "whatever the dataset size.", "Set --max_train_epochs (or --max_train_steps).",
                      inv.evidence("--max_train_epochs"))


@rule("RESUME_RESTARTS", "warn", "--resume used to continue a run.",
      "reference musubi-tuner.md §5.11 (issues #126, #424: counters restart, old optimizer/scheduler state kept)")
def resume(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if not inv.has("--resume"):
            continue
        if inv.trainer == "musubi":
            message = ("--resume restores the old optimizer and scheduler but starts counting at step 0 and runs the "
                       "full step count again; changed settings (LR, epochs) do not take effect as expected.")
        else:
            message = ("--resume restores the old optimizer and scheduler state, so a new learning rate or schedule "
                       "is overridden by the saved one.")
        yield Hit(message, "To continue training with new settings, load the LoRA with --network_weights FILE "
                  "instead (fresh optimizer, step 0, same dim).", inv.evidence("--resume"))


@rule("RESUME_RANK_MISMATCH", "block", "--network_weights with a different rank than --network_dim.",
      "reference musubi-tuner.md §1.5 (--network_weights needs the same rank); musubi-tuner 30c658c "
      "training/trainer_base.py:1566-1568 (--dim_from_weights is a switch, then passed to load_file as the path)")
def rank_mismatch(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        meta = _lora_metadata(setup, inv)
        old = meta.get("ss_network_dim")
        new = inv.value("--network_dim", "4")
        # sd-scripts reads the rank from --network_weights with --dim_from_weights; in musubi that flag
        # crashes (load_file(True)), so there the only fix is the matching --network_dim.
        if old and not (inv.trainer == "sdscripts" and inv.has("--dim_from_weights")) \
                and old.split(".")[0] != (new or "").split(".")[0]:
            fix = f"Use --network_dim {old}" + (" (or add --dim_from_weights)." if inv.trainer == "sdscripts" else ".")
            yield Hit(f"The LoRA in --network_weights has rank {old}, but --network_dim is {new}; loading stops with a "
                      "size mismatch.", fix, inv.evidence("--network_dim", weights_rank=old))


@rule("MUSUBI_DIM_FROM_WEIGHTS", "block", "--dim_from_weights in musubi-tuner, where it crashes.",
      "musubi-tuner 30c658c training/parser_common.py:578-582 (a store_true switch) and training/trainer_base.py:1566-1568 "
      "(load_file(args.dim_from_weights), i.e. load_file(True))")
def musubi_dim_from_weights(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--dim_from_weights"):
            yield Hit("--dim_from_weights does not work in musubi-tuner: it hands the switch's value (True) to the file "
                      "loader instead of a path, and training stops before the first step.",
                      "Remove --dim_from_weights and set --network_dim to the rank of the LoRA in --network_weights.",
                      inv.evidence("--dim_from_weights"))
