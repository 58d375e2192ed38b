"""The model a command trains: task flag against the weights, network module, VAE, experts."""

from __future__ import annotations

import re
from typing import Iterator

from loragate.backends.command_family import (
    DEFAULT_TASK,
    family_or_none,
    is_wan,
    musubi_families_of,
    named_weights,
    selector_value,
)
from loragate.catalog.models import ModelFamily
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

# Tasks that load the same DiT file. i2v-14B and flf2v-14B do not: flf2v has img_emb.emb_pos, which
# i2v lacks, and the load is strict (musubi-tuner 30c658c wan/modules/model.py:522-525, 681, 1067).
_COMPATIBLE = {("t2v-14B", "t2i-14B")}


def _task_problem(task: str, weights_task: str, file: str) -> str:
    if weights_task == "i2v-A14B" and task in ("i2v-14B", "flf2v-14B"):
        # musubi-tuner issues #416, #602
        return (f"--task {task} is Wan 2.1's image-to-video model, but {file} is Wan 2.2 I2V. Loading stops with "
                "'Missing key(s) in state_dict: blocks.0.cross_attn.k_img.weight' (2.1 expects CLIP layers 2.2 has not).")
    if {task, weights_task} == {"i2v-14B", "flf2v-14B"}:
        return (f"--task {task} and {file} ({weights_task}) are different Wan 2.1 models: only first-last-frame "
                "(flf2v) has img_emb.emb_pos, so the strict load stops with a missing or unexpected key.")
    if "i2v" in weights_task and "i2v" not in task and "flf2v" not in task:
        # comfyUI-Realtime-Lora issue #9
        return (f"{file} is an image-to-video model but --task {task} is text-to-video; loading stops with "
                "'size mismatch for patch_embedding.weight' (36 input channels against 16).")
    if "i2v" in task and "i2v" not in weights_task:
        return (f"--task {task} is image-to-video but {file} is a text-to-video model; loading stops with "
                "'size mismatch for patch_embedding.weight'.")
    if weights_task == "t2v-A14B" and task in ("t2v-14B", "t2i-14B"):
        return (f"{file} is Wan 2.2 T2V, but --task {task} is Wan 2.1. It loads (the keys are the same) and "
                "trains as a 2.1 model without the expert boundary and with 2.1 time embeddings, so the LoRA "
                "does not fit the model it is meant for.")
    return f"--task {task} does not match {file}, which is a {weights_task} model."


@rule("WAN_TASK_WEIGHTS", "block", "The --task flag does not match the DiT weights.",
      "reference musubi-tuner.md §1.4 task table and §5.8 (issues #416, #602)")
def task_against_weights(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if not is_wan(inv):
            continue  # another musubi model's script (Qwen-Image, HunyuanVideo 1.5 ...): no Wan task
        task = inv.value("--task") or DEFAULT_TASK
        if task.endswith("-FC"):
            continue
        reported = False
        for flag in ("--dit", "--dit_high_noise"):
            w = named_weights(inv, flag)
            family = family_or_none(w.family_id()) if w else None
            if not w or not family or not family.task:
                continue
            weights_task = family.task
            if weights_task != task and (task, weights_task) not in _COMPATIBLE and (weights_task, task) not in _COMPATIBLE:
                reported = True
                yield Hit(_task_problem(task, weights_task, w.file), f"Use --task {weights_task} for {w.file}.",
                          inv.evidence("--task" if inv.has("--task") else flag, task=task, weights=w.file,
                                       expected=weights_task))
        given = family_or_none(setup.model) if setup.model else None
        if not reported and given and given.trainer == "musubi" and given.task and given.task != task \
                and (task, given.task) not in _COMPATIBLE:
            yield Hit(f"--task {task} is not the task of {given.display_name} ({given.task}), the model named with --model.",
                      f"Use --task {given.task}.", inv.evidence("--task", task=task, expected=given.task))


@rule("WAN_TASK_MISSING", "warn", "No --task: musubi assumes t2v-14B.",
      "reference musubi-tuner.md §1.4 (--task default t2v-14B)")
def task_missing(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--task") or not is_wan(inv):
            continue
        family = setup.family(inv)
        if family and family.task and family.task != DEFAULT_TASK:
            continue  # WAN_TASK_WEIGHTS reports the mismatch
        yield Hit("No --task is given, so the trainer assumes t2v-14B (Wan 2.1 text-to-video 14B).",
                  "Write --task explicitly, e.g. --task t2v-A14B for Wan 2.2 T2V.", inv.evidence("--task"))


_MODULES = {
    # musubi docs/wan.md, docs/loha_lokr.md; and LyCORIS' own module: musubi-tuner 30c658c
    # training/trainer_base.py:1538 imports any --network_module and :1583-1592 builds it with
    # create_network ("LyCORIS compatibility").
    "musubi": {"networks.loha", "networks.lokr", "lycoris.kohya"},
}


@rule("NETWORK_MODULE", "block", "Missing --network_module, or the other trainer's / model's module.",
      "reference musubi-tuner.md §1.3 ('Don't forget --network_module networks.lora_wan'), sd-scripts.md §1.1-1.3")
def network_module(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        if not setup.known(inv):
            continue
        family = setup.family(inv)
        expected = family.network_module if family else ("networks.lora_wan" if inv.trainer == "musubi" else None)
        module = inv.value("--network_module")
        if module is None:
            yield Hit(f"{inv.script} has no --network_module; without it no LoRA is created and the script stops.",
                      f"Add --network_module {expected or 'networks.lora'}.", inv.evidence("--network_module"))
            continue
        if inv.trainer == "musubi" and module not in _MODULES["musubi"] | {expected}:
            # each musubi model has its own LoRA module (docs/wan.md lora_wan, docs/qwen_image.md lora_qwen_image ...)
            model = "Wan" if expected == "networks.lora_wan" else (family.display_name if family else "musubi")
            yield Hit(f"--network_module {module} is not a musubi-tuner {model} module"
                      + (" (networks.lora is sd-scripts')." if module == "networks.lora" else "."),
                      f"Use --network_module {expected}.", inv.evidence("--network_module"))
        elif inv.trainer == "sdscripts":
            # each DiT script has its own module (networks.lora_flux, networks.lora_sd3); LyCORIS fits any
            own = {"flux_train_network.py": "networks.lora_flux", "sd3_train_network.py": "networks.lora_sd3"}
            kohya = {"networks.lora", "networks.lora_flux", "networks.lora_sd3"}
            wrong = module == "networks.lora_wan" or (module in kohya and module != own.get(inv.script, "networks.lora"))
            if wrong:
                yield Hit(f"--network_module {module} does not fit {inv.script}.",
                          f"Use --network_module {expected or 'networks.lora'}.", inv.evidence("--network_module"))


_WAN22_VAE = re.compile(r"wan[ _.-]?2[._-]?2[ _.-]?vae", re.I)


@rule("WAN_VAE_22", "block", "The Wan 2.2 VAE used for a 14B model.",
      "reference musubi-tuner.md §1.1 (docs/wan.md: 'Wan2.2_VAE.pth is for 5B model, not compatible with 14B model')")
def wan22_vae(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        vae = inv.value("--vae")
        if inv.trainer == "musubi" and vae and _WAN22_VAE.search(vae.replace("\\", "/").rsplit("/", 1)[-1]):
            yield Hit(f"{vae} is the Wan 2.2 VAE, which belongs to the 5B model; the 14B models (Wan 2.1 and 2.2 "
                      "alike) use the Wan 2.1 VAE.", "Use wan_2.1_vae.safetensors (or Wan2.1_VAE.pth).",
                      inv.evidence("--vae"))


@rule("WAN_SAMPLE_NEEDS_ENCODERS", "block", "--sample_prompts without the --t5 and --vae that sampling loads.",
      "musubi-tuner 30c658c training/trainer_base.py:1485-1490 (with --sample_prompts the prompts are encoded and the VAE "
      "loaded before training), wan_train_network.py:115 (T5 from --t5) and :456-461 (VAE from --vae)")
def wan_sample_encoders(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if not inv.has("--sample_prompts"):
            continue
        family = setup.family(inv)
        text, vae = sampling_flags(family)
        missing = [flag for flag in (text, vae) if not inv.value(flag)]
        if missing:
            what = "videos" if family is None or family.video else "pictures"
            yield Hit(f"--sample_prompts makes sample {what} during training, which needs the text encoder ({text}) and "
                      f"the VAE ({vae}) in the training command; {' and '.join(missing)} "
                      f"{'is' if len(missing) == 1 else 'are'} missing, so training stops before the first step.",
                      f"Add {' and '.join(f'{m} FILE' for m in missing)} (the files the cache steps use), or drop "
                      "--sample_prompts.", inv.evidence("--sample_prompts", missing=missing))


def sampling_flags(family: ModelFamily | None) -> tuple[str, str]:
    """(text encoder flag, VAE flag) the family's training script samples with (Wan: --t5, --vae)."""
    from loragate.backends.musubi_recipes import get_recipe

    if family is None or family.trainer != "musubi":
        return "--t5", "--vae"
    found = get_recipe(family.recipe, family.id).sampling_flags()
    return (found[0], found[1]) if len(found) == 2 else ("--t5", "--vae")


@rule("WAN_DUAL_NEEDS_22", "block", "--dit_high_noise with a task that has no experts.",
      "reference musubi-tuner.md §1.5 (--dit_high_noise is Wan 2.2 only; boundary None for 2.1 tasks)")
def dual_needs_22(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        task = inv.value("--task") or DEFAULT_TASK
        if inv.has("--dit_high_noise") and not task.endswith("A14B"):
            yield Hit(f"--dit_high_noise trains two Wan 2.2 experts, but --task {task} is a Wan 2.1 task without "
                      "experts or boundary.", "Use --task t2v-A14B or i2v-A14B, or drop --dit_high_noise.",
                      inv.evidence("--dit_high_noise", task=task))


@rule("WAN_EXPERTS_SWAPPED", "block", "The high- and low-noise files are swapped.",
      "reference musubi-tuner.md §1.5 (--dit is the low-noise file in dual training)")
def experts_swapped(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        low, high = named_weights(inv, "--dit"), named_weights(inv, "--dit_high_noise")
        if low and high and (low.expert == "high" or high.expert == "low"):
            yield Hit(f"In two-expert training --dit must be the low-noise file and --dit_high_noise the high-noise "
                      f"one; here --dit is {low.file} and --dit_high_noise is {high.file}.",
                      "Swap the two paths.", inv.evidence("--dit_high_noise"))


@rule("WAN_DUAL_ONE_LORA", "warn", "Both experts in one run train a single shared LoRA.",
      "reference musubi-tuner.md §5.5 (kohya in issue #445: better to train each expert on its own range)")
def dual_one_lora(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        if inv.has("--dit_high_noise"):
            yield Hit("--dit_high_noise trains ONE LoRA used by both experts; the maintainer advises training each "
                      "expert separately on its own timestep range when they differ.",
                      "Prefer two runs (one per expert, each with its --min/max_timestep); they can run at the same time.",
                      inv.evidence("--dit_high_noise"))


@rule("MODEL_TRAINER_MISMATCH", "block", "--model names a family another trainer trains.",
      "loragate model catalog (loragate/data/models.toml: trainer per family)")
def model_trainer(setup: Setup) -> Iterator[Hit]:
    family = family_or_none(setup.model)
    if not family:
        return
    for inv in setup.trains():
        if inv.trainer and inv.trainer != family.trainer:
            yield Hit(f"{family.display_name} is trained with {family.trainer}, but this command runs {inv.script}.",
                      f"Check --model, or use {family.scripts.get('train', 'the right script')}.",
                      inv.evidence("--network_module", model=family.id))
        elif inv.trainer == "sdscripts" and family.scripts.get("train", "").rsplit("/", 1)[-1] not in (inv.script, ""):
            yield Hit(f"{family.display_name} is trained with {family.scripts['train']}, not {inv.script}.",
                      f"Use {family.scripts['train']}.", inv.evidence("--pretrained_model_name_or_path", model=family.id))


def _selector(setup: Setup, inv: Invocation) -> tuple[ModelFamily | None, str | None]:
    """The command's model and the option its scripts take the model version with (--model_version ...)."""
    from loragate.backends.musubi_recipes import get_recipe

    family = setup.family(inv)
    return family, get_recipe(family.recipe, family.id).selector_flag() if family and family.recipe else None


@rule("MUSUBI_MODEL_VERSION_MISMATCH", "block", "Caching and training name different model versions.",
      "musubi-tuner 30c658c docs/qwen_image.md 'Pre-caching' (--model_version at latent and text caching: edit "
      "models cache control latents and encode prompts with the control images)")
def model_version_mismatch(setup: Setup) -> Iterator[Hit]:
    for train in setup.trains("musubi"):
        _, flag = _selector(setup, train)
        if not flag or not setup.known(train):
            continue
        trained = selector_value(train, flag)
        for cache in setup.invocations:
            if cache.trainer != "musubi" or cache.stage not in ("cache_latents", "cache_text_encoder") or not setup.known(cache):
                continue
            cached = selector_value(cache, flag)
            if cached is not None and cached != trained:
                yield Hit(f"{cache.script} caches for {flag} {cached}, but training uses {flag} {trained}: the caches "
                          "lack what that version reads (an edit model's control-image latents and prompt embeddings).",
                          f"Give every step the same {flag} ({trained}) and cache again.",
                          cache.evidence(flag, cached=cached, trained=trained))


_TURBO = re.compile(r"(?<![a-z])turbo", re.I)
_DE_TURBO = re.compile(r"de[_ -]?turbo", re.I)


@rule("ZIMAGE_TURBO_DIT", "warn", "Z-Image Turbo as the DiT without the training adapter.",
      "musubi-tuner 30c658c docs/zimage.md 'Download the model' (Turbo is distilled, so training is unstable: use the "
      "base model, ostris' De-Turbo DiT, or the Turbo training adapter as --base_weights)")
def zimage_turbo(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        dit = named_weights(inv)
        if not family or family.id != "zimage" or not dit or inv.has("--base_weights"):
            continue
        if _TURBO.search(dit.file) and not _DE_TURBO.search(dit.file):
            yield Hit(f"{dit.file} looks like Z-Image Turbo, a distilled model: training a LoRA on it alone is "
                      "unstable (musubi-tuner's Z-Image docs).",
                      "Train on the Z-Image base model (Tongyi-MAI/Z-Image), or on ostris' z_image_de_turbo_v1_bf16.safetensors, "
                      "or keep Turbo and add --base_weights with the Turbo training adapter.",
                      inv.evidence("--dit", file=dit.file))


@rule("MUSUBI_DISTILLED_MODEL", "warn", "Training a distilled release the model's docs say is meant for inference.",
      "musubi-tuner 30c658c docs/flux_2.md 'Specifying Model Version' ('For model training, it is recommended to use klein "
      "base 4B or 9B. The dev and klein 4B/9B are distilled models primarily intended for inference.')")
def distilled_model(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("musubi"):
        family, flag = _selector(setup, inv)
        version = selector_value(inv, flag) if family and flag and setup.known(inv) else None
        if family and flag and version in family.distilled_versions:
            yield Hit(f"{flag} {version} trains the distilled release, which is meant for generating; musubi's docs "
                      f"recommend the base model ({family.task}) for training.",
                      f"Use {flag} {family.task} with its weights ({family.weights_files.get('dit', 'the base DiT')}).",
                      inv.evidence(flag, version=version, recommended=family.task))


@rule("MUSUBI_TEXT_FP8_UNAVAILABLE", "block", "fp8 for a text encoder musubi-tuner cannot read in fp8.",
      "musubi-tuner 30c658c docs/flux_2.md ('--fp8_text_encoder option is not available for dev (Mistral 3)'); "
      "flux_kontext_cache_text_encoder_outputs.py:86 and flux_kontext_train_network.py:61 (torch.float8e4m3fn, no such dtype); "
      "models.toml text_encoders fp8 = false")
def text_fp8_unavailable(setup: Setup) -> Iterator[Hit]:
    from loragate.backends.musubi_recipes import load_recipes

    switches = {r.text_encoder_fp8 for r in load_recipes().values() if r.text_encoder_fp8}
    for inv in setup.invocations:
        family = setup.family(inv) if inv.trainer == "musubi" else None
        if family is None or all(te.fp8 for te in family.text_encoders):
            continue
        for flag in sorted(f for f in switches if inv.has(f)):
            names = ", ".join(te.name for te in family.text_encoders if not te.fp8)
            yield Hit(f"{flag}: musubi-tuner cannot read {family.display_name}'s text encoder ({names}) in fp8; the script stops.",
                      f"Drop {flag}; caching the captions needs a card that holds the text encoder in bf16.",
                      inv.evidence(flag))


@rule("MUSUBI_IMAGE_ENCODER_MISSING", "block", "An image-to-video step without the image encoder its script requires.",
      "musubi-tuner 30c658c docs/hunyuan_video_1_5.md ('For I2V training, --image_encoder is required'); "
      "hv_1_5_cache_latents.py ('--i2v requires --image_encoder to be set.')")
def image_encoder_missing(setup: Setup) -> Iterator[Hit]:
    from loragate.backends.musubi_recipes import get_recipe

    for inv in setup.invocations:
        if inv.trainer != "musubi" or inv.has("--image_encoder") or not setup.known(inv):
            continue
        if inv.stage == "cache_latents":
            # A latent cache does not say its task: --i2v on a script whose image-to-video model takes
            # the image encoder at caching is what the script refuses.
            if not inv.has("--i2v"):
                continue
            sharing = [f for f in musubi_families_of(inv.script)
                       if f.recipe and "{image_encoder}" in get_recipe(f.recipe, f.id).cache_latents]
            family = sharing[0] if sharing else None
        elif inv.stage == "train":
            family = setup.family(inv)
            if family is None or not family.recipe or "{image_encoder}" not in get_recipe(family.recipe, family.id).train:
                continue
        else:
            continue
        if family is None:
            continue
        yield Hit(f"{inv.script} runs {family.display_name} without --image_encoder; the script stops at start "
                  "(image-to-video reads each clip's first frame with the SigLIP image encoder).",
                  f"Add --image_encoder {family.weights_files.get('image_encoder', 'path/to/image_encoder')}.",
                  inv.evidence("--image_encoder"))
