"""Near and exact duplicates are found through the transformations artists actually apply,
and different pictures stay apart."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageEnhance

from loragate.duplicates.grouping import group_images
from loragate.duplicates.signature import CROP_BOXES, ImageSignature, image_signature
from tests.media import textured


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


TRANSFORMS = {
    "resized to a third": lambda im: im.resize((im.width // 3, im.height // 3), Image.Resampling.BICUBIC),
    "jpeg quality 30": lambda im: _jpeg(im, 30),
    "10% cropped from the left and top": lambda im: _crop(im, 0.1, 0.1, 0, 0),
    "10% cropped, split across edges": lambda im: _crop(im, 0.04, 0.07, 0.06, 0.03),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "lower contrast": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
    "cropped, brighter and re-encoded": lambda im: _jpeg(ImageEnhance.Brightness(_crop(im, 0.05, 0, 0.05, 0.1)).enhance(1.2), 40),
}


@pytest.fixture(scope="module")
def originals() -> list[Image.Image]:
    return [textured(480, 360, seed) for seed in range(12)]


@pytest.fixture(scope="module")
def base_signatures(originals: list[Image.Image]) -> dict[str, ImageSignature]:
    return {f"img{i:02d}.png": image_signature(im) for i, im in enumerate(originals)}


def test_hashes_agree_with_imagehash_phash(originals: list[Image.Image]) -> None:
    """Full frame, a crop and the mirror match ImageHash's pHash of the same pixels, give or take
    Pillow's 8-bit rounding."""
    box = (0.05, 0.0, 1.0, 0.9)
    index = list(CROP_BOXES).index(box)
    for img in originals:
        sig = image_signature(img)
        grey = img.convert("L").resize((128, 128), Image.Resampling.BOX)
        crop = grey.resize((32, 32), Image.Resampling.LANCZOS, box=tuple(v * 128 for v in box))
        mirror = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        assert imagehash.phash(grey) - imagehash.hex_to_hash(sig.phash) <= 2
        assert imagehash.phash(crop) - imagehash.hex_to_hash(f"{int(sig.hashes()[index]):016x}") <= 2
        assert imagehash.phash(mirror) - imagehash.hex_to_hash(sig.phash_mirror) <= 2


def test_signature_is_json_round_trippable(base_signatures: dict[str, ImageSignature]) -> None:
    sig = base_signatures["img00.png"]
    again = ImageSignature.model_validate_json(sig.model_dump_json())
    assert again == sig
    assert np.array_equal(again.hashes(), sig.hashes())
    assert len(sig.hashes()) == 36


def test_different_pictures_are_not_grouped(base_signatures: dict[str, ImageSignature]) -> None:
    assert group_images(base_signatures, mirror=True) == []


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transformed_copy_joins_its_original_only(
    name: str, originals: list[Image.Image], base_signatures: dict[str, ImageSignature]
) -> None:
    sigs = dict(base_signatures)
    sigs["copy.jpg"] = image_signature(TRANSFORMS[name](originals[3]))
    groups = group_images(sigs)
    assert [(g.kind, g.paths) for g in groups] == [("near", ["copy.jpg", "img03.png"])]
    assert groups[0].distance is not None and groups[0].distance <= 10


def test_mirror_found_only_when_asked(originals: list[Image.Image], base_signatures: dict[str, ImageSignature]) -> None:
    sigs = dict(base_signatures)
    flipped = originals[5].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    sigs["flipped.png"] = image_signature(_jpeg(flipped, 60))
    assert group_images(sigs, mirror=False) == []
    groups = group_images(sigs, mirror=True)
    assert [(g.kind, g.paths, g.mirrored) for g in groups] == [("near", ["flipped.png", "img05.png"], True)]


def test_exact_copies_across_formats_and_a_group_of_four(
    originals: list[Image.Image], base_signatures: dict[str, ImageSignature]
) -> None:
    def reload(fmt: str, **kw: object) -> Image.Image:
        buf = io.BytesIO()
        originals[7].save(buf, fmt, **kw)
        buf.seek(0)
        return Image.open(buf).convert("RGB")

    sigs = dict(base_signatures)
    sigs["same.webp"] = image_signature(reload("WEBP", lossless=True))
    sigs["same.bmp"] = image_signature(reload("BMP"))
    sigs["small.jpg"] = image_signature(_jpeg(originals[7].resize((240, 180)), 50))
    groups = group_images(sigs)
    assert [(g.kind, g.paths) for g in groups] == [
        ("exact", ["img07.png", "same.bmp", "same.webp"]),
        ("near", ["img07.png", "same.bmp", "same.webp", "small.jpg"]),
    ]
    assert groups[0].distance == 0


def test_reduced_scale_decode_is_not_exact_with_full_scale(originals: list[Image.Image]) -> None:
    """A half-size copy shares hashes with its original but never counts as the same pixels."""
    full = image_signature(originals[1])
    half = image_signature(originals[1].resize((240, 180)))
    as_draft = image_signature(originals[1].resize((240, 180)), original_size=(480, 360))
    assert len({full.digest, half.digest, as_draft.digest}) == 3
    assert (as_draft.width, as_draft.height) == (480, 360)


def test_chain_of_copies_is_one_group(originals: list[Image.Image], base_signatures: dict[str, ImageSignature]) -> None:
    sigs = dict(base_signatures)
    a = _crop(originals[9], 0.08, 0, 0, 0)
    sigs["a.jpg"] = image_signature(_jpeg(a, 50))
    sigs["b.jpg"] = image_signature(_jpeg(ImageEnhance.Contrast(a).enhance(1.2), 35))
    sigs["c.jpg"] = image_signature(originals[9].resize((200, 150)))
    groups = group_images(sigs)
    assert [(g.kind, g.paths) for g in groups] == [("near", ["a.jpg", "b.jpg", "c.jpg", "img09.png"])]


def test_thumbnail_check_confirms_copies_and_rejects_strangers(originals: list[Image.Image]) -> None:
    from loragate.duplicates.grouping import MIN_CORRELATION
    from loragate.duplicates.signature import correlation, thumb_array

    source = image_signature(originals[2])
    cropped = image_signature(ImageEnhance.Contrast(_crop(originals[2], 0.1, 0, 0, 0.1)).enhance(0.8))
    stranger = image_signature(originals[4])
    box = CROP_BOXES.index((0.1, 0.0, 1.0, 0.9))
    assert correlation(thumb_array(cropped), thumb_array(source), box) > 0.95
    assert correlation(thumb_array(cropped), thumb_array(source), 0) < correlation(thumb_array(cropped), thumb_array(source), box)
    assert correlation(thumb_array(stranger), thumb_array(source), box) < MIN_CORRELATION
