"""sd-scripts model families whose checkpoint decides flags: v-prediction SDXL, Chroma, SD 3.5.

The family comes from --model or the checkpoint's name (Setup.family_id); its catalog facts say what
the run needs (v_prediction, zero_terminal_snr, model_type, t5_attn_mask, guidance_scale).
"""

from __future__ import annotations

from typing import Callable, Iterator

from loragate.catalog.models import ModelFamily
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule


def _missing(setup: Setup, needs: Callable[[ModelFamily], bool], flag: str) -> Iterator[tuple[Invocation, ModelFamily]]:
    """sd-scripts training commands whose family needs `flag` and that lack it."""
    for inv in setup.trains("sdscripts"):
        family = setup.family(inv)
        if family and needs(family) and not inv.has(flag):
            yield inv, family


@rule("SDS_VPRED_MISSING", "block", "A v-prediction SDXL checkpoint trained without --v_parameterization.",
      "sd-scripts #1772 (NoobAI-XL V-Pred: 'does not throw errors but results in empty images'); train_network.py:298")
def vpred_missing(setup: Setup) -> Iterator[Hit]:
    for inv, family in _missing(setup, lambda f: f.v_prediction, "--v_parameterization"):
        yield Hit(f"{family.display_name} predicts v, but without --v_parameterization the LoRA learns to predict "
                  "noise: training runs without an error and the LoRA gives empty or brown images.",
                  "Add --v_parameterization (and --zero_terminal_snr).", inv.evidence("--v_parameterization"))


@rule("SDS_VPRED_ZTSNR", "warn", "A zero-terminal-SNR v-prediction checkpoint trained without --zero_terminal_snr.",
      "sd-scripts library/train_util.py --zero_terminal_snr; train_network.py:250 (fixes the scheduler's betas); sd-scripts #1112")
def vpred_ztsnr(setup: Setup) -> Iterator[Hit]:
    for inv, family in _missing(setup, lambda f: f.zero_terminal_snr, "--zero_terminal_snr"):
        yield Hit(f"{family.display_name} was trained with a zero-terminal-SNR noise schedule; without "
                  "--zero_terminal_snr the LoRA never sees the noisiest step the model generates from.",
                  "Add --zero_terminal_snr.", inv.evidence("--zero_terminal_snr"))


@rule("SDS_VPRED_ON_EPS", "block", "--v_parameterization on a checkpoint that predicts noise.",
      "sd-scripts docs/gen_img_README.md ('If the --v_parameterization specification is incorrect, a brown image')")
def vpred_on_eps(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        family = setup.family(inv)
        if (inv.has("--v_parameterization") and family and not family.v_prediction
                and family.architecture == "unet" and setup.model):  # only a family the artist named, not a guess from a name
            yield Hit(f"{family.display_name} predicts noise (epsilon); --v_parameterization trains the LoRA to predict "
                      "v instead, and its images come out brown.",
                      "Remove --v_parameterization, or pick the v-prediction model (--model noobai-xl-vpred).",
                      inv.evidence("--v_parameterization"))


@rule("SDS_CHROMA_T5_MASK", "block", "Chroma without --apply_t5_attn_mask.",
      "sd-scripts flux_train_network.py assert_extra_args ('apply_t5_attn_mask must be True for Chroma')")
def chroma_t5_mask(setup: Setup) -> Iterator[Hit]:
    for inv, _ in _missing(setup, lambda f: f.t5_attn_mask, "--apply_t5_attn_mask"):
        if inv.script == "flux_train_network.py":
            yield Hit("Chroma needs the T5 attention mask; the script stops with 'apply_t5_attn_mask must be True for "
                      "Chroma'.", "Add --apply_t5_attn_mask.", inv.evidence("--apply_t5_attn_mask"))


@rule("SDS_CHROMA_MODEL_TYPE", "block", "A Chroma checkpoint loaded as FLUX.1.",
      "sd-scripts docs/flux_train_network.md ('specify --model_type=chroma'); library/flux_utils.py load_flow_model")
def chroma_model_type(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        family = setup.family(inv)
        if (inv.script == "flux_train_network.py" and family and family.model_type
                and inv.value("--model_type", "flux") != family.model_type):
            yield Hit(f"{family.display_name} is not a FLUX.1 model; without --model_type {family.model_type} the script "
                      "builds FLUX.1 and cannot load the checkpoint's layers.",
                      f"Add --model_type {family.model_type}.", inv.evidence("--model_type"))


@rule("SDS_CHROMA_GUIDANCE", "warn", "Chroma trained with a guidance scale other than 0.",
      "sd-scripts docs/flux_train_network.md ('Chroma requires --guidance_scale 0.0 ... because it is not distilled')")
def chroma_guidance(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        family = setup.family(inv)
        if inv.script != "flux_train_network.py" or not family or family.guidance_scale is None or not family.model_type:
            continue
        value = inv.value("--guidance_scale", "3.5") or "3.5"
        try:
            off = float(value) != family.guidance_scale
        except ValueError:
            continue  # the flag-type rule names a value that is not a number
        if off:
            yield Hit(f"--guidance_scale is {value}; {family.display_name} is not guidance-distilled and trains with "
                      f"{family.guidance_scale:g}.", f"Set --guidance_scale {family.guidance_scale:g}.",
                      inv.evidence("--guidance_scale"))


_SD12_ONLY = ("--v2", "--v_parameterization", "--clip_skip")


@rule("SDS_SD3_SD_FLAGS", "warn", "SD 1/2 options on SD 3.5.",
      "sd-scripts docs/sd3_train_network.md §2, §4.1 ('--v2, --v_parameterization, --clip_skip ... are not used')")
def sd3_sd_flags(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.script != "sd3_train_network.py":
            continue
        for flag in _SD12_ONLY:
            if inv.has(flag):
                yield Hit(f"{flag} is a Stable Diffusion 1/2 option; sd3_train_network.py ignores it, so it does not do "
                          "what it says.", f"Remove {flag}.", inv.evidence(flag))
