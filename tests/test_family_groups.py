"""A family's `group` says which model line it is (what a Wan-only check asks); its `tuning` says whose
presets, learning-rate ranges and VRAM calibration it shares. musubi-tuner's other DiTs tune like Wan
but are not Wan, and calibration records saved when both meanings were one `group` still pool alike."""

from __future__ import annotations

import json
from pathlib import Path

from loragate.catalog.models import family_ids, get_family
from loragate.catalog.optimizers import lr_range
from loragate.catalog.presets import get_preset
from loragate.core.plan import DatasetSpec, NetworkSpec, TrainingPlan, WeightPaths
from loragate.diagnose.evidence import wan_task
from loragate.diagnose.facts import ProjectFacts
from loragate.environment.weights import read_weights, weights_findings
from loragate.evaluate.model import CheckpointRef
from loragate.evaluate.run import _no_effect
from loragate.vram import calibration, make_request, record_measurement
from loragate.vram.estimate import base_estimate
from tests.envkit import wan_dit, wan_plan, wan_vae

NON_WAN_MUSUBI = ("qwen-image", "qwen-image-edit-2511", "zimage", "flux2-dev", "flux2-klein-base-4b",
                  "flux1-kontext-dev", "hunyuan-video-1.5-t2v", "hunyuan-video-1.5-i2v")


def test_only_wan_families_are_in_group_wan() -> None:
    in_wan = {fid for fid in family_ids() if get_family(fid).group == "wan"}
    assert in_wan == {fid for fid in family_ids() if get_family(fid).display_name.startswith("Wan")}
    for fid in NON_WAN_MUSUBI:
        family = get_family(fid)
        assert family.group != "wan" and family.tuning == "musubi-dit", fid
        # still trained as musubi's docs train them: Wan's presets and ranges at alpha 1
        assert get_preset(fid).alpha == get_preset("wan2.1-t2v-14b").alpha == 1
        assert lr_range("AdamW8bit", fid) == lr_range("AdamW8bit", "wan2.1-t2v-14b")


def _qwen_plan(tmp_path: Path, vae: Path) -> TrainingPlan:
    return TrainingPlan(
        name="mira", model="qwen-image", backend="musubi", trigger="mira", output_dir=str(tmp_path / "out"),
        output_name="mira", dataset=DatasetSpec(path=str(tmp_path)), network=NetworkSpec(module="networks.lora_qwen_image"),
        weights=WeightPaths(vae=str(vae)),
    )


def _findings(plan: TrainingPlan) -> dict[str, str]:
    family = get_family(plan.model)
    return {f.code: f.message for f in weights_findings(plan, family, read_weights(plan, family))
            if f.path == plan.weights.vae}


def test_a_wan_dit_given_as_qwen_images_vae_is_named_as_not_its_vae(workspace: Path, tmp_path: Path) -> None:
    dit = wan_dit(tmp_path / "models" / "wan2.1_t2v_14B_bf16.safetensors")
    message = _findings(_qwen_plan(tmp_path, dit))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert "not the Qwen-Image VAE" in message and "Wan 2.1 VAE" not in message
    wan = _findings(wan_plan(tmp_path, weights={"vae": str(dit)}))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert "not the Wan 2.1 VAE" in wan


def test_the_wan_22_vae_given_as_qwen_images_vae_is_refused_by_its_channels(workspace: Path, tmp_path: Path) -> None:
    """Qwen-Image's VAE has Wan 2.1's layout and 16 channels; the Wan 2.2 5B VAE has 48."""
    wan22 = wan_vae(tmp_path / "models" / "Wan2.2_VAE.safetensors", z_dim=48)
    message = _findings(_qwen_plan(tmp_path, wan22))["ENV_WEIGHTS_WRONG_VAE"]
    assert "48 latent channels" in message and "Qwen-Image VAE" in message
    wan21 = wan_vae(tmp_path / "models" / "qwen_image_vae.safetensors", z_dim=16)
    assert _findings(_qwen_plan(tmp_path, wan21)) == {}


def test_wan_causes_are_not_offered_for_qwen_image(workspace: Path, tmp_path: Path) -> None:
    ref = CheckpointRef(label="final", path=str(tmp_path / "mira.safetensors"))
    qwen = _qwen_plan(tmp_path, tmp_path / "vae.safetensors")
    assert "Wan task" not in _no_effect(ref, qwen, get_family("qwen-image")).message
    wan = qwen.model_copy(update={"model": "wan2.1-t2v-14b"})
    assert "Wan task" in _no_effect(ref, wan, get_family("wan2.1-t2v-14b")).message
    facts = ProjectFacts.model_construct(plan=qwen, gate_blocking=["WAN_TASK_MISMATCH"], gates_go=[])
    assert wan_task(facts) == ("rules out", "not a Wan model")
    assert wan_task(ProjectFacts.model_construct(plan=wan, gate_blocking=["WAN_TASK_MISMATCH"], gates_go=[]))[0] == "confirms"


def _old_record(family: str, group: str, ratio: float) -> dict[str, object]:
    """A measurement as saved before `tuning` existed: its group "wan" meant any musubi DiT."""
    request = make_request(model=family, resolution="1024").model_dump(mode="json")
    return {"family": family, "group": group, "estimated_gb": 20.0, "measured_gb": 20.0 * ratio, "ratio": ratio,
            "request": request, "at": "2026-01-01T00:00:00Z"}


def test_old_calibration_records_in_group_wan_still_pool_the_musubi_dits(workspace: Path) -> None:
    path = calibration.calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"box": [_old_record("qwen-image", "wan", 1.3), _old_record("wan2.1-t2v-14b", "wan", 1.1)]}))
    own = calibration.correction_for("qwen-image", machine="box")
    assert own is not None and (own.basis, own.factor) == ("family", 1.3)
    pooled = calibration.correction_for("zimage", machine="box")  # never measured: the musubi DiTs' median
    assert pooled is not None and (pooled.basis, pooled.factor, pooled.samples) == ("group", 1.2, 2)
    assert calibration.correction_for("sdxl", machine="box") is None
    # a new record keeps both meanings apart and pools with the old ones
    request = make_request(model="flux2-dev", resolution="1024")
    new = record_measurement("flux2-dev", request, base_estimate(request).estimate_gb * 1.2, machine="box")
    assert (new.group, new.tuning) == ("flux2", "musubi-dit")
    pooled = calibration.correction_for("hunyuan-video-1.5-t2v", machine="box")
    assert pooled is not None and pooled.samples == 3
