"""What to rent for a plan: the volume (Gate 3's disk estimate plus weights, data and the
trainer) and the image whose CUDA suits the card (the CUDA matrix)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from packaging.version import Version

from loragate.catalog.models import ModelFamily, get_family
from loragate.cloud.prices import ImageFacts, card, cloud_facts
from loragate.environment.compat import load_matrix
from loragate.environment.resources import disk_needs
from loragate.core.errors import LoragateError
from loragate.lightning.checks import extra_disk_gb as lightning_disk_gb
from loragate.core.plan import TrainingPlan

GB = 1024**3
BYTES_16BIT = 2
TRAINER_GB = 25  # the trainer's checkout and virtual environment (torch alone is ~5 GB), pip and HF caches
MIN_VOLUME_GB = 50


def weights_gb(plan: TrainingPlan, family: ModelFamily) -> float:
    """Model files on the volume: the backbone (each Wan 2.2 expert), text encoders, VAE, in 16-bit."""
    backbones = max(1, len(plan.experts))
    params = family.params_b * backbones + sum(te.params_b for te in family.text_encoders)
    params += family.vae_params_b + family.image_encoder_params_b
    # the Lightning files the artist renders with, and any pre-merged expert beside the plain one
    return params * 1e9 * BYTES_16BIT / GB + lightning_disk_gb(plan, family)


def dataset_gb(plan: TrainingPlan) -> float:
    total = 0
    for dirpath, _, files in os.walk(plan.dataset.path):
        for name in files:
            try:
                total += (Path(dirpath) / name).stat().st_size
            except OSError:
                continue
    return total / GB


def volume_gb(plan: TrainingPlan) -> int:
    """Gigabytes of volume for the run, rounded up to 10 (never below 50)."""
    family = get_family(plan.model)
    need = weights_gb(plan, family) + dataset_gb(plan) + sum(n.need_gb for n in disk_needs(plan, family)) + TRAINER_GB
    return max(MIN_VOLUME_GB, int(math.ceil(need / 10.0) * 10))


def image_for(gpu: str) -> ImageFacts:
    """The newest trainer image that runs on this card: CUDA new enough for its generation, and
    wheels that still carry code for it."""
    facts = card(gpu)
    images = cloud_facts().images
    if facts is None:
        return images[0]
    capability = Version(facts.capability)
    arch = max((a for a in load_matrix().arch if Version(a.capability) <= capability), key=lambda a: Version(a.capability), default=None)
    need = Version(arch.min_cuda) if arch else Version("0")
    for image in images:
        if Version(image.cuda) >= need and Version(image.oldest_arch) <= capability:
            return image
    raise LoragateError(f"No trainer image loragate knows runs on the {gpu}.", "Pick a newer card from `loragate cloud offers`.")


def allowed_cuda(image: ImageFacts) -> list[str]:
    """The CUDA versions (of the matrix) a host's driver may report for this image to run."""
    need = Version(image.cuda)
    return sorted((v for v in load_matrix().cuda if Version(v) >= need), key=Version)
