"""What a weights file name says about the model: Wan version, task kind, size, expert, dtype.

Released files name all of these (wan2.2_i2v_high_noise_14B_fp16.safetensors); the validator judges
the task flag and precision from the name, Gate 3 confirms from the file header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loragate.catalog.models import variant_by_file_name

_VERSION = (("2.2", re.compile(r"wan[ _.-]?2[._-]?2|a14b|high[_-]?noise|low[_-]?noise|ti2v", re.I)),
            ("2.1", re.compile(r"wan[ _.-]?2[._-]?1", re.I)))
_KIND = (("flf2v", re.compile(r"flf2v", re.I)), ("ti2v", re.compile(r"ti2v", re.I)),
         ("i2v", re.compile(r"i2v", re.I)), ("t2v", re.compile(r"t2v", re.I)), ("t2i", re.compile(r"t2i", re.I)))
_SIZE = (("1.3B", re.compile(r"1[._-]3b", re.I)), ("5B", re.compile(r"(?<![\d.])5b", re.I)),
         ("14B", re.compile(r"14b", re.I)))
_EXPERT = (("high", re.compile(r"high[_-]?noise", re.I)), ("low", re.compile(r"low[_-]?noise", re.I)))
_DTYPE = (("fp8_scaled", re.compile(r"fp8[\w.-]*scaled|scaled[\w.-]*fp8", re.I)),
          ("fp8", re.compile(r"fp8|e4m3|e5m2", re.I)), ("bf16", re.compile(r"bf16", re.I)),
          ("fp16", re.compile(r"fp16|half", re.I)), ("fp32", re.compile(r"fp32", re.I)))


def _first(patterns: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str | None:
    return next((label for label, pattern in patterns if pattern.search(text)), None)


@dataclass(frozen=True)
class WeightsName:
    file: str
    version: str | None
    kind: str | None
    size: str | None
    expert: str | None
    dtype: str | None

    def family_id(self) -> str | None:
        """The catalog family the file belongs to, when the name says enough."""
        if self.version == "2.2" and self.kind in ("t2v", "i2v") and self.size in (None, "14B"):
            return f"wan2.2-{self.kind}-a14b"
        if self.version == "2.1" or (self.version is None and self.kind is not None):
            if self.kind == "flf2v":
                return "wan2.1-flf2v-14b"
            if self.kind == "i2v":
                return "wan2.1-i2v-14b"
            if self.kind in ("t2v", "t2i"):
                return "wan2.1-t2v-1.3b" if self.size == "1.3B" else ("wan2.1-t2v-14b" if self.size == "14B" else None)
        return None


def read_weights_name(path: str) -> WeightsName:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return WeightsName(file=name, version=_first(_VERSION, name), kind=_first(_KIND, name), size=_first(_SIZE, name),
                       expert=_first(_EXPERT, name), dtype=_first(_DTYPE, name))


def sdxl_variant(model_path: str) -> str:
    """Pony, Illustrious and the other SDXL checkpoints caption differently (catalog notes), and a v-prediction
    one (NoobAI-XL V-Pred) trains differently: the released name says which (models.toml file_name_patterns)."""
    return variant_by_file_name("sdxl", model_path)


def sd3_variant(model_path: str) -> str:
    """sd3_train_network.py trains both SD 3.5 models; the released names say which."""
    return variant_by_file_name("sd3.5-large", model_path)
