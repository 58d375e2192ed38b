"""Precision: --mixed_precision against the weights' dtype, where it is given, and fp8 options."""

from __future__ import annotations

import re
from typing import Iterator

from loragate.backends.command_family import named_weights
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule


def _dit_dtype(setup: Setup, inv: Invocation) -> tuple[str | None, str]:
    """(dtype, how we know): from the file name, else the catalog's released precision."""
    w = named_weights(inv)
    if w and w.dtype:
        return w.dtype, f"the file name {w.file}"
    family = setup.family(inv)
    if family:
        return family.weights_precision, f"the released {family.display_name} weights"
    return None, ""


@rule("WAN_MIXED_PRECISION_MISSING", "block", "musubi without --mixed_precision on the script itself.",
      "reference musubi-tuner.md §5.7 (handle_model_specific_args asserts before accelerate is created)")
def musubi_mp_missing(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--mixed_precision"):
            continue
        dtype, known = _dit_dtype(setup, inv)
        if dtype not in ("fp16", "bf16"):
            continue
        launcher = inv.launcher_args.get("--mixed_precision")
        where = (f"It is given to accelerate launch ({launcher[-1] if launcher else ''}) but the script checks its own "
                 "flag before accelerate applies anything") if launcher else "It is not given at all"
        yield Hit(f"wan_train_network.py needs --mixed_precision {dtype} (the DiT is {dtype}, from {known}). {where}, "
                  f"so it stops with 'DiT weights are in {dtype}, mixed precision must be {dtype} or no'.",
                  f"Add --mixed_precision {dtype} after wan_train_network.py (keep it on accelerate launch too).",
                  inv.evidence("--mixed_precision", expected=dtype))


@rule("WAN_MIXED_PRECISION_DTYPE", "block", "--mixed_precision differs from the DiT's dtype.",
      "reference musubi-tuner.md §5.7 (bf16 file -> bf16, fp16 file -> fp16; Wan 2.2 Comfy weights are fp16)")
def musubi_mp_dtype(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        mp = inv.value("--mixed_precision")
        dtype, known = _dit_dtype(setup, inv)
        if mp not in ("fp16", "bf16") or dtype not in ("fp16", "bf16") or mp == dtype:
            continue
        from_name = known.startswith("the file name")
        yield Hit(f"--mixed_precision {mp} does not match the DiT weights, which are {dtype} ({known}); musubi stops "
                  f"with 'DiT weights are in {dtype}, mixed precision must be {dtype} or no'"
                  + ("." if from_name else ". The file name does not say its dtype, so check the file."),
                  f"Use --mixed_precision {dtype} (on the script and on accelerate launch).",
                  inv.evidence("--mixed_precision", expected=dtype), severity=None if from_name else "warn")


@rule("PRECISION_LAUNCHER_DIFFERS", "warn", "accelerate launch and the script name different precisions.",
      "reference sd-scripts.md §6.9, musubi-tuner.md §5.7 (the script's own flag is what counts)")
def launcher_differs(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        script, launcher = inv.value("--mixed_precision"), inv.launcher_args.get("--mixed_precision")
        if script and launcher and launcher[-1] != script:
            yield Hit(f"accelerate launch says --mixed_precision {launcher[-1]} but the script says {script}; the "
                      "script's value is the one used.", f"Write --mixed_precision {script} in both places.",
                      inv.evidence("--mixed_precision", launcher=launcher[-1]))


@rule("SDS_MIXED_PRECISION_MISSING", "warn", "sd-scripts without --mixed_precision on the script: trains in fp32.",
      "reference sd-scripts.md §6.9 (Accelerator(mixed_precision=args.mixed_precision), default 'no'; code reading)")
def sds_mp_missing(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.has("--mixed_precision") or not setup.known(inv):
            continue
        family = setup.family(inv)
        want = family.mixed_precision if family else "bf16"
        launcher = inv.launcher_args.get("--mixed_precision")
        note = (f" Giving it only to accelerate launch ({launcher[-1]}) does not help: the script's own default 'no' wins."
                if launcher else "")
        yield Hit(f"{inv.script} has no --mixed_precision, so it trains in full fp32: about twice the memory and "
                  f"slower.{note}", f"Add --mixed_precision {want} after {inv.script}.",
                  inv.evidence("--mixed_precision", expected=want))


@rule("WAN_FP8_SCALED_WITHOUT_BASE", "block", "--fp8_scaled without --fp8_base.",
      "reference musubi-tuner.md §1.3 (assert in trainer_base._validate_args_and_init)")
def fp8_scaled_without_base(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--fp8_scaled") and not inv.has("--fp8_base"):
            yield Hit("--fp8_scaled only works together with --fp8_base; the trainer stops at start.",
                      "Add --fp8_base.", inv.evidence("--fp8_scaled"))


@rule("WAN_FP8_WEIGHTS", "block", "fp8 DiT files with --fp8_scaled, or pre-scaled fp8 files.",
      "reference musubi-tuner.md §5.7 / §1.5 ('DiT weights is already in fp8 format, cannot scale to fp8'; "
      "fp8_scaled files never)")
def fp8_weights(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        w = named_weights(inv)
        if not w:
            continue
        if w.dtype == "fp8_scaled":
            yield Hit(f"{w.file} is an fp8-scaled file; musubi-tuner cannot train on pre-scaled fp8 weights.",
                      "Use the fp16/bf16 release (add --fp8_base --fp8_scaled to save memory) or a plain fp8_e4m3fn file.",
                      inv.evidence("--dit"))
        elif w.dtype == "fp8" and inv.has("--fp8_scaled"):
            yield Hit(f"{w.file} is already fp8, and --fp8_scaled can only quantise fp16/bf16 weights; the trainer "
                      "stops with 'DiT weights is already in fp8 format, cannot scale to fp8'.",
                      "Drop --fp8_scaled (keep --fp8_base), or use the fp16/bf16 file.", inv.evidence("--fp8_scaled"))
        elif w.dtype == "fp8" and not inv.has("--fp8_base"):
            yield Hit(f"{w.file} is an fp8 file; musubi's support table trains fp8 files with --fp8_base.",
                      "Add --fp8_base.", inv.evidence("--dit"), severity="warn")


@rule("WAN21_FP8_SCALED", "warn", "--fp8_scaled on Wan 2.1.",
      "production validation table ('fp8_scaled on Wan 2.1 (color corruption)'); not confirmed upstream")
def wan21_fp8_scaled(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        if family and family.id.startswith("wan2.1") and inv.has("--fp8_scaled"):
            yield Hit("--fp8_scaled on Wan 2.1 has been reported to shift colours in the trained LoRA.",
                      "Use --fp8_base alone for Wan 2.1, or no fp8 if memory allows.", inv.evidence("--fp8_scaled"))


@rule("SDS_FLUX_FP16", "warn", "FLUX trained in fp16.",
      "reference sd-scripts.md §1.3 / §6.8 (issues #1707, #1571, #1595: NaN loss or an empty LoRA)")
def flux_fp16(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.script == "flux_train_network.py" and inv.value("--mixed_precision") == "fp16":
            yield Hit("FLUX in fp16 often gives a NaN loss or a LoRA with no effect (several reports), although one "
                      "upstream doc example uses it.", "Use --mixed_precision bf16 (and on accelerate launch).",
                      inv.evidence("--mixed_precision"))


_FIXED_VAE = re.compile(r"fp16[-_]?fix", re.I)


@rule("SDS_SDXL_VAE_FP16", "block", "SDXL in fp16 without --no_half_vae.",
      "reference sd-scripts.md §1.2 / §6.8 (docs/sdxl_train_network.md; issue #653 'NaN detected in latents')")
def sdxl_vae_fp16(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.script != "sdxl_train_network.py" or inv.value("--mixed_precision") != "fp16":
            continue
        if inv.has("--no_half_vae") or _FIXED_VAE.search(inv.value("--vae", "") or ""):
            continue
        yield Hit("The SDXL VAE produces NaN in fp16, so latent caching stops with 'NaN detected in latents' (or "
                  "trains on garbage).", "Add --no_half_vae (or use --mixed_precision bf16).",
                  inv.evidence("--mixed_precision"))


@rule("SDS_FULL_PRECISION", "block", "--full_bf16 / --full_fp16 / --fp8_base without the matching mixed precision.",
      "reference sd-scripts.md §6.8 (train_network.py asserts)")
def full_precision(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        mp = inv.value("--mixed_precision", "no")
        for flag, need in (("--full_bf16", ("bf16",)), ("--full_fp16", ("fp16",)), ("--fp8_base", ("fp16", "bf16"))):
            if inv.has(flag) and mp not in need:
                yield Hit(f"{flag} requires --mixed_precision {' or '.join(need)} (it is {mp}); the script stops at start.",
                          f"Add --mixed_precision {need[0]}.", inv.evidence(flag, mixed_precision=mp))
