"""The weights the plan names: present, complete, and the model the plan says they are.

Headers only (loragate.environment.safetensors_header). The task and precision rules here are
the header-based half of the config validator's checks and use the same ENV_WEIGHTS_* codes.
"""

from __future__ import annotations

import json
from functools import lru_cache
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily, load_catalog
from loragate.environment.safetensors_header import (
    MUSUBI_DIT_PREFIXES, PICKLE_SUFFIXES, HeaderProblem, Inspection, inspect, read_header,
)
from loragate.core.findings import Finding
from loragate.core.nextstep import step
from loragate.core.plan import TrainingPlan

Status = Literal["ok", "missing", "not_set", "hub", "directory", "pickle", "truncated", "corrupt", "unreadable"]

DTYPE_NAMES = {"F16": "fp16", "BF16": "bf16", "F32": "fp32", "F8_E4M3": "fp8_e4m3fn", "F8_E5M2": "fp8_e5m2"}
KIND_NAMES = {
    "wan_dit": "a Wan DiT",
    "wan_vae": "a Wan VAE",
    "sd15": "an SD 1.x checkpoint",
    "sd2": "an SD 2.x checkpoint",
    "sdxl": "an SDXL checkpoint",
    "flux": "a FLUX.1 model",
    "flux_diffusers": "a FLUX.1 model in Diffusers layout",
    "chroma": "a Chroma model",
    "sd3": "an SD 3 / 3.5 model",
    "lora": "a LoRA",
    "unknown": "a model loragate does not recognise",
}
WAN_SIZES = {1536: "Wan 1.3B", 3072: "Wan 2.2 TI2V-5B", 5120: "Wan 14B"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DIT_ROLES = {"dit", "dit_high_noise", "expert:high", "expert:low"}


class WeightFile(BaseModel):
    role: str = Field(description="Plan field: dit, dit_high_noise, vae, t5, clip, base_model, clip_l, t5xxl, ae, text_encoder, expert:high/low.")
    path: str | None = None
    status: Status
    size_gb: float | None = None
    problem: str | None = None
    inspection: Inspection | None = None
    signature_misses: list[str] = Field(default_factory=list, description="Tensors of the family's signature for this role the file lacks or holds in another shape.")
    signature_dtype: str | None = Field(default=None, description="dtype of the signature's first tensor.")
    marked_as: str | None = Field(default=None, description="The family whose marker tensor the file holds (models.toml weight_markers).")


class WeightsSection(BaseModel):
    files: list[WeightFile] = Field(default_factory=list)


def plan_weights(plan: TrainingPlan, family: ModelFamily | None) -> list[tuple[str, str | None, bool]]:
    """(role, path, required) for every weight the plan's commands load."""
    required = set(family.weights_files) if family else set()
    if plan.experts:
        # Separate expert runs: each expert's file is what its run loads (plan.experts[].dit).
        required -= {"dit", "dit_high_noise"}
    elif family and family.experts:
        required -= {"dit_high_noise"}  # single-expert or dual: the low-noise file is the one always loaded
    rows: list[tuple[str, str | None, bool]] = []
    for role, value in plan.weights.model_dump().items():
        if value or role in required:
            rows.append((role, value, role in required))
    experts = [(f"expert:{e.expert}", e.dit, True) for e in plan.experts]
    # One row per file: an expert's file is often also the plan's dit / dit_high_noise; name it by the expert.
    expert_role = {path: role for role, path, _ in experts if path}
    out: list[tuple[str, str | None, bool]] = []
    index: dict[str, int] = {}
    for role, path, req in rows + experts:
        if path is None:
            out.append((role, path, req))
        elif path in index:
            kept = out[index[path]]
            out[index[path]] = (kept[0], path, kept[2] or req)
        else:
            index[path] = len(out)
            out.append((expert_role.get(path, role), path, req))
    return out


ROLE_WORDS = {"dit": "model (DiT)", "dit_high_noise": "high-noise expert", "expert:high": "high-noise expert",
              "expert:low": "low-noise expert", "vae": "VAE", "t5": "T5 text encoder", "clip": "CLIP image encoder",
              "base_model": "base model", "clip_l": "CLIP-L text encoder", "t5xxl": "T5-XXL text encoder",
              "ae": "autoencoder (AE)", "text_encoder": "text encoder", "byt5": "ByT5 text encoder",
              "image_encoder": "image encoder (SigLIP)"}


def role_words(role: str) -> str:
    """A weight's role as an artist reads it ('high-noise expert'), not the plan's field name."""
    return ROLE_WORDS.get(role, role)


def inspect_file(role: str, raw: str | None, allow_hub: bool, signature: dict[str, list[int]] | None = None,
                 markers: dict[str, str] | None = None) -> WeightFile:
    if not raw:
        return WeightFile(role=role, status="not_set")
    path = Path(raw).expanduser()
    if not path.exists():
        if allow_hub and not raw.startswith(("/", "~", ".")) and HUB_ID.match(raw):
            return WeightFile(role=role, path=raw, status="hub")
        return WeightFile(role=role, path=raw, status="missing")
    if path.is_dir():
        return WeightFile(role=role, path=raw, status="directory")
    try:
        size_gb = round(path.stat().st_size / 1024**3, 3)
    except OSError as exc:
        return WeightFile(role=role, path=raw, status="unreadable", problem=str(exc))
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return WeightFile(role=role, path=raw, status="pickle", size_gb=size_gb)
    try:
        header, metadata = read_header(path)
    except HeaderProblem as exc:
        return WeightFile(role=role, path=raw, status=exc.code, size_gb=size_gb, problem=exc.detail)  # type: ignore[arg-type]
    except OSError as exc:
        return WeightFile(role=role, path=raw, status="unreadable", size_gb=size_gb, problem=str(exc))
    misses, first_dtype = _signature_misses(header, signature or {})
    marked = next((fid for key, fid in (markers or {}).items() if any(p + key in header for p in MUSUBI_DIT_PREFIXES)), None)
    return WeightFile(role=role, path=raw, status="ok", size_gb=size_gb, inspection=inspect(header, metadata),
                      signature_misses=misses, signature_dtype=first_dtype, marked_as=marked)


def _signature_misses(header: dict, signature: dict[str, list[int]]) -> tuple[list[str], str | None]:
    """The signature's tensors the header lacks or holds in another shape (bare names or under
    ComfyUI's 'model.diffusion_model.', which musubi's loaders strip), and the first one's dtype."""
    misses: list[str] = []
    first_dtype: str | None = None
    for key, want in signature.items():
        info = next((header[p + key] for p in MUSUBI_DIT_PREFIXES if isinstance(header.get(p + key), dict)), None)
        if info is None:
            misses.append(f"{key} (missing)")
            continue
        first_dtype = first_dtype or str(info.get("dtype"))
        if list(info.get("shape", [])) != want:
            misses.append(f"{key} {list(info.get('shape', []))}, not {want}")
    return misses, first_dtype


def _role_signature(family: ModelFamily | None, role: str) -> dict[str, list[int]] | None:
    if family is None:
        return None
    return family.weight_signatures.get("dit" if role in DIT_ROLES else role)


@lru_cache(maxsize=None)
def _role_markers(role: str) -> dict[str, str]:
    """marker tensor -> the family whose file of this role holds it, over the whole catalogue."""
    wanted = "dit" if role in DIT_ROLES else role
    return {key: f.id for f in load_catalog().families.values() for key in f.weight_markers.get(wanted, [])}


def read_weights(plan: TrainingPlan, family: ModelFamily | None) -> WeightsSection:
    allow_hub = traits(plan.backend).base_model_from_hub
    rows = plan_weights(plan, family)
    return WeightsSection(files=[inspect_file(role, path, allow_hub and role == "base_model", _role_signature(family, role),
                                              _role_markers(role))
                                 for role, path, _ in rows])


def _diffusers_kind(folder: Path) -> str:
    try:
        name = json.loads((folder / "model_index.json").read_text(encoding="utf-8")).get("_class_name", "")
    except (OSError, ValueError):
        return "unknown"
    if "XL" in name:
        return "sdxl"
    if name.startswith("Flux"):
        return "flux_diffusers"
    if name.startswith("StableDiffusion"):
        try:
            unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
            return "sd2" if unet.get("cross_attention_dim") == 1024 else "sd15"
        except (OSError, ValueError):
            return "sd15"
    return "unknown"


def _expected_base_kinds(family: ModelFamily) -> set[str]:
    if family.checkpoint_kind:
        return {family.checkpoint_kind}
    base = family.variant_of or family.id
    if family.group == "flux":
        return {"flux"}
    if base == "sdxl":
        return {"sdxl"}
    if base == "sd15":
        return {"sd15"}
    return set()


def weights_findings(plan: TrainingPlan, family: ModelFamily | None, section: WeightsSection) -> list[Finding]:
    findings: list[Finding] = []
    required = {role for role, _, req in plan_weights(plan, family) if req}
    for wf in section.files:
        findings += _file_findings(plan, family, wf, wf.role in required)
    findings += _expert_findings(plan, section)
    return findings


def _file_findings(plan: TrainingPlan, family: ModelFamily | None, wf: WeightFile, required: bool) -> list[Finding]:
    name = Path(wf.path).name if wf.path else ""
    typical = family.weights_files.get(wf.role, "") if family else ""
    evidence = {"role": wf.role, "path": wf.path}
    if wf.status == "not_set":
        return [
            Finding(
                code="ENV_WEIGHTS_NOT_SET",
                severity="block",
                message=f"The plan names no {role_words(wf.role)} file, which {family.display_name if family else 'this model'} needs.",
                fix=f"Download it ({typical}) and give its path in the plan." if typical else "Give its path in the plan.",
                evidence=evidence,
            )
        ]
    if wf.status == "missing":
        return [
            Finding(
                code="ENV_WEIGHTS_MISSING",
                severity="block" if required or wf.role in DIT_ROLES else "warn",
                message=f"The {role_words(wf.role)} file {wf.path} does not exist on this machine.",
                fix=f"Download it{f' ({typical})' if typical else ''} to that path, or fix the path in the plan. On a pod, check the network volume is mounted.",
                path=wf.path,
                evidence=evidence,
            )
        ]
    if wf.status == "hub":
        return [
            Finding(
                code="ENV_WEIGHTS_FROM_HUB",
                severity="warn",
                message=f"The base model {wf.path} is a Hugging Face id: it is downloaded when training starts (needs internet and disk).",
                fix="Download it once and point the plan at the local .safetensors file, so a dry run and the training use the same file.",
                evidence=evidence,
            )
        ]
    if wf.status in {"truncated", "corrupt", "unreadable"}:
        what = {"truncated": "is incomplete", "corrupt": "is damaged", "unreadable": "cannot be read"}[wf.status]
        return [
            Finding(
                code=f"ENV_WEIGHTS_{wf.status.upper()}",
                severity="block",
                message=f"The {role_words(wf.role)} file {name} {what}: {wf.problem}.",
                fix="Download it again (compare its size with the one on the download page), then check the machine again.",
                next=step("validate_env", plan=plan.name),
                path=wf.path,
                evidence={**evidence, "size_gb": wf.size_gb},
            )
        ]
    if wf.status == "pickle":
        return [
            Finding(
                code="ENV_WEIGHTS_NOT_INSPECTED",
                severity="info",
                message=f"The {role_words(wf.role)} file {name} ({wf.size_gb} GB) is a pickle (.pth/.ckpt); loragate checks only that it is there, never opening it.",
                fix="Nothing to do if it is the file the model page lists; the dry run loads it for real.",
                path=wf.path,
                evidence=evidence,
            )
        ]
    if wf.status == "directory":
        return _directory_findings(family, wf)
    assert wf.inspection is not None
    return _content_findings(plan, family, wf, wf.inspection)


def _directory_findings(family: ModelFamily | None, wf: WeightFile) -> list[Finding]:
    if wf.role != "base_model" or family is None:
        return [
            Finding(
                code="ENV_WEIGHTS_NOT_A_FILE",
                severity="block",
                message=f"The {role_words(wf.role)} path {wf.path} is a folder; the trainer loads a single file there.",
                fix="Point the plan at the .safetensors file inside it.",
                path=wf.path,
                evidence={"role": wf.role},
            )
        ]
    folder = Path(wf.path or "")
    kind = _diffusers_kind(folder)
    if kind == "flux_diffusers" and family.group == "flux":
        # sd-scripts 48d368fa library/flux_utils.py:46-51: a folder is read as Diffusers, from
        # transformer/diffusion_pytorch_model-0000{1,2,3}-of-00003.safetensors (converted at :130-132).
        missing = [name for name in FLUX_DIFFUSERS_SHARDS if not (folder / "transformer" / name).is_file()]
        if missing:
            return [
                Finding(
                    code="ENV_WEIGHTS_MISSING",
                    severity="block",
                    message=(f"{folder.name} is a FLUX.1 Diffusers folder, which sd-scripts loads from its transformer/ "
                             f"files, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not there."),
                    fix="Finish downloading the folder's transformer/ files, or use the single-file flux1-dev.safetensors.",
                    path=wf.path,
                    evidence={"role": wf.role, "kind": kind, "missing": missing},
                )
            ]
        return [
            Finding(
                code="ENV_WEIGHTS_UNRECOGNISED",
                severity="info",
                message=(f"{folder.name} is a FLUX.1 Diffusers folder. sd-scripts' documentation calls these unsupported, "
                         "but its loader reads the transformer/ files and converts them (library/flux_utils.py:46-51, 130-132)."),
                fix="Nothing to do; --ae, --clip_l and --t5xxl still name their own single files.",
                path=wf.path,
                evidence={"role": wf.role, "kind": kind},
            )
        ]
    return _kind_mismatch(family, wf, kind)


FLUX_DIFFUSERS_SHARDS = tuple(f"diffusion_pytorch_model-0000{i}-of-00003.safetensors" for i in (1, 2, 3))


def _kind_mismatch(family: ModelFamily, wf: WeightFile, kind: str) -> list[Finding]:
    expected = _expected_base_kinds(family)
    if kind == "unknown" or not expected or kind in expected:
        return []
    return [
        Finding(
            code="ENV_WEIGHTS_ARCH_MISMATCH",
            severity="block",
            message=f"{Path(wf.path or '').name} is {KIND_NAMES.get(kind, kind)}, but the plan trains {family.display_name}.",
            fix=f"Use {family.display_name} weights (e.g. {family.weights_files.get(wf.role, 'the base model')}), or re-plan for the model you have.",
            path=wf.path,
            evidence={"role": wf.role, "found": kind, "expected": sorted(expected)},
        )
    ]


def _content_findings(plan: TrainingPlan, family: ModelFamily | None, wf: WeightFile, ins: Inspection) -> list[Finding]:
    name = Path(wf.path or "").name
    evidence = {"role": wf.role, "kind": ins.kind, "dtype": ins.dtype, "dim": ins.dim, "in_dim": ins.in_dim, "layers": ins.layers}
    if ins.kind == "lora":
        return [
            Finding(
                code="ENV_WEIGHTS_IS_LORA",
                severity="block",
                message=f"{name} is a LoRA, not a base model; it cannot stand in for the {role_words(wf.role)}.",
                fix="Point the plan at the base model file; to continue from this LoRA, use it as the starting network weights instead.",
                path=wf.path,
                evidence=evidence,
            )
        ]
    if family is None:
        return []
    if wf.marked_as and wf.marked_as != family.id:
        return [_marked_finding(family, wf, name, evidence)]
    if _role_signature(family, wf.role):
        return _signature_findings(plan, family, wf, ins, name, evidence)
    if family.group == "wan" and wf.role in DIT_ROLES:
        return _wan_dit_findings(plan, family, wf, ins, name, evidence)
    if family.group == "wan" and wf.role == "vae":
        if ins.kind == "wan_vae" and ins.z_dim == 48:
            return [
                Finding(
                    code="ENV_WEIGHTS_WRONG_VAE",
                    severity="block",
                    message=f"{name} is the Wan 2.2 VAE of the 5B model (48 latent channels); {family.display_name} uses the Wan 2.1 VAE.",
                    fix="Use wan_2.1_vae.safetensors (or Wan2.1_VAE.pth), as musubi's docs say for 2.1 and 2.2-14B (reference musubi-tuner.md §1.1).",
                    path=wf.path,
                    evidence={**evidence, "z_dim": ins.z_dim},
                )
            ]
        if ins.kind not in {"wan_vae", "unknown"}:
            return _wrong_kind(wf, ins, "the Wan 2.1 VAE", name, evidence)
        return []
    if wf.role == "vae" and "vae" in family.weights_files and ins.kind == "wan_vae" and ins.z_dim \
            and ins.z_dim != family.latent_channels:
        # Qwen-Image's VAE has Wan 2.1's layout (16 channels); the Wan 2.2 5B VAE (48) in its place is not it
        return [Finding(code="ENV_WEIGHTS_WRONG_VAE", severity="block",
                        message=f"{name} is a Wan-layout VAE with {ins.z_dim} latent channels; {family.display_name} "
                                f"works in {family.latent_channels}, so it is not the {family.vae_name or 'VAE'}.",
                        fix=f"Use {family.weights_files['vae']}, as its model page lists.",
                        path=wf.path, evidence={**evidence, "z_dim": ins.z_dim, "expected": family.latent_channels})]
    if wf.role == "vae" and "vae" in family.weights_files and ins.kind not in {"wan_vae", "unknown"}:
        # A model of its own VAE with no signature to tell it by (Qwen-Image, Z-Image, HunyuanVideo 1.5):
        # a DiT or a whole checkpoint there is wrong; a Wan-layout file may be it (Qwen-Image's ComfyUI VAE).
        return _wrong_kind(wf, ins, f"the {family.vae_name or 'VAE'}", name, evidence)
    if wf.role == "base_model":  # the one-file checkpoint of an sd-scripts model: its layout tells its kind
        found = _kind_mismatch(family, wf, ins.kind)
        if found:
            return found
        if ins.kind == "unknown":
            return [
                Finding(
                    code="ENV_WEIGHTS_UNRECOGNISED",
                    severity="warn",
                    message=f"loragate does not recognise the layout of {name}; it may not be {family.display_name}.",
                    fix="Check it is the full checkpoint from the model page; the dry run will tell for sure.",
                    path=wf.path,
                    evidence=evidence,
                )
            ]
        found = _prediction_findings(family, wf, ins, name, evidence) + _sd3_size_findings(family, wf, ins, name, evidence)
        if found:
            return found
        if ins.kind == "flux" and ins.dtype == "F8_E5M2":
            return [_dtype_finding(wf, name, "FLUX fp8 weights must be float8_e4m3fn (reference sd-scripts.md §6.16).", "Download the fp8_e4m3fn or bf16 release.", evidence)]
        if family.group == "flux" and ins.flux_guidance is False and "schnell" not in family.id:
            return [
                Finding(
                    code="ENV_WEIGHTS_FLUX_SCHNELL",
                    severity="warn",
                    message=f"{name} has no guidance embedding, so it is FLUX.1 schnell, not dev.",
                    fix="Use flux1-dev.safetensors for a dev LoRA.",
                    path=wf.path,
                    evidence=evidence,
                )
            ]
        if ins.kind == "flux_diffusers":
            # sd-scripts 48d368fa library/flux_utils.py:62 and :130-132 convert these keys on load
            return [
                Finding(
                    code="ENV_WEIGHTS_UNRECOGNISED",
                    severity="info",
                    message=f"{name} holds FLUX in the Diffusers key layout; sd-scripts converts it to its own layout as it loads.",
                    fix="Nothing to do; the original flux1-dev.safetensors release skips that conversion.",
                    path=wf.path,
                    evidence=evidence,
                )
            ]
    if wf.role == "t5xxl" and ins.fp8_scaled:
        return [_dtype_finding(wf, name, "the fp8 T5-XXL must be the plain, not the 'scaled', file (reference sd-scripts.md §6.16).", "Use t5xxl_fp16.safetensors or t5xxl_fp8_e4m3fn.safetensors.", evidence)]
    return []


def _marked_finding(family: ModelFamily, wf: WeightFile, name: str, evidence: dict) -> Finding:
    """A file that says which model it is (a marker tensor) given for another model of the same kind:
    it has the same tensors, so the signature passes, but the trainer refuses it as it loads."""
    other = load_catalog().families[wf.marked_as or ""]
    marker = ", ".join(other.weight_markers.get("dit" if wf.role in DIT_ROLES else wf.role, []))
    return Finding(code="ENV_WEIGHTS_ARCH_MISMATCH", severity="block",
                   message=f"{name}, given as the {role_words(wf.role)}, is the {other.display_name} file (it holds the "
                           f"{marker} marker), but the plan trains {family.display_name}; the trainer stops on it right "
                           "after loading the model.",
                   fix=f"Make the plan again for the model {other.id} if that is the one you mean to train, or use the "
                       f"{family.display_name} file ({family.weights_files.get(wf.role, 'from its model page')}).",
                   path=wf.path, evidence={**evidence, "marked_as": other.id, "marker": marker})


def _prediction_findings(family: ModelFamily, wf: WeightFile, ins: Inspection, name: str, evidence: dict) -> list[Finding]:
    """A v-prediction SDXL trained as epsilon (or the reverse) runs without error and gives empty or brown
    images (sd-scripts #1772); NoobAI-XL V-Pred says which it is with a `v_pred` key."""
    if ins.kind != "sdxl" or ins.v_pred is None or ins.v_pred == family.v_prediction:
        return []
    if ins.v_pred:
        return [Finding(code="ENV_WEIGHTS_PREDICTION", severity="block",
                        message=f"{name} is a v-prediction SDXL checkpoint (it has a v_pred key), but the plan trains "
                                f"{family.display_name}, which predicts noise; the LoRA would give brown images.",
                        fix="Make the plan again for the model noobai-xl-vpred, which trains it as v-prediction (with zero terminal SNR).",
                        path=wf.path, evidence={**evidence, "v_pred": True})]
    return [Finding(code="ENV_WEIGHTS_PREDICTION", severity="warn",
                    message=f"{name} has no v_pred key, which NoobAI-XL V-Pred files carry; it may predict noise, and "
                            f"then training it as {family.display_name} (v-prediction) gives brown images.",
                    fix="Check the model page says v-prediction; if not, re-plan with --model illustrious or sdxl.",
                    path=wf.path, evidence={**evidence, "v_pred": False})]


def _sd3_size_findings(family: ModelFamily, wf: WeightFile, ins: Inspection, name: str, evidence: dict) -> list[Finding]:
    """sd3_train_network.py builds whichever SD3 the file holds, so a Medium file under a Large plan
    trains, but every number the plan chose (memory, block swap up to 36) was for the other model."""
    if ins.kind != "sd3" or ins.layers is None or ins.layers == family.layers:
        return []
    return [Finding(code="ENV_WEIGHTS_ARCH_MISMATCH", severity="block",
                    message=f"{name} has {ins.layers} transformer blocks, but {family.display_name} has {family.layers}; "
                            "it is the other SD 3.5 model.",
                    fix=f"Use {family.weights_files.get('base_model', 'the right checkpoint')}, or re-plan for the model this file is "
                        "(sd3.5-large: 38 blocks, sd3.5-medium: 24).",
                    path=wf.path, evidence={**evidence, "mmdit_x": ins.mmdit_x, "expected_layers": family.layers})]


def _signature_findings(plan: TrainingPlan, family: ModelFamily, wf: WeightFile, ins: Inspection, name: str, evidence: dict) -> list[Finding]:
    """A file told apart by the tensors the family's model must hold (models.toml weight_signatures)."""
    role = role_words(wf.role)
    if wf.signature_misses:
        what = f"{KIND_NAMES[ins.kind]}, not" if ins.kind != "unknown" else "not"
        return [
            Finding(
                code="ENV_WEIGHTS_ARCH_MISMATCH",
                severity="block",
                message=(f"{name}, given as the {role}, is {what} the {family.display_name} {role}: "
                         f"{'; '.join(wf.signature_misses[:3])}. musubi-tuner's strict load would stop on it."),
                fix=f"Use the {family.display_name} {role} (e.g. {family.weights_files.get(wf.role, 'the file its model page lists')}), or re-plan for the model this file is.",
                path=wf.path,
                evidence={**evidence, "misses": wf.signature_misses},
            )
        ]
    fp8 = ins.fp8_scaled or (wf.signature_dtype or "").startswith("F8")
    if wf.role in DIT_ROLES and fp8 and family.dit_fp8_release_refused:
        return [_dtype_finding(wf, name, f"is an fp8 release, which musubi-tuner cannot train {family.display_name} on "
                               "(its docs: 'fp8_scaled and fp8_e4m3fn versions cannot be used').",
                               "Download the bf16 release and let musubi make fp8 itself (fp8_base + fp8_scaled).", evidence)]
    if wf.role in DIT_ROLES and family.dit_dtypes and not fp8 and wf.signature_dtype not in (None, *family.dit_dtypes):
        dtype = DTYPE_NAMES.get(wf.signature_dtype or "", wf.signature_dtype)
        wanted = " or ".join(DTYPE_NAMES.get(d, d) for d in family.dit_dtypes)
        return [Finding(code="ENV_WEIGHTS_DTYPE_MISMATCH", severity="warn",
                        message=f"{name} holds {dtype} weights, a conversion of {family.display_name}'s {wanted} release; "
                                f"musubi-tuner's docs advise against training on it in {plan.memory.mixed_precision}.",
                        fix=f"Download the {wanted} release ({family.weights_files.get('dit', 'from the model page')}).",
                        path=wf.path, evidence={**evidence, "dtype": wf.signature_dtype, "expected": family.dit_dtypes})]
    return []


def _wrong_kind(wf: WeightFile, ins: Inspection, wanted: str, name: str, evidence: dict) -> list[Finding]:
    return [
        Finding(
            code="ENV_WEIGHTS_ARCH_MISMATCH",
            severity="block",
            message=f"{name}, given as the {wf.role}, is {KIND_NAMES.get(ins.kind, ins.kind)}, not {wanted}.",
            fix=f"Point the plan's {wf.role} at {wanted}.",
            path=wf.path,
            evidence=evidence,
        )
    ]


def _dtype_finding(wf: WeightFile, name: str, why: str, fix: str, evidence: dict) -> Finding:
    return Finding(code="ENV_WEIGHTS_DTYPE_MISMATCH", severity="block", message=f"{name}: {why}", fix=fix, path=wf.path, evidence=evidence)


def _wan_dit_findings(plan: TrainingPlan, family: ModelFamily, wf: WeightFile, ins: Inspection, name: str, evidence: dict) -> list[Finding]:
    if ins.kind != "wan_dit":
        return _wrong_kind(wf, ins, f"a {family.display_name} DiT", name, evidence)
    findings: list[Finding] = []
    if ins.prefix not in MUSUBI_DIT_PREFIXES:
        findings.append(
            Finding(
                code="ENV_WEIGHTS_KEY_PREFIX",
                severity="block",
                message=(f"{name} stores its layers under '{ins.prefix}...'; musubi-tuner reads only bare names or "
                         "'model.diffusion_model.', so it stops with 'Could not find the dtype in the model weights'."),
                fix="Use the DiT as released for musubi-tuner / ComfyUI (e.g. the Comfy-Org repackaged file), not this conversion.",
                path=wf.path,
                evidence={**evidence, "prefix": ins.prefix, "accepted": list(MUSUBI_DIT_PREFIXES)},
            )
        )
    # reference musubi-tuner.md §1.4 task table: in_dim 16 (T2V), 36 (I2V: 16 noise + 20 image
    # conditioning), 48 (Fun-Control); dim 1536 (1.3B) / 5120 (14B); k_img/v_img + img_emb only
    # in Wan 2.1 I2V. Wan 2.2 experts (families with experts) have no image cross-attention.
    want_in = 36 if family.i2v else 16
    want_img = family.i2v and not family.experts
    task = family.task or family.id
    size = WAN_SIZES.get(ins.dim or 0, f"a Wan model of width {ins.dim}")
    mismatch: str | None = None
    if ins.dim != family.hidden_size:  # the width tells 1.3B, 5B and 14B apart (the block count follows it)
        mismatch = f"{name} is {size} ({ins.dim} wide, {ins.layers} blocks); the plan trains {family.display_name} ({family.hidden_size} wide, {family.layers} blocks)"
    elif ins.in_dim != want_in:
        if ins.in_dim == 36:
            mismatch = f"{name} is an image-to-video model (36 input channels) but the plan trains {family.display_name}, a text-to-video task ({task}); musubi stops with 'size mismatch for patch_embedding.weight'"
        elif ins.in_dim == 16:
            mismatch = f"{name} is a text-to-video model (16 input channels) but the plan trains {family.display_name}, an image-to-video task ({task}) that needs 36"
        else:
            mismatch = f"{name} has {ins.in_dim} input channels (a Fun-Control or 5B model), which {family.display_name} ({task}) cannot train"
    elif bool(ins.image_cross_attention) != want_img:
        if want_img:
            mismatch = (
                f"{name} has no CLIP image cross-attention (k_img/v_img), so it is a Wan 2.2 I2V expert, but the plan trains "
                f"{family.display_name} (i2v-14B); musubi stops with 'Missing key(s) ... blocks.0.cross_attn.k_img.weight' (musubi-tuner#416)"
            )
        else:
            mismatch = f"{name} has CLIP image cross-attention (k_img/v_img, img_emb), so it is Wan 2.1 I2V, but the plan trains {family.display_name} ({task})"
    elif family.task == "i2v-14B" and ins.first_last_frame:
        mismatch = (f"{name} is Wan 2.1 first-last-frame (FLF2V: it has img_emb.emb_pos), not image-to-video; "
                    f"the plan trains {family.display_name} (i2v-14B) and musubi's strict load stops with "
                    "'Unexpected key(s) in state_dict: \"img_emb.emb_pos\"'")
    elif family.task == "flf2v-14B" and not ins.first_last_frame:  # musubi-tuner wan/modules/model.py: MLPProj has emb_pos only for flf2v
        mismatch = (f"{name} is Wan 2.1 image-to-video (it has no img_emb.emb_pos), not first-last-frame (FLF2V); "
                    f"the plan trains {family.display_name} (flf2v-14B) and musubi's strict load stops with "
                    "'Missing key(s) in state_dict: \"img_emb.emb_pos\"'")
    if mismatch:
        findings.append(
            Finding(
                code="ENV_WEIGHTS_TASK_MISMATCH",
                severity="block",
                message=mismatch + ".",
                fix=f"Use the {family.display_name} weights (e.g. {family.weights_files.get('dit', 'the DiT from its model page')}), or re-plan for the model this file is.",
                path=wf.path,
                evidence={**evidence, "expected": {"dim": family.hidden_size, "layers": family.layers, "in_dim": want_in, "image_cross_attention": want_img}},
            )
        )
    findings += _wan_precision_findings(plan, wf, ins, name, evidence)
    return findings


def _wan_precision_findings(plan: TrainingPlan, wf: WeightFile, ins: Inspection, name: str, evidence: dict) -> list[Finding]:
    memory = plan.memory
    dtype = DTYPE_NAMES.get(ins.dtype or "", ins.dtype)
    if ins.fp8_scaled:
        # reference musubi-tuner.md §5.7: "fp8_scaled files never".
        return [_dtype_finding(wf, name, "is a ComfyUI 'fp8_scaled' file, which musubi-tuner cannot train on.", "Download the fp16/bf16 release and let musubi make fp8 itself (fp8_base + fp8_scaled).", evidence)]
    if ins.dtype == "F8_E4M3":
        # reference musubi-tuner.md §5.7 (fp8_e4m3fn file -> --fp8_base without --fp8_scaled) and
        # §1.5 (--fp8_scaled raises "DiT weights is already in fp8 format, cannot scale to fp8").
        if memory.fp8_scaled:
            return [_dtype_finding(wf, name, "is already fp8, and musubi refuses to scale fp8 weights again ('cannot scale to fp8').", "Turn fp8_scaled off in the plan (keep fp8_base), or use the fp16/bf16 release.", evidence)]
        if not memory.fp8_base:
            return [_dtype_finding(wf, name, "holds fp8 weights, which musubi only trains with fp8_base on.", "Turn fp8_base on in the plan, or use the fp16/bf16 release.", evidence)]
        return []
    want = {"F16": "fp16", "BF16": "bf16"}.get(ins.dtype or "")
    if want and memory.mixed_precision != want:
        # reference musubi-tuner.md §5.7: handle_model_specific_args asserts "DiT weights are in
        # fp16, mixed precision must be fp16 or no" (bf16 likewise), whatever fp8_base says.
        return [
            _dtype_finding(
                wf,
                name,
                f"holds {dtype} weights but the plan trains in {memory.mixed_precision}; musubi stops with 'DiT weights are in {want}, mixed precision must be {want} or no'.",
                f"Set the plan's mixed precision to {want}, or use the {memory.mixed_precision} release of the weights.",
                evidence,
            )
        ]
    return []


def _expert_findings(plan: TrainingPlan, section: WeightsSection) -> list[Finding]:
    """Wan 2.2 expert files swapped by name: the high-noise run given the low-noise file or back."""
    findings: list[Finding] = []
    by_role = {wf.role: wf for wf in section.files}
    expect = {"dit_high_noise": "high", "expert:high": "high", "expert:low": "low"}
    if "dit_high_noise" in by_role:
        expect["dit"] = "low"  # in a dual run --dit is the low-noise expert (reference musubi-tuner.md §1.5)
    for role, want in expect.items():
        wf = by_role.get(role)
        if wf is None or not wf.path:
            continue
        name = Path(wf.path).name.lower()
        other = "low" if want == "high" else "high"
        if f"{other}_noise" in name or f"{other}noise" in name:
            findings.append(
                Finding(
                    code="ENV_WEIGHTS_EXPERT_SWAPPED",
                    severity="warn",
                    message=f"The {want}-noise expert's file is named {Path(wf.path).name}, which looks like the {other}-noise expert.",
                    fix=f"Check the plan gives the {want}_noise file to the {want}-noise expert; swapped experts train the wrong timesteps.",
                    path=wf.path,
                    evidence={"role": role, "path": wf.path},
                )
            )
    high, low = by_role.get("dit_high_noise"), by_role.get("dit")
    if high and low and high.path and high.path == low.path:
        findings.append(
            Finding(
                code="ENV_WEIGHTS_EXPERT_SWAPPED",
                severity="block",
                message="The high-noise and low-noise experts are the same file.",
                fix="Give the plan both Wan 2.2 expert files (high_noise and low_noise).",
                path=high.path,
                evidence={"path": high.path},
            )
        )
    return findings
