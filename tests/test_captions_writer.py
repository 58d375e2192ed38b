"""Writing approved captions: trigger first, the model's style, history, no silent overwrite, hostile paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.captions.approved import load_approved, save_approved
from loragate.captions.history import versions
from loragate.captions.model import ApprovedSample
from loragate.captions.writer import write_captions
from loragate.cli import app
from loragate.dataset.audit import audit_dataset
from loragate.core.errors import LoragateError
from tests.media import write_caption, write_image


@pytest.fixture
def dataset(workspace: Path) -> Path:
    root = workspace / "data" / "mira"
    for i in range(3):
        write_image(root / f"img_{i}.png", 64, 64, seed=i)
    write_image(root / "sub" / "deep.jpg", 64, 64, seed=9)
    return root


def test_trigger_inserted_first_and_sidecar_beside_image(dataset: Path) -> None:
    report = write_captions(dataset, {"img_0.png": "A woman reading by a window.", "sub/deep.jpg": "a woman, mira, red coat"}, "mira", model="flux1-dev")
    assert (dataset / "img_0.txt").read_text() == "mira, a woman reading by a window.\n"
    assert (dataset / "sub" / "deep.txt").read_text() == "mira, a woman, red coat\n"
    assert report.written == 2 and report.caption_style == "natural"


def test_booru_model_gets_comma_tags_with_trigger_first_once(dataset: Path) -> None:
    write_captions(dataset, {"img_1.png": "1girl, solo\nmira, red hair,  1girl , smile"}, "mira", model="pony")
    assert (dataset / "img_1.txt").read_text().strip() == "mira, 1girl, solo, red hair, smile"


def test_style_mismatch_is_written_with_a_warning(dataset: Path) -> None:
    report = write_captions(dataset, {"img_0.png": "1girl, solo, red hair, smile, window"}, "mira", model="flux1-dev")
    assert report.results[0].status == "written"
    assert any("sentences" in w for w in report.results[0].warnings)


def test_existing_different_caption_is_never_silently_overwritten(dataset: Path) -> None:
    write_caption(dataset / "img_0.txt", "mira, my own words")
    report = write_captions(dataset, {"img_0.png": "a new caption"}, "mira")
    assert report.results[0].status == "skipped" and "overwrite" in report.results[0].reason
    assert (dataset / "img_0.txt").read_text() == "mira, my own words"
    assert not versions(dataset, "img_0.txt")


def test_overwrite_keeps_the_old_text_recoverable(dataset: Path) -> None:
    write_caption(dataset / "img_0.txt", "mira, first version")
    write_captions(dataset, {"img_0.png": "second version"}, "mira", overwrite=True)
    report = write_captions(dataset, {"img_0.png": "third version"}, "mira", overwrite=True)
    assert report.overwritten == 1 and report.results[0].history
    assert (dataset / "img_0.txt").read_text().strip() == "mira, third version"
    saved = [p.read_text().strip() for p in versions(dataset, "img_0.txt")]
    assert saved == ["mira, first version", "mira, second version"]
    assert Path(report.results[0].history).read_text().strip() == "mira, second version"


def test_same_text_is_unchanged_and_writes_no_history(dataset: Path) -> None:
    write_caption(dataset / "img_2.txt", "mira, a cat\n")
    report = write_captions(dataset, {"img_2.png": "a cat"}, "mira", overwrite=True)
    assert report.results[0].status == "unchanged" and not versions(dataset, "img_2.txt")


def test_undecodable_old_caption_is_kept_byte_for_byte(dataset: Path) -> None:
    (dataset / "img_1.txt").write_bytes(b"\xff\xfe\x00broken")
    write_captions(dataset, {"img_1.png": "a dog"}, "mira", overwrite=True)
    assert versions(dataset, "img_1.txt")[0].read_bytes() == b"\xff\xfe\x00broken"


@pytest.mark.parametrize(
    "image",
    ["../outside.png", "/etc/passwd.png", "sub/../../x.png", "missing.png", "img_0.txt", ".caption-history/a.png", "", "a\x00.png"],
)
def test_hostile_or_missing_paths_are_refused(dataset: Path, image: str) -> None:
    report = write_captions(dataset, {image: "a caption"}, "mira")
    assert report.results[0].status == "refused" and report.results[0].reason
    assert report.refused == 1 and not (dataset.parent / "outside.txt").exists()


def test_linked_folder_leading_outside_is_refused(dataset: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write_image(outside / "x.png", 32, 32)
    os.symlink(outside, dataset / "link")
    report = write_captions(dataset, {"link/x.png": "a caption"}, "mira")
    assert report.results[0].status == "refused" and not (outside / "x.txt").exists()


def test_caption_that_is_only_the_trigger_is_refused(dataset: Path) -> None:
    report = write_captions(dataset, {"img_0.png": "mira"}, "mira")
    assert report.results[0].status == "refused" and not (dataset / "img_0.txt").exists()


def test_bad_trigger_or_folder_raise(dataset: Path) -> None:
    with pytest.raises(LoragateError):
        write_captions(dataset, {"img_0.png": "x"}, "")
    with pytest.raises(LoragateError):
        write_captions(dataset / "nope", {"img_0.png": "x"}, "mira")


def test_written_captions_pass_the_audit_and_history_stays_out_of_it(dataset: Path) -> None:
    (dataset / "sub" / "deep.jpg").unlink()
    write_caption(dataset / "img_0.txt", "old words")
    captions = {f"img_{i}.png": f"a woman in scene {i}" for i in range(3)}
    write_captions(dataset, captions, "mira", overwrite=True)
    report = audit_dataset(dataset, trigger="mira")
    codes = {f.code for f in report.findings}
    assert "DS_CAPTION_MISSING" not in codes and "DS_TRIGGER_MISSING" not in codes
    assert not any(".caption-history" in (f.path or "") for f in report.findings)


def test_approved_file_round_trip_and_bad_file(tmp_path: Path) -> None:
    path = save_approved(tmp_path / "APPROVED.json", [ApprovedSample(image="a.png", caption="mira, x", content=["x"], style=["flat"])])
    assert load_approved(path)[0].style == ["flat"]
    (tmp_path / "bad.json").write_text(json.dumps({"image": "a.png"}))
    with pytest.raises(LoragateError, match="expected form"):
        load_approved(tmp_path / "bad.json")


def test_cli_write_json_and_exit_codes(dataset: Path, tmp_path: Path) -> None:
    approved = tmp_path / "APPROVED.json"
    approved.write_text(json.dumps([{"image": "img_0.png", "caption": "a woman"}, {"image": "nope.png", "caption": "x"}]))
    runner = CliRunner()
    result = runner.invoke(app, ["captions", "write", str(dataset), "--from", str(approved), "--trigger", "mira", "--json"])
    assert result.exit_code == 1, result.output  # one refused
    data = json.loads(result.stdout)
    assert data["written"] == 1 and data["refused"] == 1
    approved.write_text(json.dumps([{"image": "img_1.png", "caption": "a woman"}]))
    result = runner.invoke(app, ["captions", "write", str(dataset), "--from", str(approved), "--trigger", "mira"])
    assert result.exit_code == 0 and (dataset / "img_1.txt").exists()
    result = runner.invoke(app, ["captions", "write", str(dataset), "--from", str(tmp_path / "none.json"), "--trigger", "mira"])
    assert result.exit_code == 2
