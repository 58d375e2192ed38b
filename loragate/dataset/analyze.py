"""One decode per image: every quality score and the duplicate signature come from the same pixels.

JPEGs are decoded at reduced scale (`Image.draft`, DCT scaling: the whole file is still read, so a
truncated file still fails); still WebPs through imagecodecs' libwebp binding when it is installed
(`decode_webp`), most PNGs through libdeflate and Pillow's unfiltering (`decode_png`); every format
but JPEG is decoded fully (which is what proves it intact) and reduced once (`analysis_copy`). Large batches run in a process pool over all cores; results go to the analysis cache.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
import struct
import threading
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from loragate.dataset.cache import AnalysisCache, stat_keys
from loragate.dataset.image_checks import ANALYSIS_SIZE, UNCHECKED, quality_scores
from loragate.dataset.model import ImageAnalysis
from loragate.duplicates.signature import SIGNATURE_VERSION, image_signature
from loragate.imaging import decode_webp, open_image
from loragate.png_decode import decode_png, png_exif
from loragate.progress import ProgressFn, or_silent

# Bump when what is measured changes; old cache rows are then simply not found.
ANALYSIS_VERSION = "img7"
# Below this many images to decode, a pool costs more to start than it saves.
SERIAL_BELOW = 48
EXIF_ORIENTATION = 0x0112
GRAY16_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
FLOAT_MODES = {"F"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# Faster decoders for what they can take; each returns None to leave a file to Pillow's own load.
FAST_DECODERS: dict[str, Callable[[Any, Any], Any]] = {"WEBP": decode_webp, "PNG": decode_png}


def _png_bit_depth(header: bytes) -> int:
    # PNG: 8-byte magic, then the IHDR chunk (length, type, width, height, bit depth at offset 24).
    if header[:8] == b"\x89PNG\r\n\x1a\n" and len(header) > 24:
        return header[24]
    return 8


def analyze_file(abs_path: str, rel: str) -> ImageAnalysis:
    """Decode one image once and measure everything. Never raises for a bad file; never writes."""
    from PIL import Image, UnidentifiedImageError

    result = ImageAnalysis(path=rel)
    try:
        with open(abs_path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):  # the scan never lists these; a file swapped since is refused
                result.error, result.error_detail = "DS_NOT_AN_IMAGE", "not a regular file"
                return result
            header = handle.read(32)
            if not header:
                result.error = "DS_ZERO_BYTE"
                return result
            handle.seek(0)
            with warnings.catch_warnings():
                # Between Pillow's limit and twice it, _measure decides (checked in pieces or blocked);
                # beyond twice it, Pillow refuses to open it at all.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                try:
                    img = open_image(handle)
                except Image.DecompressionBombError as exc:
                    result.error, result.pixels = "DS_TOO_LARGE", _bomb_pixels(str(exc))
                    result.error_detail = f"{result.pixels / 1e6:,.0f} megapixels" if result.pixels else ""
                    return result
                return _measure(img, result, header, handle)
    except UnidentifiedImageError:
        result.error = "DS_NOT_AN_IMAGE"
    except OSError as exc:
        if exc.errno is None:  # Pillow's own "truncated"/"broken data" errors carry no errno
            result.error, result.error_detail = "DS_TRUNCATED", str(exc)[:200]
        else:
            result.error, result.error_detail = "DS_UNREADABLE", exc.strerror or str(exc)
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise ValueError, SyntaxError, NotImplementedError...
        result.error, result.error_detail = "DS_NOT_AN_IMAGE", f"{type(exc).__name__}: {str(exc)[:160]}"
    return result


def _bomb_pixels(text: str) -> int:
    # Pillow says e.g. "Image size (10000000000 pixels) exceeds limit of 178956970 pixels, ..."
    match = re.search(r"\((\d+) pixels\)", text)
    return int(match.group(1)) if match else 0


def _analysis_size(size: tuple[int, int]) -> tuple[int, int]:
    """The analysis copy's size (at most ANALYSIS_SIZE a side). JPEG draft needs only that much on each side, so a 3:2 photo
    is decoded at 1/4 scale rather than the 1/2 a square request would force (4x fewer pixels)."""
    width, height = size
    scale = min(1.0, ANALYSIS_SIZE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def analysis_copy(img: Any) -> Any:
    """The copy every score and the signature are computed from, `_analysis_size` big: a box
    average by the largest whole factor that keeps it at least that size (Pillow's `reduce`, one
    cheap pass over the decoded pixels), then bilinear to the exact size. A third of the cost of
    a bicubic reduction of the whole picture; the thresholds in loragate/data/thresholds.toml are
    calibrated on scores of this copy (benchmarks/labelled_quality.py)."""
    from PIL import Image

    target = _analysis_size(img.size)
    if target == img.size:
        return img
    factor = min(img.width // target[0], img.height // target[1])
    if factor > 1:
        img = img.reduce(factor)
    return img.resize(target, Image.Resampling.BILINEAR)


def _png_stream_intact(handle: Any, width: int, height: int, bits_per_pixel: int) -> bool:
    """Whether a PNG's compressed pixel data is complete, checked without holding the pixels:
    the IDAT chunks are inflated in pieces and the bytes counted against what the size needs."""
    need = height * (1 + (width * bits_per_pixel + 7) // 8)
    inflater = zlib.decompressobj()
    got = 0
    handle.seek(8)
    try:
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return False
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                break
            if kind != b"IDAT":
                handle.seek(length + 4, 1)
                continue
            left = length
            while left:
                piece = handle.read(min(left, 1 << 20))
                if not piece:
                    return False
                left -= len(piece)
                got += len(inflater.decompress(piece, 1 << 22))
                while inflater.unconsumed_tail:
                    got += len(inflater.decompress(inflater.unconsumed_tail, 1 << 22))
                if got > need:
                    return False
            handle.seek(4, 1)  # CRC
        got += len(inflater.flush())
    except zlib.error:
        return False
    return got == need and inflater.eof


def _measure(img: Any, result: ImageAnalysis, header: bytes, handle: Any = None) -> ImageAnalysis:
    import numpy as np
    from PIL import Image

    result.format = img.format
    result.width, result.height = img.size
    pixels = result.pixels = result.width * result.height
    result.mode = img.mode
    result.frames = int(getattr(img, "n_frames", 1) or 1)
    result.bit_depth = 32 if img.mode in FLOAT_MODES else 16 if img.mode in GRAY16_MODES else _png_bit_depth(header)
    if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
        # Too large to decode here, but never passed unchecked: a PNG's data stream is checked
        # in pieces, a JPEG decodes at reduced scale below; anything else is blocked unopened.
        result.error = "DS_TOO_LARGE"
        result.error_detail = f"{result.width}x{result.height}, {result.pixels / 1e6:,.0f} megapixels"
        if img.format == "PNG" and handle is not None:
            bpp = len(img.getbands()) * max(8, _png_bit_depth(header)) if img.mode != "P" else _png_bit_depth(header)
            if not _png_stream_intact(handle, result.width, result.height, bpp):
                result.error, result.error_detail = "DS_TRUNCATED", "its picture data is incomplete or damaged"
            return result
        if img.format not in ("JPEG", "MPO"):
            result.error_detail += UNCHECKED
            return result
        try:
            img.draft("RGB", _analysis_size(img.size))
            img.load()
        except Exception as exc:  # noqa: BLE001 - every decoder failure means the same thing to the artist
            result.error, result.error_detail = "DS_TRUNCATED", str(exc)[:200]
        return result
    opened = img
    try:
        if img.format == "JPEG":
            img.draft("RGB", _analysis_size(img.size))
        decoded = None
        if handle is not None and img.format in FAST_DECODERS:
            decoded = FAST_DECODERS[img.format](img, handle)
        if decoded is None:
            img.load()
        else:
            img = decoded
    except Exception as exc:  # noqa: BLE001 - every decoder failure means the same thing to the artist
        result.error = "DS_TRUNCATED"
        result.error_detail = str(exc)[:200]
        return result
    try:
        exif = png_exif(opened) if decoded is not None and opened.format == "PNG" else opened.getexif()
        result.exif_orientation = int(exif.get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block is not a damaged image
        result.exif_orientation = 1

    if img.mode in GRAY16_MODES:
        # Scale 16-bit values to 8 bits for scoring (Pillow's own convert would clip them to white).
        arr = np.asarray(img, dtype=np.float32)
        img = Image.fromarray(np.clip(arr / 257.0, 0, 255).astype(np.uint8), "L")
    elif img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    elif img.mode == "1":  # Pillow's box reduction takes no 1-bit pictures
        img = img.convert("L")
    img = analysis_copy(img)
    if img.mode in ALPHA_MODES:  # LAB has an "A" band too: that is colour, not transparency
        low, _ = img.getchannel("A").getextrema()
        result.alpha_used = low < 255
    rgb = img.convert("RGB")
    result.scores = quality_scores(np.asarray(rgb), np.asarray(rgb.convert("L")))
    result.signature = image_signature(rgb, original_size=(result.width, result.height))
    return result


def warm_worker() -> None:
    """Load what every decode needs before the pool starts: forked workers inherit it instead of
    each importing Pillow's plugins and building the hash operators on its first picture."""
    from loragate.duplicates.signature import warm_operators
    from loragate.imaging import register_formats

    register_formats()
    warm_operators()


def _analyze_chunk(items: list[tuple[str, str]]) -> list[str]:
    """Pool worker: JSON per image, so results cross the process boundary cheaply."""
    return [analyze_file(abs_path, rel).model_dump_json() for abs_path, rel in items]


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork when this process has a single thread (CLI, scripts, tests): workers start at once and
    never re-import the caller's main script. With threads (the MCP server runs the engine on a
    worker thread), forking could copy a lock some other thread holds, so use a fork server."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def analyze_images(
    root: Path,
    relpaths: list[str],
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> dict[str, ImageAnalysis]:
    """Analyse images under `root` (paths relative to it), reusing cached results for unchanged files.

    Returns relpath -> ImageAnalysis, each with the duplicate finder's `signature` unless undecodable.
    """
    return analyze_images_counted(root, relpaths, progress, workers)[0]


def analyze_images_counted(
    root: Path,
    relpaths: list[str],
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> tuple[dict[str, ImageAnalysis], int]:
    """Like `analyze_images`, also returning how many results came from the cache."""
    report = or_silent(progress)
    root = Path(root).resolve()
    cache = AnalysisCache(root)
    version = f"{ANALYSIS_VERSION}-sig{SIGNATURE_VERSION}"
    keys = stat_keys("image", version, root, relpaths)
    results: dict[str, ImageAnalysis] = {}
    todo: list[tuple[str, str]] = []
    hits = cache.get_many(keys.values())
    for rel in relpaths:
        key = keys.get(rel)
        if key is not None and key in hits:
            results[rel] = ImageAnalysis.model_validate_json(hits[key])
        else:
            todo.append((str(root / rel), rel))
    cached = len(results)
    total = len(relpaths)
    report(cached, total, "images (from cache)" if cached else "images")

    fresh: dict[str, str] = {}

    def take(rel: str, payload: str) -> None:
        analysis = ImageAnalysis.model_validate_json(payload)
        results[rel] = analysis
        # Permissions change without touching size or mtime, so an unreadable result is never cached.
        if rel in keys and analysis.error != "DS_UNREADABLE":
            fresh[keys[rel]] = payload

    n_workers = workers or _workers()
    if len(todo) < SERIAL_BELOW or n_workers < 2:
        for abs_path, rel in todo:
            take(rel, analyze_file(abs_path, rel).model_dump_json())
            report(len(results), total, rel)
    else:
        # Largest files first, in small chunks, so both workers finish together instead of one
        # decoding a few 12 MP files alone at the end.
        todo.sort(key=lambda item: _file_size(item[0]), reverse=True)
        chunk = max(2, min(8, len(todo) // (n_workers * 16) or 2))
        chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
        context = _pool_context()
        if context.get_start_method() == "fork":
            warm_worker()
        try:
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=warm_worker) as pool:
                futures = {pool.submit(_analyze_chunk, part): part for part in chunks}
                for future in as_completed(futures):
                    part = futures[future]
                    for (_, rel), payload in zip(part, future.result()):
                        take(rel, payload)
                    report(len(results), total, part[-1][1])
        except (BrokenProcessPool, OSError):
            # A pool that cannot start or loses a worker must not lose the audit: finish serially.
            for abs_path, rel in todo:
                if rel not in results:
                    take(rel, analyze_file(abs_path, rel).model_dump_json())
                    report(len(results), total, rel)
    cache.put_many(fresh)
    return {rel: results[rel] for rel in relpaths if rel in results}, cached
