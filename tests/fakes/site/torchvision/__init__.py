"""A stand-in for torchvision. LORAGATE_FAKE_TORCHVISION_BROKEN makes its import fail the way a
torchvision built for another torch does."""

import os

if os.environ.get("LORAGATE_FAKE_TORCHVISION_BROKEN"):
    raise RuntimeError("operator torchvision::nms does not exist")

__version__ = "0.22.1"
