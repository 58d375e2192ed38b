"""Small datasets and model files for the plan and backend tests."""

from __future__ import annotations

from pathlib import Path

from loragate.catalog.models import get_family
from tests.media import write_caption, write_image, write_safetensors_header, write_video

FAKES = Path(__file__).parent / "fakes"


def wan_dataset(root: Path, images: int = 3, clips: int = 2, clip_frames: int = 40, fps: int = 30) -> Path:
    """Images/ + Videos/ with captions, the Wan convention."""
    data = root / "datasets" / "mira"
    for i in range(images):
        write_image(data / "Images" / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / "Images" / f"img{i:02d}.txt", f"mira woman, photo {i}")
    for i in range(clips):
        write_video(data / "Videos" / f"clip{i:02d}.mp4", frames=clip_frames, fps=fps, width=64, height=64, seed=i)
        write_caption(data / "Videos" / f"clip{i:02d}.txt", f"mira woman walking, clip {i}")
    return data


def kohya_dataset(root: Path, images: int = 4, repeats: int = 10) -> Path:
    """A kohya `N_name` folder inside the dataset folder."""
    data = root / "datasets" / "kmira"
    for i in range(images):
        write_image(data / f"{repeats}_mira" / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / f"{repeats}_mira" / f"img{i:02d}.txt", f"mira woman, photo {i}")
    return data


def flat_dataset(root: Path, images: int = 4) -> Path:
    data = root / "datasets" / "flat"
    for i in range(images):
        write_image(data / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / f"img{i:02d}.txt", f"mira woman, photo {i}")
    return data


def fake_weights(root: Path, family: str) -> dict[str, str]:
    """Header-only model files the trainer stand-ins accept for `family` (role -> path)."""
    models = root / "models"
    wan_big = {"blocks.0.cross_attn.k.weight": ("BF16", [5120, 5120]), "patch_embedding.weight": ("BF16", [5120, 16, 1, 2, 2])}
    if family.startswith("wan2.2"):
        fp16 = {k: ("F16", shape) for k, (_, shape) in wan_big.items()}
        if "i2v" in family:
            fp16["patch_embedding.weight"] = ("F16", [5120, 36, 1, 2, 2])
        files = {"dit": ("low.safetensors", fp16), "dit_high_noise": ("high.safetensors", fp16)}
    elif family.startswith("wan2.1"):
        small = "1.3b" in family
        dim = 1536 if small else 5120
        dit = {"blocks.0.cross_attn.k.weight": ("BF16", [dim, dim]),
               "patch_embedding.weight": ("BF16", [dim, 36 if "i2v" in family else 16, 1, 2, 2])}
        if "i2v" in family:
            dit["blocks.0.cross_attn.k_img.weight"] = ("BF16", [dim, dim])
        files = {"dit": ("dit.safetensors", dit)}
    else:
        files = {"base_model": ("base.safetensors", {"model.weight": ("F16", [8, 8])})}
        # the separate files the family's script takes (FLUX: clip_l, t5xxl, ae; SD 3.5: clip_l, clip_g, t5xxl)
        files.update({role: (f"{role}.safetensors", {"w": ("BF16", [8])})
                      for role in get_family(family).weights_files if role != "base_model"})
    out = {role: str(write_safetensors_header(models / name, tensors)) for role, (name, tensors) in files.items()}
    if family.startswith("wan"):
        out["vae"] = str(write_safetensors_header(models / "vae.safetensors", {"decoder.conv.weight": ("BF16", [16, 16])}))
        out["t5"] = str(write_safetensors_header(models / "umt5.safetensors", {"encoder.weight": ("BF16", [16, 16])}))
        if family == "wan2.1-i2v-14b":
            out["clip"] = str(write_safetensors_header(models / "clip.safetensors", {"visual.weight": ("F16", [16, 16])}))
    return out


def control_dataset(root: Path, images: int = 3) -> Path:
    """Edit pairs: results with captions at the top, each starting picture under the same name in
    control/ (musubi-tuner docs/dataset_config.md, image dataset with control images)."""
    data = root / "datasets" / "pairs"
    for i in range(images):
        write_image(data / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / f"img{i:02d}.txt", f"mira woman, make her hair red {i}")
        write_image(data / "control" / f"img{i:02d}.jpg", 64, 64, seed=100 + i)
    return data


def frames_dataset(root: Path, images: int = 3) -> Path:
    """One-frame training (Wan 2.1 FLF2V): middle frames with captions at the top, each one's start
    and end image in control/ as NAME_0 and NAME_1 (musubi-tuner docs/wan_1f.md, docs/dataset_config.md)."""
    data = root / "datasets" / "frames"
    for i in range(images):
        write_image(data / f"img{i:02d}.png", 64, 64, seed=i)
        write_caption(data / f"img{i:02d}.txt", f"mira woman turns her head {i}")
        for n in range(2):
            write_image(data / "control" / f"img{i:02d}_{n}.jpg", 64, 64, seed=100 + 10 * i + n)
    return data


def pairs_dataset(family: str, root: Path) -> Path:
    """The dataset a control-image family reads: one-frame triples or edit pairs."""
    return frames_dataset(root) if get_family(family).one_frame else control_dataset(root)


def family_dataset(family: str, root: Path) -> Path:
    """The smallest dataset a family trains on: Images/ + Videos/ for video models, edit pairs (or
    one-frame triples) for the control-image models, flat pictures otherwise."""
    if get_family(family).video:
        return wan_dataset(root)
    return pairs_dataset(family, root) if get_family(family).control_images else flat_dataset(root)
