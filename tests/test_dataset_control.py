"""Edit pairs at scale: every picture is matched with its own starting images (control/x.*, x_0, x_1 ...),
in its own folder only, however many pairs the dataset holds, as musubi-tuner matches them (30c658c
dataset/datasources.py:142-170: longest picture name first, a starting image goes to one picture only)."""

from __future__ import annotations

from loragate.catalog.models import get_family
from loragate.dataset.control import split_control
from loragate.dataset.model import DatasetScan, MediaFile


def _image(path: str) -> MediaFile:
    return MediaFile(path=path, kind="image", size=1, mtime_ns=0)


def _pairs() -> DatasetScan:
    """300 pictures in each of two folders: every third has one starting image (x.jpg), every third two
    numbered ones (x_0, x_1), every third one numbered (x_0); plus q (control q.png and q_1.png) beside
    a picture named q_1: musubi gives q_1.png to q_1 (the longer name goes first), so q has one."""
    images: list[MediaFile] = []
    for folder in ("", "set2/"):
        for i in range(300):
            images.append(_image(f"{folder}p{i:03d}.png"))
            controls = {0: [f"p{i:03d}.jpg"], 1: [f"p{i:03d}_0.png", f"p{i:03d}_1.png"], 2: [f"p{i:03d}_0.png"]}[i % 3]
            images += [_image(f"{folder}control/{name}") for name in controls]
    images += [_image("q.png"), _image("q_1.png"), _image("control/q.png"), _image("control/q_1.png")]
    return DatasetScan(root="/data", layout="flat", caption_extension=".txt", images=images)


def test_each_picture_counts_only_its_own_starting_images() -> None:
    scan, findings = split_control(_pairs(), get_family("flux1-kontext-dev"))
    too_many = {f.path: f for f in findings if f.code == "DS_CONTROL_TOO_MANY"}
    expected = {f"{folder}p{i:03d}.png" for folder in ("", "set2/") for i in range(1, 300, 3)}
    assert set(too_many) == expected
    assert too_many["set2/p004.png"].evidence["control_images"] == ["set2/control/p004_0.png", "set2/control/p004_1.png"]
    assert not [f for f in findings if f.code == "DS_CONTROL_MISSING"]
    assert len(scan.images) == 602  # the starting images are not pictures of their own


def test_a_model_that_reads_several_starting_images_counts_none_too_many() -> None:
    _, findings = split_control(_pairs(), get_family("qwen-image-edit-2509"))
    assert not {f.code for f in findings} & {"DS_CONTROL_TOO_MANY", "DS_CONTROL_MISSING"}


def _scan(*paths: str) -> DatasetScan:
    return DatasetScan(root="/data", layout="flat", caption_extension=".txt", images=[_image(p) for p in paths])


def test_a_starting_image_named_other_than_a_number_after_the_stem_is_refused_as_musubi_refuses_it() -> None:
    """musubi-tuner takes control/x_final.png as x's, then raises 'Invalid digits suffix' (datasources.py sort_key)."""
    _, findings = split_control(_scan("x.png", "control/x.png", "control/x_final.png", "y.png", "control/y_2.png"),
                                get_family("qwen-image-edit-2509"))
    [bad] = [f for f in findings if f.code == "DS_CONTROL_BAD_NAME"]
    assert bad.path == "x.png" and bad.evidence["control_images"] == ["control/x_final.png"] and "x_0" in bad.fix
    assert {f.code for f in findings} == {"DS_CONTROL_BAD_NAME"}


def test_a_starting_image_goes_to_the_longest_picture_name_it_fits_and_to_no_other() -> None:
    """a_b.png fits both a and a_b; musubi gives it to a_b, so a without its own is missing one."""
    _, findings = split_control(_scan("a.png", "a_b.png", "control/a_b.png"), get_family("flux1-kontext-dev"))
    assert [(f.code, f.path) for f in findings] == [("DS_CONTROL_MISSING", "a.png")]
