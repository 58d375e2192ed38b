"""sd-scripts combinations that assert at start or quietly hurt (SD1.5, SDXL, FLUX)."""

from __future__ import annotations

from typing import Any, Iterator

from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

_TE_CACHE = ("--cache_text_encoder_outputs", "--cache_text_encoder_outputs_to_disk")


def _te_cache(inv: Invocation) -> str | None:
    return next((f for f in _TE_CACHE if inv.has(f)), None)


def dataset_tables(setup: Setup, inv: Invocation) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every table of the command's dataset TOML: general, each dataset, each subset."""
    config = setup.dataset_for(inv)
    if config is None:
        return
    yield ("general",), config.general
    for i, ds in enumerate(config.datasets):
        yield ("datasets", i), ds
        for j, sub in enumerate(ds.get("subsets", []) or []):
            if isinstance(sub, dict):
                yield ("datasets", i, "subsets", j), sub


@rule("SDS_TE_CACHE_UNET_ONLY", "block", "SDXL text-encoder caching without --network_train_unet_only.",
      "reference sd-scripts.md §1.2 / §6.6 (sdxl_train_network.py:39-41 assert; kohya_ss #1210, sd-scripts #661)")
def te_cache_unet_only(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        flag = _te_cache(inv)
        if inv.script == "sdxl_train_network.py" and flag and not inv.has("--network_train_unet_only"):
            yield Hit(f"{flag} freezes the text encoders, but without --network_train_unet_only the LoRA also trains "
                      "them; the script stops with 'network for Text Encoder cannot be trained with caching Text "
                      "Encoder outputs'.", "Add --network_train_unet_only.", inv.evidence(flag))


@rule("SDS_FLUX_T5_TE_CACHE", "block", "FLUX T5 LoRA with text-encoder caching.",
      "reference sd-scripts.md §1.3 / §6.6 (flux_train_network.py:195-199; kohya_ss #2779)")
def flux_t5_cache(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        flag = _te_cache(inv)
        t5 = any(a.replace(" ", "").lower() == "train_t5xxl=true" for a in inv.values("--network_args"))
        if inv.script == "flux_train_network.py" and flag and t5:
            yield Hit(f"train_t5xxl=True trains a LoRA on T5, which cannot work with {flag}; the script stops with "
                      "'T5XXL is trained, so cache_text_encoder_outputs cannot be used'.",
                      f"Drop train_t5xxl=True, or drop {flag}.", inv.evidence("--network_args"))


_CAPTION_AUG = ("shuffle_caption", "caption_dropout_rate", "caption_tag_dropout_rate", "token_warmup_step")


@rule("SDS_TE_CACHE_CAPTION_AUG", "block", "Text-encoder caching with caption shuffling or dropout.",
      "reference sd-scripts.md §1.4 / §6.5 (sdxl_train_network.py:34-37, flux_train_network.py:59-68; #886)")
def te_cache_caption_aug(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        flag = _te_cache(inv)
        if not flag:
            continue
        found: list[tuple[str, dict[str, Any]]] = []
        for key in _CAPTION_AUG:
            value = inv.value("--" + key) if inv.has("--" + key) else None
            if inv.has("--" + key) and (value is None or value not in ("0", "0.0")):
                found.append((f"--{key}", inv.evidence("--" + key)))
        config = setup.dataset_for(inv)
        for where, table in dataset_tables(setup, inv):
            for key in _CAPTION_AUG:
                if table.get(key) not in (None, False, 0, 0.0):
                    found.append((key, config.evidence(*where, key, value=table[key])))  # type: ignore[union-attr]
        for name, evidence in found:
            yield Hit(f"{name} changes the caption every step, but {flag} encodes each caption once; the script stops "
                      "with 'when caching Text Encoder output, either caption_dropout_rate, shuffle_caption, ... "
                      "cannot be used'.", f"Remove {name}, or drop {flag}.", evidence)


@rule("SDS_LATENT_CACHE_AUG", "block", "Latent caching with color_aug or random_crop.",
      "reference sd-scripts.md §6.7 (train_network.py:581 assert; kohya_ss #1503)")
def latent_cache_aug(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        cache = next((f for f in ("--cache_latents", "--cache_latents_to_disk") if inv.has(f)), None)
        if not cache:
            continue
        config = setup.dataset_for(inv)
        hits = [(f"--{k}", inv.evidence("--" + k)) for k in ("color_aug", "random_crop") if inv.has("--" + k)]
        hits += [(k, config.evidence(*where, k)) for where, table in dataset_tables(setup, inv)  # type: ignore[union-attr]
                 for k in ("color_aug", "random_crop") if table.get(k) is True]
        for name, evidence in hits:
            yield Hit(f"{name} changes the image every epoch, but {cache} encodes each image once; the script stops "
                      "with 'when caching latents, either color_aug or random_crop cannot be used'.",
                      f"Remove {name} (flip_aug is fine with caching), or drop {cache}.", evidence)


_FLUX_DEFAULTS = (
    ("--guidance_scale", "3.5", "1.0", "FLUX.1 dev is trained with guidance 1.0; the default 3.5 hurts"),
    ("--timestep_sampling", "sigma", "flux_shift", "the default sigma sampling is not what FLUX dev was tuned with"),
    ("--model_prediction_type", "sigma_scaled", "raw", "the default sigma_scaled prediction is not recommended"),
)


@rule("SDS_FLUX_DEFAULTS", "warn", "FLUX run left on defaults the docs say to change.",
      "reference sd-scripts.md §1.3 / §6.15 (docs/flux_train_network.md §4.1)")
def flux_defaults(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.script != "flux_train_network.py" or inv.value("--model_type") == "chroma":
            continue
        for flag, default, want, why in _FLUX_DEFAULTS:
            if not inv.has(flag):
                yield Hit(f"{flag} is not set, so it is {default}: {why}.", f"Add {flag} {want}.", inv.evidence(flag))


@rule("SDS_FUSED_BACKWARD", "warn", "--fused_backward_pass in a LoRA script.",
      "reference sd-scripts.md §1.4 / §6.13 (only the full fine-tune scripts implement it)")
def fused_backward(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.has("--fused_backward_pass"):
            yield Hit("--fused_backward_pass saves no memory in LoRA training (only full fine-tuning uses it) and "
                      "forces Adafactor.", "Remove it.", inv.evidence("--fused_backward_pass"))


@rule("SDS_TE_LR_PER_ENCODER", "warn", "Two --text_encoder_lr values with networks.lora.",
      "reference sd-scripts.md §1.2 (networks.lora uses only the first value for both text encoders)")
def te_lr_values(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        values = inv.values("--text_encoder_lr")
        if len(values) > 1 and inv.value("--network_module") == "networks.lora":
            yield Hit(f"--text_encoder_lr {' '.join(values)}: networks.lora uses only the first value, for both text "
                      "encoders.", f"Write one value (--text_encoder_lr {values[0]}).", inv.evidence("--text_encoder_lr"))
