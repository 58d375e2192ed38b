"""FLUX.1 Kontext dev through musubi-tuner: edit pairs (control images) from the dataset folder to
the dataset TOML, the docs' own example and its pitfalls, Gate 3 (musubi-tuner 30c658c
docs/flux_kontext.md, docs/dataset_config.md; the docs publish no VRAM figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.backends import get_backend
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.plan.new import new_plan
from loragate.vram.estimate import sequence_tokens
from tests.family_kit import FIX, changed_example, gate3, plan_files_report, plan_with_weights, signature_file
from tests.plan_helpers import control_dataset, flat_dataset
from tests.validate_helpers import WAN_DS, blocking, codes

DOC = "kontext_doc.sh"
FAMILY = "flux1-kontext-dev"


@pytest.mark.parametrize("gpu_gb", [80, 24, 16])
def test_plan_new_pairs_each_picture_with_its_control_image(gpu_gb: int, workspace: Path, tmp_path: Path) -> None:
    plan = new_plan("mira", FAMILY, control_dataset(tmp_path), "mira", gpu_gb=gpu_gb)
    [subset] = plan.dataset.subsets  # control/ is not a second set of training pictures
    assert subset.count == 3 and subset.control_path == subset.path + "/control"
    [entry] = get_backend("musubi").dataset_config(plan)["datasets"]
    assert entry["control_directory"] == subset.control_path
    text, train = plan.commands[1].argv, plan.commands[2].argv
    assert text[text.index("--text_encoder1") + 1].endswith("t5xxl_fp16.safetensors")
    assert text[text.index("--text_encoder2") + 1].endswith("clip_l.safetensors")
    assert train[train.index("--network_module") + 1] == "networks.lora_flux" and "--ae" not in train
    assert train[train.index("--timestep_sampling") + 1] == "flux_shift"
    assert plan.weights.t5 is None  # T5-XXL goes to --text_encoder1 as t5xxl, never Wan's t5
    report = plan_files_report(plan, tmp_path / "files")
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)


def test_pictures_without_control_images_are_refused_with_the_fix(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="control/") as caught:
        new_plan("mira", FAMILY, flat_dataset(tmp_path), "mira", gpu_gb=24)
    assert "same file name" in caught.value.fix


def test_the_control_image_doubles_the_sequence() -> None:
    family = get_family(FAMILY)
    assert sequence_tokens(family, 1024, 1024, 1) == 2 * sequence_tokens(get_family("flux1-dev"), 1024, 1024, 1)


def test_the_docs_example_validates_go(tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, "--sdpa", "--sdpa", dataset=(FIX / "control_ds.toml").read_text(encoding="utf-8"))
    assert report.verdict == "GO" and report.model == FAMILY, blocking(report)


@pytest.mark.parametrize(("old", "new", "code"), [
    ("networks.lora_flux ", "networks.lora_flux_2 ", "NETWORK_MODULE"),
    ("--vae path/to/ae.safetensors \\\n    --text_encoder1", "--ae path/to/ae.safetensors \\\n    --text_encoder1", "FLAG_OTHER_TRAINER"),
    ("--network_dim 32", "--network_dim 32 --blocks_to_swap 35", "MEM_BLOCK_SWAP_MAX"),
    # the scripts ask torch for float8e4m3fn, which does not exist: --fp8_t5 stops them at start
    ("--batch_size 16", "--batch_size 16 --fp8_t5", "MUSUBI_TEXT_FP8_UNAVAILABLE"),
])
def test_documented_pitfalls_block(old: str, new: str, code: str, tmp_path: Path) -> None:
    report = changed_example(DOC, tmp_path, old, new, dataset=(FIX / "control_ds.toml").read_text(encoding="utf-8"))
    assert report.verdict == "NO-GO" and code in codes(report), codes(report)


def test_a_dataset_without_control_images_or_with_video_is_refused(tmp_path: Path) -> None:
    plain = changed_example(DOC, tmp_path / "p", "--sdpa", "--sdpa", dataset=(FIX / "qwen_ds.toml").read_text(encoding="utf-8"))
    assert "MUSUBI_CONTROL_MISSING" in codes(plain) and plain.verdict == "NO-GO"
    video = changed_example(DOC, tmp_path / "v", "--sdpa", "--sdpa", dataset=WAN_DS)  # docs: "must be an image dataset"
    assert "MUSUBI_IMAGE_MODEL_VIDEO" in codes(video)


def test_gate3_knows_the_kontext_files(workspace: Path, tmp_path: Path) -> None:
    sig = get_family(FAMILY).weight_signatures
    files = {role: str(signature_file(tmp_path / "m" / name, sig[role]))
             for role, name in (("dit", "flux1-kontext-dev.safetensors"), ("vae", "ae.safetensors"),
                                ("t5xxl", "t5xxl_fp16.safetensors"), ("clip_l", "clip_l.safetensors"))}
    data = control_dataset(tmp_path)
    assert gate3(plan_with_weights(FAMILY, data, files)) == {}
    flux2_ae = signature_file(tmp_path / "f2" / "ae.safetensors", get_family("flux2-dev").weight_signatures["vae"])
    severity, text = gate3(plan_with_weights(FAMILY, data, {**files, "vae": str(flux2_ae)}))["ENV_WEIGHTS_ARCH_MISMATCH"]
    assert severity == "block" and "[512, 32, 3, 3], not [512, 16, 3, 3]" in text
    swapped = gate3(plan_with_weights(FAMILY, data, {**files, "t5xxl": files["clip_l"], "clip_l": files["t5xxl"]}))
    assert "ENV_WEIGHTS_ARCH_MISMATCH" in swapped


def test_gate1_reads_pairs_and_names_a_picture_without_its_starting_image(workspace: Path, tmp_path: Path) -> None:
    from loragate.dataset.audit import audit_dataset

    data = control_dataset(tmp_path)
    paired = audit_dataset(data, trigger="mira", model=FAMILY, training_type="character")
    assert paired.images == 3  # the starting images are not pictures to caption
    assert not {"DS_CAPTION_MISSING", "DS_CONTROL_MISSING"} & {f.code for f in paired.findings}
    (data / "control" / "img02.jpg").unlink()
    [hit] = [f for f in audit_dataset(data, trigger="mira", model=FAMILY).findings if f.code == "DS_CONTROL_MISSING"]
    assert hit.severity == "block" and hit.path == "img02.png" and "control/" in hit.fix


def test_gate1_blocks_a_picture_with_several_starting_images(workspace: Path, tmp_path: Path) -> None:
    """docs/dataset_config.md: Kontext and plain Qwen-Image-Edit read one starting image per picture;
    Qwen-Image-Edit-2509 reads several (x_0, x_1 ...)."""
    from loragate.dataset.audit import audit_dataset
    from tests.media import write_image

    data = control_dataset(tmp_path)
    (data / "control" / "img01.jpg").unlink()
    for n in range(2):
        write_image(data / "control" / f"img01_{n}.png", 64, 64, seed=200 + n)
    [hit] = [f for f in audit_dataset(data, trigger="mira", model=FAMILY).findings if f.code == "DS_CONTROL_TOO_MANY"]
    assert hit.severity == "block" and hit.path == "img01.png" and "2509" in hit.fix
    assert len(hit.evidence["control_images"]) == 2
    several = audit_dataset(data, trigger="mira", model="qwen-image-edit-2509").findings
    assert not {"DS_CONTROL_TOO_MANY", "DS_CONTROL_MISSING"} & {f.code for f in several}


def test_the_fit_plan_never_offers_fp8_for_kontext_text_encoder() -> None:
    """A card too small for Kontext gets other changes, never the fp8 text encoder (--fp8_t5 stops the scripts)."""
    from loragate.vram import estimate_vram, make_request

    estimate = estimate_vram(make_request(model="flux1-kontext-dev", resolution="1024", batch=2, gpu_gb=12))
    assert estimate.fit_plan, "a 12 GB card needs changes for Kontext"
    assert not any(step.settings.get("fp8_text_encoder") for step in estimate.fit_plan), estimate.fit_plan
