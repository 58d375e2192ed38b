"""Permissive stand-ins for the heavy libraries the trainer scripts import at module level, so
their argparse parsers and dataset-config validators can be imported on a machine without torch.

Loaded only inside the contract probe's own process (tests/contract/probe.py), never in pytest's.
Every attribute of a stub is another stub; stubs are classes, so scripts may subclass them
(`class X(torch.nn.Module)`), call them, decorate with them, or write `torch.Tensor | None`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

# Always stubbed, even when installed: what the trainers need to run, never to parse flags.
HEAVY = {
    "torch", "torchvision", "torchaudio", "transformers", "diffusers", "accelerate", "safetensors",
    "bitsandbytes", "xformers", "cv2", "einops", "huggingface_hub", "open_clip", "timm", "lycoris",
    "prodigyopt", "schedulefree", "sentencepiece", "ftfy", "av", "decord", "imagesize", "tqdm",
    "deepspeed", "optimum", "tensorboard", "wandb", "sageattention", "flash_attn", "triton",
    "easydict", "opencv", "scipy", "onnx", "onnxruntime", "lion_pytorch", "came_pytorch",
    "dadaptation", "pytorch_optimizer", "rich", "tokenizers", "peft", "gguf", "matplotlib",
    "numpy", "PIL", "pandas", "regex", "einx", "kornia", "musubi_tuner_kernels", "nvidia", "packaging",
}


# Never stubbed: the trainers' dataset-config validation is these libraries.
REAL = {"toml", "voluptuous"}


class _StubMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _stub(f"{cls.__name__}.{name}")

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], _StubMeta):
            return args[0]  # used as a decorator: keep the function
        return _stub(f"{cls.__name__}()")

    def __getitem__(cls, item: Any) -> Any:
        return cls

    def __iter__(cls) -> Any:
        return iter(())

    def __len__(cls) -> int:
        return 0

    def __bool__(cls) -> bool:
        return False

    def __lt__(cls, other: Any) -> bool:
        return False

    __gt__ = __le__ = __ge__ = __lt__

    def __index__(cls) -> int:
        return 0

    def __int__(cls) -> int:
        return 0

    def __float__(cls) -> float:
        return 0.0

    def __enter__(cls) -> Any:
        return cls

    def __exit__(cls, *exc: object) -> None:
        return None

    def __mro_entries__(cls, bases: tuple) -> tuple:
        return (cls,)


def _arith(name: str) -> Any:
    def op(cls: Any, *other: Any) -> Any:
        return cls

    op.__name__ = name
    return op


for _op in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "pow", "neg", "mod", "matmul"):
    setattr(_StubMeta, f"__{_op}__", _arith(f"__{_op}__"))


def _stub(name: str) -> Any:
    return _StubMeta(name, (), {"__module__": "stub"})


class StubModule(types.ModuleType):
    __version__ = "2.7.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = _stub(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        top = fullname.split(".")[0]
        if top in HEAVY:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = StubModule(spec.name)
        module.__path__ = []  # a package, so any submodule imports
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _MissingFinder(_Finder):
    """After the real finders: a module nothing else provides becomes a stub too."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        top = fullname.split(".")[0]
        if top in REAL:
            raise ImportError(f"the contract test needs the real {top!r} package (pip install -e '.[dev]')")
        if top in ("musubi_tuner", "library", "networks") or (top in sys.modules and not isinstance(sys.modules[top], StubModule)):
            return None  # the trainer's own code, and submodules of real packages, import for real
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)


def install() -> None:
    sys.meta_path.insert(0, _Finder())
    sys.meta_path.append(_MissingFinder())
