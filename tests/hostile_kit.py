"""A hostile corpus made at test time, the canaries around it, and the ledger that proves nothing
was touched: every media file hashed (bytes and mode) before and after, files outside the workspace
that must never be opened, listed or run, and an audit hook that sees every open and every program
start in the process that runs loragate.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tests.media import textured, write_caption, write_image, write_video

# --- canaries --------------------------------------------------------------------------------

_STATE: dict[str, Any] = {"watched": [], "hits": [], "installed": False}
_GUARD = threading.local()
WATCHED_EVENTS = {"open", "os.listdir", "os.scandir", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
                  "os.system", "os.chmod", "os.rename", "os.remove", "os.unlink", "os.truncate", "shutil.copyfile"}


def _paths_of(event: str, args: tuple[Any, ...]) -> list[Any]:
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        return [executable] + ([argv[0]] if isinstance(argv, (list, tuple)) and argv else [argv])
    if event in ("os.exec", "os.posix_spawn", "os.spawn"):
        return [args[0]] if event != "os.spawn" else [args[1]]
    if event == "os.rename":
        return [args[0], args[1]]
    return [args[0]] if args else []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in WATCHED_EVENTS or not _STATE["watched"] or getattr(_GUARD, "busy", False):
        return
    _GUARD.busy = True
    try:
        for raw in _paths_of(event, args):
            if isinstance(raw, int) or raw is None:
                continue
            try:
                path = os.path.realpath(os.fsdecode(raw))
            except (TypeError, ValueError, OSError):
                continue
            for watched in _STATE["watched"]:
                if path == watched or path.startswith(watched.rstrip("/") + "/"):
                    _STATE["hits"].append(f"{event} {path}")
    finally:
        _GUARD.busy = False


def watch(paths: list[Path]) -> list[str]:
    """Start recording every access under `paths` in this process; returns the live list of hits."""
    if not _STATE["installed"]:
        sys.addaudithook(_hook)
        _STATE["installed"] = True
    _STATE["watched"] = [os.path.realpath(p) for p in paths]
    _STATE["hits"] = []
    return _STATE["hits"]


def stop_watching() -> None:
    _STATE["watched"] = []


# --- the ledger ------------------------------------------------------------------------------

def ledger(folder: Path) -> dict[str, tuple[str, int]]:
    """Every entry under `folder` (links not followed, special files never opened): rel -> (sha256 or
    what it is, mode bits)."""
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(folder)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(path, os.fsencode(folder)))
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = "link:" + os.fsdecode(os.readlink(path))
            else:
                digest = f"type:{stat.S_IFMT(st.st_mode):o}"
            out[rel] = (digest, stat.S_IMODE(st.st_mode))
    return out


# --- the corpus ------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes, extra: bytes = b"") -> bytes:
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _fast_start_mp4(path: Path, frames: int = 33) -> bytes:
    import av

    base = np.asarray(textured(640, 192, 3))
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = 320, 192, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, i * 4 : i * 4 + 320]), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def build_world(tmp: Path) -> dict[str, Any]:
    """root/ (the workspace) with a hostile dataset, outside/ with canaries. Returns the layout and
    the number of hostile inputs made."""
    root, outside = tmp / "root", tmp / "outside"
    ds = root / "ds"
    ds.mkdir(parents=True)
    (outside / "private").mkdir(parents=True)
    secret = outside / "secret.toml"
    secret.write_text('api_token = "sk-CANARY-0123456789"\nnetwork_dim = 16\n')
    write_image(outside / "private" / "photo.png", 256, 256, seed=9)
    evil = outside / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {outside}/EXECUTED\n")
    evil.chmod(0o755)
    inputs: list[str] = []

    def made(name: str) -> None:
        inputs.append(name)

    # A few good pictures, so every check runs.
    for i in range(3):
        write_image(ds / f"good_{i}.png", 640, 640, seed=i)
        write_caption(ds / f"good_{i}.txt", f"mira, picture {i}")
    os.chmod(ds / "good_0.txt", 0o644)
    os.chmod(ds / "good_1.png", 0o640)
    # Special files named as captions, metadata and media.
    for name in ("fifo.txt", "metadata.json", "pipe.png", "pipe_clip.mp4"):
        os.mkfifo(ds / name)
        made(name)
    # Links: to /dev/zero, up and out of the dataset, to /, to the artist's private folder, a loop.
    for name, target in (("zero.png", "/dev/zero"), ("zero.txt", "/dev/zero"), ("up", ".."), ("rootlink", "/"),
                         ("private", str(outside / "private")), ("secret.txt", str(secret)), ("loop", "loop")):
        os.symlink(target, ds / name)
        made(name)
    # Lying and broken pictures.
    (ds / "eps.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(x) print showpage\n")
    Image.new("RGBA", (8, 8)).save(ds / "dds_tmp.dds")
    os.replace(ds / "dds_tmp.dds", ds / "dds.png")
    (ds / "ppm.png").write_bytes(b"P6\n99999999999 1\n255\n")
    (ds / "iccp.png").write_bytes(_png(4, 4, zlib.compress(b"\0" * 52), _chunk(b"iCCP", b"x\0\0" + zlib.compress(b"\0" * (70 << 20)))))
    (ds / "ztxt.png").write_bytes(_png(4, 4, zlib.compress(b"\0" * 52), _chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * (70 << 20)))))
    (ds / "random_144mp.png").write_bytes(_png(12000, 12000, zlib.compress(os.urandom(200_000))))
    (ds / "bomb_400mp.png").write_bytes(_png(20000, 20000, zlib.compress(b"\0" * 1000)))
    webp = ds / "trunc.webp"
    textured(256, 256, 4).save(webp)
    webp.write_bytes(webp.read_bytes()[: webp.stat().st_size // 2])
    jpg = ds / "trunc.jpg"
    write_image(jpg, 512, 512, seed=5)
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    (ds / "zero_bytes.png").write_bytes(b"")
    (ds / "text_named.png").write_text("not a picture")
    Image.new("LAB", (640, 640)).save(ds / "lab_tmp.tif")
    os.replace(ds / "lab_tmp.tif", ds / "lab.png")
    Image.new("F", (640, 640)).save(ds / "float_tmp.tif")
    os.replace(ds / "float_tmp.tif", ds / "float32.png")
    textured(640, 640, 6).save(ds / "gif_named.png", format="GIF")
    for name in ("eps.png", "dds.png", "ppm.png", "iccp.png", "ztxt.png", "random_144mp.png", "bomb_400mp.png",
                 "trunc.webp", "trunc.jpg", "zero_bytes.png", "text_named.png", "lab.png", "float32.png", "gif_named.png"):
        write_caption(ds / (name.rsplit(".", 1)[0] + ".txt"), "mira, x")
        made(name)
    # Clips: a truncated fast-start mp4, and one with its moov at the end cut off.
    data = _fast_start_mp4(ds / "faststart.mp4")
    (ds / "faststart.mp4").write_bytes(data[: int(len(data) * 0.9)])
    write_video(ds / "cut.mp4", frames=17)
    (ds / "cut.mp4").write_bytes((ds / "cut.mp4").read_bytes()[:3000])
    for name in ("faststart.mp4", "cut.mp4"):
        write_caption(ds / (name.rsplit(".", 1)[0] + ".txt"), "mira, clip")
        made(name)
    # Captions that lie about their text.
    write_image(ds / "cap_utf16.png", 640, 640, seed=7)
    (ds / "cap_utf16.txt").write_bytes("mira, a portrait".encode("utf-16-le"))
    write_image(ds / "cap_odd16.png", 640, 640, seed=8)
    (ds / "cap_odd16.txt").write_bytes(b"\xff\xfe" + "mira".encode("utf-16-le") + b"x")
    write_image(ds / "cap_cr.png", 640, 640, seed=10)
    (ds / "cap_cr.txt").write_bytes(b"mira, first line\rsecond line")
    write_image(ds / "cap_nul.png", 640, 640, seed=11)
    (ds / "cap_nul.txt").write_bytes(b"mira,\x00 hidden")
    write_image(ds / "cap_huge.png", 640, 640, seed=12)
    (ds / "cap_huge.txt").write_bytes(b"mira, " + b"word " * 400_000)
    made("cap_utf16.txt"), made("cap_odd16.txt"), made("cap_cr.txt"), made("cap_nul.txt"), made("cap_huge.txt")
    # Names: rich markup, terminal escapes, not UTF-8, NAME_MAX long.
    for name in ("[red]mira[b].png", "esc\x1b]0;pwned\x07.png", "x" * 251 + ".png"):
        write_image(ds / name, 640, 640, seed=13)
        made(name)
    bad = os.path.join(os.fsencode(ds), b"\xff\xfe.png")
    textured(640, 640, 14).save(os.fsdecode(bad), format="PNG")
    made("non-utf8 name")
    # A plain second dataset for a quarantine batch that meets a bad name.
    for i in range(2):
        write_image(root / "ds2" / f"keep_{i}.png", 320, 320, seed=20 + i)
        write_caption(root / "ds2" / f"keep_{i}.txt", f"mira, kept {i}")
    # A quarantine manifest edited by hand to move a picture out of the dataset.
    q = ds / "_quarantine"
    q.mkdir()
    (q / "manifest.json").write_text(json.dumps({"entries": [{
        "original": "../../outside/moved.png", "quarantined": "_quarantine/good_0.png", "size": 1,
        "sha256": "0" * 64, "time": 0}]}))
    made("hand-edited manifest")
    # Deeply nested records and scripts.
    deep_toml = root / "deep.toml"
    deep_toml.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    deep_json = root / "deep.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000)
    script = root / "train.sh"
    script.write_text(
        "A=xxxxxxxxxxxxxxxx\n" + "A=$A$A\n" * 30
        + f"accelerate launch wan_train_network.py --config_file {secret} --dataset_config {outside}/data.toml "
        + f"--dit {outside}/private/w.safetensors --network_weights {outside}/private/lora.safetensors --output_name $A "
        + "--train_data_dir ../outside/private --api_token sk-CANARY-0123456789\n"
        + " && ".join(["python wan_train_network.py --dit x.safetensors"] * 2000) + "\n")
    cont = root / "cont.sh"
    cont.write_text("python wan_train_network.py \\\n" + "".join(f"  --network_dim {i} \\\n" for i in range(30_000)) + "\n")
    many = root / "many.toml"
    many.write_text("[general]\nresolution = 512\n" + "".join(f"[[datasets]]\nimage_directory = 'd{i}'\n" for i in range(50_000)))
    odd = root / "odd16.sh"
    odd.write_bytes(b"\xff\xfe" + "python wan_train_network.py".encode("utf-16-le") + b"x")
    for name in ("deep.toml", "deep.json", "train.sh", "cont.sh", "many.toml", "odd16.sh"):
        made(name)
    return {"root": root, "outside": outside, "ds": ds, "ds2": root / "ds2", "secret": secret, "evil": evil, "inputs": inputs,
            "canaries": [outside, Path("/dev/zero")]}
