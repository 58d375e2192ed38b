"""Attention and memory options: what musubi requires and which options exclude each other."""

from __future__ import annotations

from typing import Iterator

from typing import TYPE_CHECKING

from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

if TYPE_CHECKING:
    from loragate.backends.musubi_recipes import Recipe

_ATTENTION = ("--sdpa", "--flash_attn", "--flash3", "--xformers", "--sage_attn")


@rule("WAN_NO_ATTENTION", "block", "musubi training without an attention flag.",
      "reference musubi-tuner.md §1.5 / §5.12 ('either --sdpa, --flash-attn, ... must be specified')")
def no_attention(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if not any(inv.has(f) for f in _ATTENTION):
            yield Hit(f"{inv.script} needs an attention flag and has none; it stops with 'either --sdpa, "
                      "--flash-attn, --flash3, --sage-attn or --xformers must be specified'.", "Add --sdpa.",
                      inv.evidence("--sdpa"))


@rule("WAN_SAGE_ATTN_TRAINING", "block", "--sage_attn for training.",
      "reference musubi-tuner.md §1.5 / §5.12 (--sage_attn raises for training)")
def sage_attn(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--sage_attn"):
            yield Hit("--sage_attn works only for generating videos; training with it stops with an error.",
                      "Use --sdpa (or --flash_attn / --xformers with --split_attn).", inv.evidence("--sage_attn"))


@rule("MEM_BLOCK_SWAP_MAX", "block", "--blocks_to_swap above the model's maximum.",
      "reference musubi-tuner.md §1.5 (39 for 14B, 29 for 1.3B), sd-scripts.md §1.3 (35 for FLUX)")
def block_swap_max(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        family = setup.family(inv)
        swap = inv.number("--blocks_to_swap")
        if family and family.block_swap_max and swap is not None and swap > family.block_swap_max:
            yield Hit(f"{family.display_name} can swap at most {family.block_swap_max} blocks to the CPU; "
                      f"--blocks_to_swap {swap:g} stops with an assertion.",
                      f"Use --blocks_to_swap {family.block_swap_max} or less.",
                      inv.evidence("--blocks_to_swap", maximum=family.block_swap_max))


@rule("MEM_BLOCK_SWAP_CONFLICT", "block", "Block swap combined with an option it excludes.",
      "reference musubi-tuner.md §5.13 (--offload_inactive_dit assert), sd-scripts.md §1.3 "
      "('blocks_to_swap is not supported with cpu_offload_checkpointing')")
def block_swap_conflict(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if (inv.number("--blocks_to_swap") or 0) <= 0:
            continue
        for other in ("--offload_inactive_dit", "--cpu_offload_checkpointing"):
            if inv.has(other):
                yield Hit(f"--blocks_to_swap cannot be combined with {other}; the trainer stops at start.",
                          f"Keep one: drop {other} (block swap needs less host RAM), or drop --blocks_to_swap.",
                          inv.evidence(other, blocks_to_swap=inv.value("--blocks_to_swap")))


@rule("MEM_NEEDS_GRADIENT_CHECKPOINTING", "block", "--block_swap_h2d_only without --gradient_checkpointing.",
      "musubi-tuner 30c658c modules/custom_offloading_utils.py:99-101 (raises ValueError when training without it)")
def needs_gc(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--block_swap_h2d_only") and not inv.has("--gradient_checkpointing"):
            yield Hit("--block_swap_h2d_only requires --gradient_checkpointing, which is not set; training stops at start.",
                      "Add --gradient_checkpointing.", inv.evidence("--block_swap_h2d_only"))


@rule("MEM_CPU_OFFLOAD_IGNORED", "warn", "--gradient_checkpointing_cpu_offload without --gradient_checkpointing.",
      "musubi-tuner 30c658c training/trainer_base.py:1608-1609 (read only inside `if args.gradient_checkpointing`)")
def cpu_offload_ignored(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--gradient_checkpointing_cpu_offload") and not inv.has("--gradient_checkpointing"):
            yield Hit("--gradient_checkpointing_cpu_offload only acts together with --gradient_checkpointing; without it "
                      "the option is ignored and saves no memory.",
                      "Add --gradient_checkpointing (or drop the offload option).",
                      inv.evidence("--gradient_checkpointing_cpu_offload"))


@rule("WAN_OFFLOAD_INACTIVE_SINGLE", "warn", "--offload_inactive_dit in a single-expert run.",
      "reference musubi-tuner.md §1.5 (it applies to dual training only)")
def offload_single(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--offload_inactive_dit") and not inv.has("--dit_high_noise"):
            yield Hit("--offload_inactive_dit only acts when both experts train in one run; here it does nothing.",
                      "Remove it, or use --blocks_to_swap to save memory.", inv.evidence("--offload_inactive_dit"))


# The order each trainer tests its attention switches in; the first one set wins, the rest are ignored.
# sd-scripts library/train_util.py replace_unet_modules (mem_eff_attn, xformers, sdpa);
# musubi-tuner training/trainer_base.py (sdpa, flash_attn, sage_attn, xformers, flash3).
_ATTENTION_ORDER = {
    "sdscripts": ("--mem_eff_attn", "--xformers", "--sdpa"),
    "musubi": ("--sdpa", "--flash_attn", "--sage_attn", "--xformers", "--flash3"),
}


@rule("ATTENTION_TWO_KINDS", "warn", "Two attention switches on one command; the trainer uses only one.",
      "sd-scripts train_util.replace_unet_modules, musubi-tuner trainer_base (first switch set wins)")
def two_attention_kinds(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        order = _ATTENTION_ORDER.get(inv.trainer or "")
        chosen = [f for f in order or () if inv.has(f)]
        if len(chosen) > 1:
            ignored = ", ".join(chosen[1:])
            both = "both" if len(chosen) == 2 else "all"
            yield Hit(f"{' and '.join(chosen)} are {both} set, but the trainer uses only one way of computing attention: "
                      f"it takes {chosen[0]} and ignores {ignored}. The run may not use what you expect"
                      + (" (and --xformers needs the xformers package installed)." if chosen[0] == "--xformers" else "."),
                      f"Keep one of them: remove {ignored}, or remove {chosen[0]} to use the other.",
                      inv.evidence(chosen[-1], used=chosen[0], ignored=chosen[1:]))


def _recipe(setup: Setup, inv: Invocation) -> Recipe | None:
    from loragate.backends.musubi_recipes import get_recipe

    family = setup.family(inv)
    return get_recipe(family.recipe, family.id) if family and family.trainer == "musubi" and family.recipe else None


@rule("MUSUBI_ATTENTION_REFUSED", "block", "An attention flag the model's musubi docs say cannot be used.",
      "musubi-tuner 30c658c docs/qwen_image.md ('flash3 cannot be used currently'); loragate/data/musubi_recipes.toml")
def attention_refused(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        recipe, family = _recipe(setup, inv), setup.family(inv)
        for flag in recipe.attention_refused if recipe and family else []:
            if inv.has(flag):
                yield Hit(f"{flag} cannot be used to train {family.display_name if family else 'this model'} "
                          "(musubi-tuner's docs for it).", f"Use --sdpa instead of {flag}.", inv.evidence(flag))


@rule("MUSUBI_SPLIT_ATTN", "warn", "An attention other than --sdpa without the --split_attn the model's docs ask for.",
      "musubi-tuner 30c658c docs/qwen_image.md ('Please specify --split_attn if you are using anything other than --sdpa'), "
      "hunyuan_model/attention.py (only the torch path reads attn_mask)")
def split_attn(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        recipe = _recipe(setup, inv)
        other = [f for f in ("--xformers", "--flash_attn", "--flash3") if inv.has(f)]
        if recipe and recipe.split_attn_unless_sdpa and other and not inv.has("--split_attn"):
            yield Hit(f"{other[0]} without --split_attn: only --sdpa applies the mask over the captions' padding "
                      "(hunyuan_model/attention.py), so the model attends to padding; musubi's docs ask for --split_attn.",
                      f"Add --split_attn, or use --sdpa instead of {other[0]}.", inv.evidence(other[0]))
