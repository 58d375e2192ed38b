"""Test-only: the host's RAM as LORAGATE_FAKE_MEMINFO says, for loragate processes a test starts.

Gate 3 reads /proc/meminfo; an end-to-end test of a Wan 2.2 plan needs a machine with the RAM of
a training pod, whatever the test runner has. Python runs this file at start-up when this folder
is on PYTHONPATH; when LORAGATE_FAKE_MEMINFO names a file in /proc/meminfo's format, it becomes
the default that `loragate.environment.resources.read_meminfo` reads, once that module is imported.
"""

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path

TARGET = "loragate.environment.resources"


class _MeminfoFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):  # noqa: ANN001, ANN202
            run(module)
            module.read_meminfo.__defaults__ = (Path(os.environ["LORAGATE_FAKE_MEMINFO"]),)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("LORAGATE_FAKE_MEMINFO"):
    sys.meta_path.insert(0, _MeminfoFinder())
