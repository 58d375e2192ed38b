"""A PNG's pixels, the same as Pillow's load gives, in about three quarters of the time.

Nearly all of a photo PNG's decode is inflating its picture data, and the zlib inside Pillow does that
at half the speed of libdeflate (imagecodecs' binding, already a dependency). So libdeflate inflates
the data, checked whole against its Adler-32 and its exact length, and Pillow's own PNG decoder
(the "zip" pixel decoder of `Image.frombytes`) undoes the row filters, given the inflated rows as
stored deflate blocks: framing only, no compression, so its inflate is a copy. Pillow still opens
the file first (format, size, decompression-bomb limit, the chunks before the picture data and
their checksums).

Only what Pillow would accept is ever accepted here: anything unusual goes back to Pillow, whose
verdict and words the artist then sees (tests/test_audit_png_decode.py compares both on cut and
bit-flipped copies).
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any

# Above this a PNG goes to Pillow alone: this path holds the inflated rows twice besides the picture.
MAX_PIXELS = 16_000_000
# 8-bit grey or colour, with or without alpha: Pillow's mode and the bytes per pixel.
CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
SIGNATURE = b"\x89PNG\r\n\x1a\n"
STORED_BLOCK = 65535  # the largest stored deflate block


def _picture_data(handle: io.BufferedIOBase, limit: int) -> bytearray | None:
    """The IDAT chunks' contents, read straight into one buffer, when the file is exactly: chunks, the
    IDATs one after another, an empty IEND and nothing after it, and the IDATs hold at most `limit`
    bytes. Anything else (a chunk after the picture data, no IEND, bytes after it, a length past the
    end, more data than the picture can need, a file that changes while it is read) is None: Pillow
    reads those cases its own way, in pieces."""
    size = os.fstat(handle.fileno()).st_size
    pos, seen_idat = len(SIGNATURE), False
    pieces: list[tuple[int, int]] = []
    handle.seek(0)
    if handle.read(len(SIGNATURE)) != SIGNATURE:
        return None
    while True:
        head = handle.read(8)
        if len(head) < 8:
            return None  # no IEND
        length, kind = struct.unpack(">I4s", head)
        end = pos + 12 + length
        if end > size:
            return None
        if kind == b"IDAT":
            pieces.append((pos + 8, length))
            seen_idat = True
        elif kind == b"IEND":
            if not seen_idat or length or end != size:
                return None
            break
        elif seen_idat:
            return None  # text or EXIF after the picture data: Pillow's load reads those
        handle.seek(end)
        pos = end
    total = sum(length for _, length in pieces)
    if total > limit:
        return None
    data = bytearray(total)
    view, at = memoryview(data), 0
    for offset, length in pieces:
        handle.seek(offset)
        if handle.readinto(view[at : at + length]) != length:
            return None
        at += length
    return data


def _stored(raw: Any) -> bytes:
    """`raw` as a zlib stream of stored (uncompressed) blocks, with its Adler-32."""
    from imagecodecs import deflate_adler32

    view, size = memoryview(raw), len(raw)
    pieces: list[bytes | memoryview] = [b"\x78\x01"]
    for start in range(0, size, STORED_BLOCK):
        length = min(STORED_BLOCK, size - start)
        pieces.append(struct.pack("<BHH", start + length >= size, length, length ^ 0xFFFF))
        pieces.append(view[start : start + length])
    if not size:
        pieces.append(struct.pack("<BHH", 1, 0, 0xFFFF))
    pieces.append(struct.pack(">I", deflate_adler32(raw)))
    return b"".join(pieces)


def decode_png(img: Any, handle: io.BufferedIOBase) -> Any | None:
    """The pixels of a PNG that `open_image` opened, as a new Pillow image of the mode Pillow chose.

    None when imagecodecs is not installed; when the PNG is not 8-bit grey or colour (with or
    without alpha), is interlaced, animated or has a transparent colour, is over MAX_PIXELS, or is
    not laid out as `_picture_data` requires; or when libdeflate refuses its data (damaged, cut,
    too long or failing its checksum). The caller then decodes with Pillow."""
    try:
        from imagecodecs import deflate_decode
    except ImportError:  # an install without it: Pillow decodes, only slower
        return None
    from PIL import Image

    channels = CHANNELS.get(img.mode)
    tile = img.tile[0] if len(img.tile) == 1 else None
    if (img.format != "PNG" or channels is None or tile is None or tile.codec_name != "zip" or tile.args != img.mode
            or tile.extents != (0, 0, *img.size) or img.info.get("interlace") or "transparency" in img.info
            or getattr(img, "is_animated", False) or img.width * img.height > MAX_PIXELS):
        return None
    need = img.height * (1 + img.width * channels)  # a filter byte, then the row
    # Deflate never grows data by more than its stored blocks' 5 bytes in 65535 (and a header).
    try:
        data = _picture_data(handle, need + need // 8192 + 1024)
    except (OSError, ValueError):  # a read error, or a handle without a file behind it: Pillow reads it and says
        return None
    if data is None:
        return None
    try:
        raw = deflate_decode(data, out=need)
    except Exception:  # noqa: BLE001 - imagecodecs.DeflateError and friends; Pillow will say what is wrong
        return None
    del data  # each buffer goes as soon as the next is made: at most two are held at once
    if len(raw) != need:
        return None
    stored = _stored(raw)
    del raw
    pixels = Image.new(img.mode, img.size, None)  # not filled: every byte is written next
    pixels.frombytes(stored, "zip", img.mode)
    return pixels


def png_exif(img: Any) -> Any:
    """The EXIF of a PNG that `decode_png` decoded. Nothing follows its picture data, so Pillow read
    every chunk that can hold EXIF or XMP when it opened the file; Pillow's PNG `getexif` would
    decode the whole picture again only to look after the data."""
    from PIL import Image

    return Image.Image.getexif(img)
