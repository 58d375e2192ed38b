"""The generated Modal app is imported and its objects built with the real `modal` package, offline."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from loragate.cloud.modal_app import write_modal_app
from loragate.errors import LoragateError
from tests.cloud_fixtures import make_plan

modal = pytest.importorskip("modal", reason="the modal package is in the `cloud` extra: pip install -e '.[cloud]'")


def _import(path: Path):
    spec = importlib.util.spec_from_file_location("generated_modal_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generated_modal_app"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("generated_modal_app", None)
    return module


def test_wan22_app_has_one_function_per_stage_and_per_expert(workspace: Path) -> None:
    make_plan(workspace, model="wan2.2-t2v-a14b", platform="modal")
    written = write_modal_app("mira", gpu="A100-80GB")
    assert written.functions == ["check", "cache", "run_high", "run_low"] and written.gpu == "A100-80GB"
    text = Path(written.path).read_text()
    assert "Mount" not in text and "add_local_dir" in text and "create_if_missing=True" in text and "volume.commit()" in text

    app_module = _import(Path(written.path))
    app = app_module.app
    assert isinstance(app, modal.App) and app.name == "loragate-mira"
    for name in ("check", "cache", "run_high", "run_low"):
        function = getattr(app_module, name)
        assert isinstance(function, modal.Function)
        # the spec modal builds from the decorator (a private field: modal has no public accessor offline)
        assert function._spec_.gpus == "A100-80GB" and list(function._spec_.volumes) == ["/vol"]
    assert isinstance(app_module.volume, modal.Volume) and isinstance(app_module.image, modal.Image)
    # both experts train with their own command: the high-noise one on the high-noise weights
    plan = json.loads((workspace / "grimoire" / "training" / "mira" / "plan.json").read_text())
    high = next(c for c in plan["commands"] if c.get("expert") == "high")
    assert repr(high["argv"]) in text
    # the training timeout comes from the estimate, never above Modal's 24 hours
    assert 0 < written.timeouts_s["run_high"] <= 24 * 3600 and written.timeouts_s["run_high"] == written.timeouts_s["run_low"]
    assert f"timeout={written.timeouts_s['run_high']}" in text
    assert written.commands[-1].endswith("::run_low")


def test_default_gpu_is_the_cheapest_modal_card_the_plan_fits_and_a_small_one_is_refused(workspace: Path) -> None:
    make_plan(workspace, model="wan2.2-t2v-a14b", platform="modal")
    chosen = write_modal_app("mira")
    assert chosen.gpu in ("L40S", "A100-80GB", "H100")  # Wan 14B with the margin needs a 48 GB card or larger
    with pytest.raises(LoragateError, match="needs"):
        write_modal_app("mira", gpu="T4")


def test_a_plan_for_another_platform_is_refused(workspace: Path) -> None:
    make_plan(workspace, platform="runpod")
    with pytest.raises(LoragateError, match="--platform modal"):
        write_modal_app("mira")
