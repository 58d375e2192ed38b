"""Wan 2.1 T2I 14B: the T2V 14B weights trained with --task t2i-14B on pictures (musubi-tuner
30c658c docs/wan.md task list; wan/configs/__init__.py: t2i_14B is t2v_14B's config)."""

from __future__ import annotations

from pathlib import Path

from loragate.plan.new import new_plan
from tests.envkit import wan_dit
from tests.family_kit import gate3, plan_files_report, plan_with_weights
from tests.plan_helpers import wan_dataset
from tests.validate_helpers import blocking, codes

FAMILY = "wan2.1-t2i-14b"


def test_plan_new_trains_the_pictures_with_the_t2i_task(workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", FAMILY, wan_dataset(tmp_path), "mira", gpu_gb=24)
    assert [s.kind for s in plan.dataset.subsets] == ["image"]  # an image model: the clips are left out
    train = plan.commands[-1].argv
    assert train[train.index("--task") + 1] == "t2i-14B" and train[train.index("--dit") + 1].endswith("wan2.1_t2v_14B_bf16.safetensors")
    report = plan_files_report(plan, tmp_path / "files", model=FAMILY)
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)
    assert not {"WAN_TASK_WEIGHTS", "WAN_TASK_MISSING"} & codes(report)  # t2i-14B runs on the T2V 14B file


def test_gate3_takes_the_t2v_file_and_refuses_an_i2v_one(workspace: Path, tmp_path: Path) -> None:
    data = wan_dataset(tmp_path)
    t2v = wan_dit(tmp_path / "m" / "wan2.1_t2v_14B_bf16.safetensors")
    assert "ENV_WEIGHTS_TASK_MISMATCH" not in gate3(plan_with_weights(FAMILY, data, {"dit": str(t2v)}))
    i2v = wan_dit(tmp_path / "m" / "wan2.1_i2v_480p_14B_bf16.safetensors", in_dim=36, image_keys=True)
    severity, _ = gate3(plan_with_weights(FAMILY, data, {"dit": str(i2v)}))["ENV_WEIGHTS_TASK_MISMATCH"]
    assert severity == "block"
