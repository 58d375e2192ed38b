"""8-bit grey and colour PNGs are inflated by libdeflate and unfiltered by Pillow (`decode_png`); every
other PNG, and any file that path does not take whole, is decoded by Pillow alone. The artist must
see the same audit either way: for intact pictures (same pixels, mode, EXIF orientation, scores and
signature) and for cut or damaged ones (refused with the same words, accepted alike)."""

from __future__ import annotations

import io
import random
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from loragate.dataset.analyze import analyze_file
from loragate.imaging import open_image
from loragate.png_decode import decode_png
from tests.media import textured

imagecodecs = pytest.importorskip("imagecodecs")

EXIF_ROTATED = 6  # "rotate 90 degrees clockwise to view"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _text_after_the_data(png: bytes) -> bytes:
    """The PNG with a tEXt chunk between its last IDAT and IEND, as some editors write it."""
    return png[:-12] + _chunk(b"tEXt", b"Comment\x00written after the pixels") + png[-12:]


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    pos, found = 8, []
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        found.append((kind, png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def _aimed(png: bytes) -> list[bytes]:
    """Damage where only a whole decode can tell: an IDAT's checksum (which neither decoder checks),
    the picture stream's own Adler-32, and bytes after the end of that stream inside the last IDAT."""
    chunks = _chunks(png)
    last = max(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")

    def rebuilt(body: bytes) -> bytes:
        return png[:8] + b"".join(_chunk(k, body if i == last else b) for i, (k, b) in enumerate(chunks))

    first_crc = 8 + sum(12 + len(b) for _, b in chunks[: next(i for i, (k, _) in enumerate(chunks) if k == b"IDAT")])
    first_crc += 8 + len(next(b for k, b in chunks if k == b"IDAT"))
    crc_flipped = bytearray(png)
    crc_flipped[first_crc] ^= 0x10
    stream_end = chunks[last][1]
    adler_flipped = stream_end[:-2] + bytes([stream_end[-2] ^ 0x01]) + stream_end[-1:]
    return [bytes(crc_flipped), rebuilt(adler_flipped), rebuilt(stream_end + b"\x00\x01trailing")]


def _pictures(folder: Path) -> tuple[list[Path], list[Path]]:
    """(PNGs the fast path takes, PNGs it leaves to Pillow)."""
    photo = textured(600, 400, 21)
    rgba = Image.fromarray(np.dstack([np.asarray(textured(320, 240, 22)),
                                      np.random.default_rng(4).integers(0, 256, (240, 320), np.uint8)]), "RGBA")
    exif = Image.Exif()
    exif[0x0112] = EXIF_ROTATED
    xmp = PngImagePlugin.PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>')
    taken = {
        "photo.png": (photo, {"exif": exif.tobytes()}),
        "alpha.png": (rgba, {}),
        "grey.png": (photo.convert("L"), {}),
        "grey_alpha.png": (rgba.convert("LA"), {}),
        "xmp.png": (photo, {"pnginfo": xmp}),
        "flat.png": (Image.new("RGB", (300, 200), (40, 90, 160)), {"compress_level": 9}),
    }
    left = {
        "palette.png": (photo.convert("P"), {}),
        "deep.png": (Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)), {}),
        "keyed.png": (photo, {"transparency": (0, 0, 0)}),
        "bilevel.png": (photo.convert("1"), {}),
    }
    for name, (img, options) in {**taken, **left}.items():
        img.save(folder / name, **options)
    # libpng's way: the picture data in 8 KB IDAT chunks
    (folder / "libpng.png").write_bytes(imagecodecs.png_encode(np.asarray(photo)))
    (folder / "text_after.png").write_bytes(_text_after_the_data((folder / "photo.png").read_bytes()))
    animated = folder / "animated.png"
    photo.save(animated, save_all=True, append_images=[textured(600, 400, 23)])
    return ([folder / n for n in taken] + [folder / "libpng.png"],
            [folder / n for n in left] + [folder / "text_after.png", animated])


def _pillow_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The audit's result as an install without imagecodecs gives it: Pillow decodes everything."""
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "imagecodecs", None)
        return analyze_file(str(path), path.name).model_dump()


def test_intact_pngs_give_the_same_pixels_and_results_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken, left = _pictures(tmp_path)
    for path in taken + left:
        with path.open("rb") as handle:
            img = open_image(handle)
            fast = decode_png(img, handle)
            img.load()
        if path in taken:
            assert fast is not None and fast.mode == img.mode and fast.size == img.size, path.name
            assert np.array_equal(np.asarray(fast), np.asarray(img)), path.name
        else:
            assert fast is None, path.name
        result = analyze_file(str(path), path.name).model_dump()
        assert result["error"] is None and result == _pillow_only(path, monkeypatch), path.name
    assert analyze_file(str(tmp_path / "photo.png"), "photo.png").exif_orientation == EXIF_ROTATED
    assert analyze_file(str(tmp_path / "xmp.png"), "xmp.png").exif_orientation == 8
    assert analyze_file(str(tmp_path / "alpha.png"), "alpha.png").alpha_used


def test_cut_and_damaged_pngs_are_judged_in_the_same_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(9)
    taken, _ = _pictures(tmp_path)
    refused = accepted_damaged = 0
    for path in taken:
        data = path.read_bytes()
        copies = [data[: int(len(data) * frac)] for frac in (0.1, 0.5, 0.9, 0.99, 0.999)]
        copies += [data[:-1], data[:-4], data[:-12], data + b"\0junk", *_aimed(data)]
        for _ in range(10):
            damaged = bytearray(data)
            damaged[rng.randrange(8, len(data))] ^= 1 << rng.randrange(8)
            copies.append(bytes(damaged))
        for blob in copies:
            path.write_bytes(blob)
            result = analyze_file(str(path), path.name).model_dump()
            assert result == _pillow_only(path, monkeypatch), (path.name, len(blob), len(data))
            refused += result["error"] is not None
            accepted_damaged += result["error"] is None
    assert refused >= 5 * len(taken)  # every cut copy at least
    assert accepted_damaged  # Pillow accepts a missing IEND and bytes after it: so does the audit


def test_a_png_bigger_than_the_limit_goes_to_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate import png_decode

    path = tmp_path / "photo.png"
    textured(300, 200, 5).save(path)
    monkeypatch.setattr(png_decode, "MAX_PIXELS", 300 * 200 - 1)
    with path.open("rb") as handle:
        assert decode_png(open_image(handle), handle) is None
    monkeypatch.setattr(png_decode, "MAX_PIXELS", 300 * 200)
    with path.open("rb") as handle:
        assert decode_png(open_image(handle), handle) is not None


def test_picture_data_longer_than_the_picture_can_need_is_left_to_pillow(tmp_path: Path) -> None:
    """A small picture with megabytes of data after its stream is read by Pillow in pieces, never
    loaded whole here."""
    path = tmp_path / "padded.png"
    png = _aimed_at_end(textured(64, 48, 6), b"\0" * 3_000_000)
    path.write_bytes(png)
    with path.open("rb") as handle:
        assert decode_png(open_image(handle), handle) is None


def _aimed_at_end(img: Image.Image, extra: bytes) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    chunks = _chunks(buffer.getvalue())
    last = max(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    return buffer.getvalue()[:8] + b"".join(_chunk(k, b + extra if i == last else b) for i, (k, b) in enumerate(chunks))


def test_a_png_from_memory_goes_to_pillow(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    textured(120, 80, 7).save(buffer, "PNG")
    assert decode_png(open_image(buffer), buffer) is None  # no file to measure: Pillow's own load


def test_the_stored_framing_is_a_valid_zlib_stream() -> None:
    from loragate.png_decode import STORED_BLOCK, _stored

    for size in (0, 1, STORED_BLOCK - 1, STORED_BLOCK, STORED_BLOCK + 1, 3 * STORED_BLOCK + 17):
        raw = bytes(np.random.default_rng(size).integers(0, 256, size, np.uint8))
        assert zlib.decompress(_stored(raw)) == raw
        assert zlib.decompress(_stored(io.BytesIO(raw).getbuffer())) == raw
