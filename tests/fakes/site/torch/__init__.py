"""A stand-in for PyTorch, for the environment probe's tests (no GPU, no real torch here).

It reports what the LORAGATE_FAKE_TORCH_* variables say, so a test can play any build on any card:
  LORAGATE_FAKE_TORCH_VERSION    '2.7.1+cu128'   torch.__version__
  LORAGATE_FAKE_TORCH_CUDA       '12.8'          torch.version.cuda ('none' for a CPU-only build)
  LORAGATE_FAKE_TORCH_ARCHS      'sm_75,...'     torch.cuda.get_arch_list()
  LORAGATE_FAKE_CUDA_AVAILABLE   '1' / '0'       torch.cuda.is_available()
  LORAGATE_FAKE_TORCH_DEVICE     'NVIDIA H100 80GB HBM3:9.0'   name:capability of device 0
  LORAGATE_FAKE_TORCH_WARNING    text            warned by is_available(), as real torch does
  LORAGATE_FAKE_CUDNN            '90100'         torch.backends.cudnn.version() ('none' = absent)
  LORAGATE_FAKE_TORCH_BROKEN     text            `import torch` raises ImportError(text)
  LORAGATE_FAKE_TORCH_SLEEP      seconds         `import torch` hangs that long
"""

import os
import time
import warnings
from types import SimpleNamespace

if os.environ.get("LORAGATE_FAKE_TORCH_SLEEP"):
    time.sleep(float(os.environ["LORAGATE_FAKE_TORCH_SLEEP"]))
if os.environ.get("LORAGATE_FAKE_TORCH_BROKEN"):
    raise ImportError(os.environ["LORAGATE_FAKE_TORCH_BROKEN"])


def _env(name, default):
    value = os.environ.get(name, default)
    return None if value.lower() == "none" else value


__version__ = _env("LORAGATE_FAKE_TORCH_VERSION", "2.7.1+cu128")
version = SimpleNamespace(cuda=_env("LORAGATE_FAKE_TORCH_CUDA", "12.8"), hip=None, __version__=__version__)

_ARCHS = [a for a in (_env("LORAGATE_FAKE_TORCH_ARCHS", "sm_75,sm_80,sm_86,sm_90,sm_100,sm_120") or "").split(",") if a]
_DEVICE = (_env("LORAGATE_FAKE_TORCH_DEVICE", "NVIDIA H100 80GB HBM3:9.0") or "").rsplit(":", 1)


def _is_available():
    message = os.environ.get("LORAGATE_FAKE_TORCH_WARNING")
    if message:
        warnings.warn(message, UserWarning)
    return version.cuda is not None and os.environ.get("LORAGATE_FAKE_CUDA_AVAILABLE", "1") == "1"


def _capability(index=0):
    major, minor = _DEVICE[1].split(".")
    return int(major), int(minor)


cuda = SimpleNamespace(
    get_arch_list=lambda: list(_ARCHS) if version.cuda else [],
    is_available=_is_available,
    device_count=lambda: 1 if _is_available() else 0,
    get_device_name=lambda index=0: _DEVICE[0],
    get_device_capability=_capability,
    is_bf16_supported=lambda: _capability()[0] >= 8,
)
_cudnn = _env("LORAGATE_FAKE_CUDNN", "90100")
backends = SimpleNamespace(cudnn=SimpleNamespace(version=lambda: int(_cudnn) if _cudnn else None))
