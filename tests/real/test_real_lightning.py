"""musubi-tuner's own --base_weights merge, run for real on a small WanModel: a Lightning LoRA in
musubi's naming changes the expert; the same LoRA in the release's naming changes nothing and
raises no error. loragate's header reading must tell the two apart the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loragate.lightning.files import inspect_lightning
from loragate.runs.quiet import quiet_findings
from tests.real.realkit import build

pytestmark = pytest.mark.real_trainer


def test_base_weights_merges_only_musubi_naming(musubi: Path, tmp_path: Path) -> None:
    output = build(musubi, "lightning_merge.py", str(tmp_path)).strip().splitlines()
    merged = json.loads(output[-1])
    assert merged["musubi"] == {**merged["musubi"], "changed": True, "layers": 1}
    assert merged["release"] == {**merged["release"], "changed": False, "layers": 0}  # the silent no-op
    assert inspect_lightning(Path(merged["musubi"]["file"])).key_format == "lora_unet"
    assert inspect_lightning(Path(merged["release"]["file"])).key_format == "release"
    # the dry run and the monitor read the no-op from the trainer's own log line
    assert [f.code for f in quiet_findings(output, "DRY")] == ["DRY_NOTHING_MERGED"]
