"""sd-scripts pitfalls reported in its issue tracker for SD 3.5 and v-prediction SDXL, confirmed in
the trainer's source (sd-scripts 48d368fa)."""

from __future__ import annotations

from typing import Iterator

from loragate.catalog.flags import script_flags
from loragate.core.findings import Severity
from loragate.validate.rules.base import Hit, Setup, rule
from loragate.backends.rules.weights_header import file_name, header_keys

# flag -> the key prefix of that text encoder inside a checkpoint that bundles it (sd-scripts
# library/sd3_utils.py load_clip_l / load_clip_g / load_t5xxl), the file-name words of the releases
# that bundle it (sd3_medium_incl_clips_t5xxlfp16.safetensors), and its own file in the model's
# text_encoders folder (docs/sd3_train_network.md example)
_TEXT_ENCODERS = {
    "--clip_l": ("text_encoders.clip_l.", "incl_clips", "clip_l.safetensors"),
    "--clip_g": ("text_encoders.clip_g.", "incl_clips", "clip_g.safetensors"),
    "--t5xxl": ("text_encoders.t5xxl.", "t5xxl", "t5xxl_fp16.safetensors"),
}


def _what(flags: list[str]) -> str:
    return "that text encoder" if len(flags) == 1 else "those text encoders"


@rule("SDS_SD3_TEXT_ENCODERS", "block", "SD 3.5 trained without a text encoder its checkpoint does not hold.",
      "sd-scripts issue #1388 (kohya: 'One of Text Encoders might be missing ... specify each .safetensors file for "
      "--clip_g, --clip_l and --t5xxl'); 48d368fa library/sd3_utils.py load_clip_l/_g/load_t5xxl (None without the flag "
      "or bundled weights), sd3_train_network.py:113-131 (.eval() on it); docs/sd3_train_network.md ('Skip these if the "
      "base model is a single file')")
def sd3_text_encoders(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.script != "sd3_train_network.py":
            continue
        missing = [flag for flag in _TEXT_ENCODERS if not inv.has(flag)]
        if not missing:
            continue
        value = inv.value("--pretrained_model_name_or_path") or ""
        keys = header_keys(setup, inv, "--pretrained_model_name_or_path")
        severity: Severity | None = None
        if keys is not None:
            absent = [f for f in missing if not any(k.startswith(_TEXT_ENCODERS[f][0]) for k in keys)]
            why = f"No {' / '.join(absent)} given, and {file_name(value)} does not hold {_what(absent)}"
        else:  # the file was not read: go by the name the bundled releases carry
            absent = [f for f in missing if _TEXT_ENCODERS[f][1] not in file_name(value).lower()]
            why = (f"No {' / '.join(absent)} given, and the name {file_name(value)} does not say it bundles {_what(absent)} "
                   "(the single-file releases do, e.g. sd3_medium_incl_clips_t5xxlfp16); if it does not")
            severity = "warn"
        if not absent:
            continue
        yield Hit(f"{why}, sd3_train_network.py loads the model, then stops on the missing encoder.",
                  f"Add {' '.join(f'{f} {_TEXT_ENCODERS[f][2]}' for f in absent)} (from the model's text_encoders folder).",
                  inv.evidence(absent[0], missing=absent), severity=severity)


@rule("SDS_VPRED_SCALED_LOSS_ZTSNR", "warn", "--scale_v_pred_loss_like_noise_pred with --zero_terminal_snr.",
      "sd-scripts issue #673 (with v-loss rescaling a zero-terminal-SNR model never learnt solid black images; it did "
      "once the option was off); 48d368fa library/custom_train_functions.py get_snr_scale (loss x snr/(snr+1)) from "
      "all_snr computed before the zero-terminal fix (train_network.py:249-251)")
def vpred_scaled_loss_ztsnr(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.has("--scale_v_pred_loss_like_noise_pred") and inv.has("--zero_terminal_snr"):
            yield Hit("--scale_v_pred_loss_like_noise_pred makes the noisiest steps, the ones --zero_terminal_snr is there "
                      "for, count for almost nothing: under 4% above step 800 and 0.5% at the last, so "
                      "the LoRA hardly learns them (very dark or bright pictures stay out of reach).",
                      "Drop --scale_v_pred_loss_like_noise_pred; keep --v_parameterization and --zero_terminal_snr.",
                      inv.evidence("--scale_v_pred_loss_like_noise_pred"))


# flag -> (the value Chroma's author asks for, what the other value does); the defaults are the
# trainer's own, from its flag list (library/flux_train_utils.py apply_model_prediction_type; PR #2157)
_CHROMA_SETTINGS = {
    "--timestep_sampling": ("sigmoid", "it trains on other noise levels than Chroma was trained on"),
    "--model_prediction_type": ("raw", "it rescales Chroma's prediction by the noise level first"),
}


@rule("SDS_CHROMA_SETTINGS", "warn", "Chroma trained with FLUX.1's timestep sampling or prediction handling.",
      "sd-scripts PR #2157 (kohya, Chroma support: 'According to lodestones, --apply_t5_attn_mask --timestep_sampling "
      "sigmoid --model_prediction_type raw --guidance_scale 0.0 options are also required for Chroma'); 48d368fa "
      "library/flux_train_utils.py (defaults sigma, sigma_scaled); docs/flux_train_network.md 'Training Chroma Models'")
def chroma_settings(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        family = setup.family(inv)
        if inv.script != "flux_train_network.py" or "chroma" not in (inv.value("--model_type"), family and family.model_type):
            continue
        flags = script_flags(inv.script)
        for flag, (wanted, why) in _CHROMA_SETTINGS.items():
            value = inv.value(flag, str(flags[flag].default))
            if value != wanted:
                yield Hit(f"{flag} is {value}{' (the default)' if not inv.has(flag) else ''}; Chroma's author asks for "
                          f"{wanted} (sd-scripts' Chroma notes): {why}.",
                          f"Set {flag} {wanted}.", inv.evidence(flag, wanted=wanted))
