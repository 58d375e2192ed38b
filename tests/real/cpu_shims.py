"""Two import-time fixes that let the unmodified trainers start on a machine without CUDA.

setup-trainers.sh copies this file into each trainer's virtual environment as
`loragate_cpu_shims.py`, with a `loragate_cpu_shims.pth` that imports it at interpreter start
(every process in that venv: accelerate and the script it launches). It edits no installed file
and imports nothing heavy until the package concerned is imported:

- torchvision: the torchvision 0.28 wheel on PyPI is a CUDA build; beside the CPU torch its C
  extension does not load, and its `_meta_registrations.py` registers fakes for `torchvision::nms`
  and `qnms` without the `_has_ops()` guard its other ops use, so `import torchvision` fails with
  `RuntimeError: operator torchvision::nms does not exist`. Defining the two schemas first lets it
  import; the ops have no kernel, and neither trainer calls them.
- musubi-tuner: `wan/modules/t5.py` has `device=torch.cuda.current_device()` as a default
  argument, evaluated at import, which asserts without CUDA. Every caller passes `device=`, so on a
  machine without CUDA `current_device` answers 0 instead.
"""

from __future__ import annotations

import importlib.abc
import sys

_SCHEMAS = {
    "nms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_KEEP: list[object] = []  # the torch.library fragments must live as long as the process


def _define_torchvision_ops() -> None:
    import torch

    for name, schema in _SCHEMAS.items():
        try:
            getattr(torch.ops.torchvision, name)
            continue
        except (AttributeError, RuntimeError):
            pass
        lib = torch.library.Library("torchvision", "FRAGMENT")
        lib.define(name + schema)
        _KEEP.append(lib)


def _cuda_device_on_cpu() -> None:
    import torch

    if not torch.cuda.is_available():
        torch.cuda.current_device = lambda: 0


class _BeforeImport(importlib.abc.MetaPathFinder):
    """Runs a fix the first time a top-level package is looked up, then lets the normal import go on."""

    def __init__(self) -> None:
        self.pending = {"torchvision": _define_torchvision_ops, "musubi_tuner": _cuda_device_on_cpu}

    def find_spec(self, fullname, path=None, target=None):
        fix = self.pending.pop(fullname, None)
        if fix is not None:
            fix()
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)


if not any(isinstance(f, _BeforeImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _BeforeImport())
