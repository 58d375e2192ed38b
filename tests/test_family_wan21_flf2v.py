"""Wan 2.1 FLF2V 14B, experimental: musubi's intermediate-frame one-frame training. Each picture is a
middle frame learnt from its start and end image (control/NAME_0, NAME_1); latents are cached with
--clip and --one_frame, training runs --task flf2v-14B --one_frame, and the dataset TOML carries
fp_1f_clean_indices = [0, 2], fp_1f_target_index = 1 (musubi-tuner 30c658c docs/wan_1f.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.listing import list_models
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.dataset.audit import audit_dataset
from loragate.plan.gate2 import generate_config
from loragate.plan.new import new_plan
from loragate.vram.estimate import sequence_tokens
from tests.envkit import wan_dit
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights
from tests.media import write_image
from tests.plan_helpers import flat_dataset, frames_dataset, wan_dataset
from tests.validate_helpers import WAN_DS, blocking, codes

FAMILY = "wan2.1-flf2v-14b"
DOC = "wan21_flf2v_1f.sh"


def _doc_dataset() -> str:
    return (FIX / "flf2v_1f_ds.toml").read_text(encoding="utf-8")


def test_plan_new_writes_musubis_one_frame_setup(workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", FAMILY, frames_dataset(tmp_path), "mira", gpu_gb=24)
    [subset] = plan.dataset.subsets  # control/ holds the start and end images, not pictures to train
    assert subset.count == 3 and subset.control_path == subset.path + "/control"
    [entry] = get_backend("musubi").dataset_config(plan)["datasets"]
    assert entry["control_directory"] == subset.control_path
    assert entry["fp_1f_clean_indices"] == [0, 2] and entry["fp_1f_target_index"] == 1
    latents, _, train = (c.argv for c in plan.commands)
    assert "--one_frame" in latents and latents[latents.index("--clip") + 1].endswith("vit-huge-14.pth")
    assert "--one_frame" in train and train[train.index("--task") + 1] == "flf2v-14B"
    assert train[train.index("--dit") + 1].endswith("wan2.1_flf2v_720p_14B_fp16.safetensors")
    assert "--sample_prompts" not in train  # musubi's one-frame samples need start and end images per prompt
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)


def test_it_is_labelled_experimental_wherever_the_model_is_named(workspace: Path, tmp_path: Path) -> None:
    [row] = [m for m in list_models().models if m.id == FAMILY]
    assert "experimental" in row.display_name and row.task == "flf2v-14B" and not row.video
    plan = new_plan("mira", FAMILY, frames_dataset(tmp_path), "mira", gpu_gb=24)
    assert "experimental" in plan.explanations["model"]
    gate2 = generate_config("mira", FAMILY, frames_dataset(tmp_path), "mira", gpu_gb=24).gate2
    [hit] = [f for f in gate2.findings if f.code == "PLAN_EXPERIMENTAL"]
    assert hit.severity == "warn" and "not yet tested" in hit.message and gate2.verdict == "GO"
    other = generate_config("nova", "wan2.1-i2v-14b", wan_dataset(tmp_path), "nova", gpu_gb=24).gate2
    assert "PLAN_EXPERIMENTAL" not in {f.code for f in other.findings}


def test_the_docs_example_validates_go_and_an_ordinary_cache_stays_blocked(tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path / "doc", "--sdpa", "--sdpa", dataset=_doc_dataset())
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)
    ordinary = " --one_frame\n\npython"
    for name, dataset in (("pictures", _doc_dataset()), ("clips", WAN_DS)):
        plain = changed_example(DOC, tmp_path / name, ordinary, "\n\npython", dataset=dataset)
        assert plain.verdict == "NO-GO" and "WAN_FLF2V_NOT_ONE_FRAME" in codes(plain), codes(plain)


def test_gate1_takes_the_triples_and_says_which_image_is_missing(workspace: Path, tmp_path: Path) -> None:
    data = frames_dataset(tmp_path)
    complete = audit_dataset(data, trigger="mira", model=FAMILY, training_type="character")
    assert complete.images == 3  # the start and end images are not pictures to caption
    assert not {"DS_CAPTION_MISSING", "DS_CONTROL_FRAMES", "DS_CONTROL_MISSING"} & {f.code for f in complete.findings}

    (data / "control" / "img01_1.jpg").unlink()
    for n in range(2):
        (data / "control" / f"img02_{n}.jpg").unlink()
    write_image(data / "control" / "img00_2.png", 64, 64, seed=7)
    hits = {f.path: f for f in audit_dataset(data, trigger="mira", model=FAMILY).findings if f.code == "DS_CONTROL_FRAMES"}
    assert set(hits) == {"img00.png", "img01.png", "img02.png"} and {f.severity for f in hits.values()} == {"block"}
    assert "the end image (img01_1) is missing" in hits["img01.png"].message
    assert "none of its 2 control images" in hits["img02.png"].message
    assert "ignores the rest" in hits["img00.png"].message and len(hits["img00.png"].evidence["control_images"]) == 3
    assert "img02_0" in hits["img02.png"].fix and "img02_1" in hits["img02.png"].fix


def test_pictures_without_a_control_folder_are_refused_with_the_fix(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="no control/ folder") as caught:
        new_plan("mira", FAMILY, flat_dataset(tmp_path), "mira", gpu_gb=24)
    assert "start image as NAME_0" in caught.value.fix and "end image as NAME_1" in caught.value.fix


def test_the_start_and_end_images_triple_the_sequence() -> None:
    """musubi-tuner wan_cache_latents.py encode_and_save_batch_one_frame: one latent frame per index in
    sorted(fp_1f_clean_indices + [fp_1f_target_index]), so a 0/1/2 triple trains three frames' tokens."""
    one_picture = sequence_tokens(get_family("wan2.1-i2v-14b"), 832, 480, 1)
    assert sequence_tokens(get_family(FAMILY), 832, 480, 1) == 3 * one_picture


def test_gate3_wants_the_flf2v_file_not_the_i2v_one(workspace: Path, tmp_path: Path) -> None:
    data = frames_dataset(tmp_path)
    flf2v = wan_dit(tmp_path / "m" / "wan2.1_flf2v_720p_14B_fp16.safetensors", in_dim=36, image_keys=True, dtype="F16",
                    first_last_frame=True)
    assert "ENV_WEIGHTS_TASK_MISMATCH" not in gate3(plan_with_weights(FAMILY, data, {"dit": str(flf2v)}))
    i2v = wan_dit(tmp_path / "m" / "wan2.1_i2v_720p_14B_fp16.safetensors", in_dim=36, image_keys=True, dtype="F16")
    severity, text = gate3(plan_with_weights(FAMILY, data, {"dit": str(i2v)}))["ENV_WEIGHTS_TASK_MISMATCH"]
    assert severity == "block" and "img_emb.emb_pos" in text and "flf2v-14B" in text
