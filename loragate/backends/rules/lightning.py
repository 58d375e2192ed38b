"""Wan 2.2 Lightning in an artist's own script: which of the two forms it is, and the traps of each.

Form 1, stacked at inference: the training uses the plain experts; a generation command
(wan_generate_video.py) loads the Lightning LoRA beside the artist's. Form 2, trained on a merged
base: `--base_weights` (musubi-tuner training/trainer_base.py _build_network) merges each listed
LoRA into the model loaded from `--dit` before the new LoRA is made; or `--dit` is a file that
already holds Lightning. The merge lands on the `--dit` model only: with `--dit_high_noise` in the
same run, wan_train_network.py load_transformer keeps the high-noise weights aside as a state dict
that the merge never touches.
"""

from __future__ import annotations

from typing import Iterator

from loragate.backends.rules.weights_header import file_name, weights_header
from loragate.environment.safetensors_header import HeaderProblem, inspect
from loragate.lightning.files import convert_command, expert_by_name, inspect_lightning, looks_like_lightning
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

GENERATE_SCRIPT = "wan_generate_video.py"
# Flags that take a model file, with what the trainer expects there.
MODEL_FLAGS = {"--dit": "the Wan DiT (a whole model)", "--dit_high_noise": "the high-noise expert (a whole model)",
               "--vae": "the VAE", "--t5": "the T5 text encoder", "--clip": "the CLIP image encoder"}
MERGED_WHY = ("the LoRA will then behave as intended only with this exact Lightning release stacked when rendering; "
              "training on the plain base and stacking Lightning at inference is the usual advice")


def _header_kind(setup: Setup, inv: Invocation, value: str) -> str | None:
    """The header's verdict on a file (wan_dit, lora, ...) when paths are checked and it is readable."""
    read = weights_header(setup, inv, value) if setup.check_paths else None
    return None if read is None else inspect(*read).kind


def run_expert(setup: Setup, inv: Invocation) -> str | None:
    """The Wan 2.2 expert a single-expert run trains: the --dit file's name, else its timestep range."""
    if inv.has("--dit_high_noise"):
        return None
    named = expert_by_name(inv.value("--dit") or "")
    if named:
        return named
    family = setup.family(inv)
    boundary = family.timestep_boundary if family else None
    low, high = inv.number("--min_timestep"), inv.number("--max_timestep")
    if boundary is None:
        return None
    if low is not None and low >= boundary:
        return "high"
    if high is not None and high <= boundary:
        return "low"
    return None


@rule("WAN_BASE_WEIGHTS_ONE_EXPERT", "block", "--base_weights in a run that trains both Wan 2.2 experts.",
      "musubi-tuner training/trainer_base.py _build_network (merges into the --dit model only); wan_train_network.py "
      "load_transformer (the high-noise weights are kept aside, unmerged)")
def base_weights_dual(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--base_weights") and inv.has("--dit_high_noise"):
            files = ", ".join(file_name(v) for v in inv.values("--base_weights"))
            yield Hit(f"--base_weights ({files}) is merged into the --dit model only, the low-noise expert: with "
                      "--dit_high_noise in the same run the high-noise expert trains on the plain base, and every listed "
                      "file (both Lightning files, if both are given) lands on the low-noise one.",
                      "Train each expert in its own run (--dit with that expert's file, no --dit_high_noise), each with its "
                      "own expert's Lightning file in --base_weights.", inv.evidence("--base_weights"))


@rule("WAN_BASE_WEIGHTS_WRONG_EXPERT", "block", "--base_weights file named for the other Wan 2.2 expert.",
      "lightx2v Wan2.2-Lightning ships high_noise_model / low_noise_model files of identical shape; the merge cannot tell")
def base_weights_expert(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        expert = run_expert(setup, inv)
        if expert is None:
            continue
        for value in inv.values("--base_weights"):
            named = expert_by_name(value)
            if named and named != expert:
                yield Hit(f"This run trains the {expert}-noise expert but merges {file_name(value)}, named for the {named}-noise "
                          "expert. Both files have the same layers, so it merges without an error and the expert learns on "
                          "the wrong speed-up.",
                          f"Give this run the {expert}-noise Lightning file.", inv.evidence("--base_weights", expert=expert))


@rule("WAN_BASE_WEIGHTS_FP8_SCALED", "block", "--base_weights with --fp8_scaled.",
      "musubi-tuner networks/lora.py LoRAModule.merge_to adds to the stored weight, which --fp8_scaled keeps divided "
      "by its scale_weight (modules/fp8_optimization_utils.py)")
def base_weights_fp8(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if not inv.has("--base_weights"):
            continue
        if inv.has("--fp8_scaled"):
            yield Hit("--base_weights is merged after --fp8_scaled has stored the model as scaled 8-bit numbers; the merge "
                      "adds Lightning without that scale, so it arrives shrunk by it (close to nothing) and the expert trains "
                      "on an almost plain base.",
                      "Train this expert without --fp8_scaled (block swap instead), or give a DiT file with Lightning merged "
                      "in 16-bit (the trainer then makes it 8-bit correctly), or train on the base and stack Lightning.",
                      inv.evidence("--fp8_scaled"))
        elif inv.has("--fp8_base"):
            yield Hit("--base_weights is merged into weights already rounded to 8 bits by --fp8_base: much of Lightning's "
                      "small change is rounded away again.",
                      "Prefer a DiT file with Lightning merged in 16-bit, or train on the base and stack Lightning.",
                      inv.evidence("--fp8_base"), severity="warn")


@rule("WAN_BASE_WEIGHTS_NAMING", "block", "--base_weights file whose layer names musubi does not read.",
      "musubi-tuner networks/lora.py create_network_from_weights (lora_unet_ names only); WanNetworkTrainer keeps "
      "trainer_base.convert_weight_keys (no conversion); convert_lora.py --target default converts")
def base_weights_naming(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        for value in inv.values("--base_weights"):
            path = setup.resolve(value, setup.base_dir(inv))
            if not setup.check_paths or not setup.may_look(path, value) or not path.is_file():
                continue
            try:
                info = inspect_lightning(path)
            except (HeaderProblem, OSError):
                continue
            if not info.is_lora:
                yield Hit(f"{file_name(value)} in --base_weights holds no LoRA layers (it is a whole model?); the trainer stops.",
                          "Give a LoRA file in --base_weights, or the merged model itself as --dit.", inv.evidence("--base_weights"))
            elif info.key_format != "lora_unet":
                yield Hit(f"{file_name(value)} names its layers the release's way (diffusion_model.blocks...); the Wan trainer "
                          "reads only its own lora_unet_ names, so the merge does nothing, without an error.",
                          f"Convert a copy and merge the copy: {convert_command('python', value)}.",
                          inv.evidence("--base_weights", key_format=info.key_format))


@rule("WAN_LIGHTNING_AS_MODEL", "block", "A Lightning (or other) LoRA given where the trainer expects another file.",
      "musubi-tuner wan_train_network.py: --dit/--dit_high_noise/--vae/--t5/--clip load whole models; --network_weights "
      "continues the LoRA being trained")
def lightning_as_model(setup: Setup) -> Iterator[Hit]:
    for inv in [*setup.trains("musubi"), *setup.stage("cache_latents"), *setup.stage("cache_text_encoder")]:
        for flag, expected in MODEL_FLAGS.items():
            value = inv.value(flag)
            if not value:
                continue
            kind = _header_kind(setup, inv, value)
            if kind == "lora" or (kind is None and flag in ("--vae", "--t5", "--clip") and looks_like_lightning(value)):
                yield Hit(f"{flag} is {file_name(value)}, a LoRA{' (a Lightning speed-up, by its name)' if looks_like_lightning(value) else ''}, "
                          f"but the trainer expects {expected} there and stops when it loads it.",
                          f"Give {expected} in {flag}. To train on base + Lightning, pass the Lightning file with --base_weights "
                          "(one expert per run); to render with it, stack it at inference.", inv.evidence(flag))
        value = inv.value("--network_weights")
        if value and looks_like_lightning(value):
            yield Hit(f"--network_weights is {file_name(value)}, a Lightning LoRA: the run would continue training Lightning itself "
                      "(its rank, its layers) instead of making your LoRA.",
                      "Drop --network_weights (it is for continuing your own LoRA); pass Lightning with --base_weights to "
                      "train on it, or stack it at inference.", inv.evidence("--network_weights"))


@rule("WAN_LIGHTNING_MERGED", "info", "The script trains on a base with a LoRA merged in (Lightning form 2).",
      "musubi-tuner training/trainer_base.py _build_network (--base_weights); resources/wan reference §11")
def lightning_merged(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        files = inv.values("--base_weights")
        dit = inv.value("--dit") or ""
        if files:
            what = "Lightning" if any(looks_like_lightning(f) for f in files) else "a LoRA"
            expert = run_expert(setup, inv)
            into = f"the {expert}-noise expert" if expert else "the --dit model"
            yield Hit(f"This run trains on a merged base: {what} ({', '.join(file_name(f) for f in files)}) is merged into {into} "
                      f"before training. For Lightning, {MERGED_WHY}.",
                      "Nothing to fix if that is what you want; keep the same Lightning release for rendering.",
                      inv.evidence("--base_weights"))
        elif looks_like_lightning(dit) and _header_kind(setup, inv, dit) != "lora":
            yield Hit(f"This run trains on {file_name(dit)}, which by its name already has Lightning merged in: {MERGED_WHY}. "
                      "loragate cannot see in a header whether the merge really happened.",
                      "Check the file was saved after the merge (not the plain expert renamed).", inv.evidence("--dit"))


@rule("WAN_LIGHTNING_STACKED", "info", "A generation command stacks Lightning at inference (Lightning form 1).",
      "musubi-tuner wan_generate_video.py --lora_weight / --lora_weight_high_noise")
def lightning_stacked(setup: Setup) -> Iterator[Hit]:
    merged = any(looks_like_lightning(f) for inv in setup.trains("musubi") for f in inv.values("--base_weights"))
    trained = ("the training merges it too (see WAN_LIGHTNING_MERGED)" if merged
               else "with no merge in the training, this is the usual way (LoRA trained on the plain base)")
    for inv in setup.invocations:
        if inv.script != GENERATE_SCRIPT:
            continue
        files = [v for flag in ("--lora_weight", "--lora_weight_high_noise") for v in inv.values(flag) if looks_like_lightning(v)]
        if files:
            yield Hit(f"This generation stacks Lightning ({', '.join(file_name(f) for f in files)}) beside the LoRA at inference; "
                      f"{trained}. Lightning renders in 4 steps at CFG 1 "
                      "(--infer_steps 4 --guidance_scale 1).",
                      "Nothing to fix; musubi reads only its own lora_unet_ naming, so convert release files with "
                      "convert_lora.py --target default first.", inv.evidence("--lora_weight"))
