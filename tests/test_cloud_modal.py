"""The generated Modal app is imported and its objects built with the real `modal` package, offline."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from loragate.cloud.modal_app import write_modal_app
from loragate.cloud.modal_run import ModalStep
from loragate.core.errors import LoragateError
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


def _step(name: str, code: str) -> ModalStep:
    return ModalStep(name=name, argv=[sys.executable, "-c", code])


def test_modal_run_checks_and_caches_first_then_trains_both_experts_at_once(workspace: Path) -> None:
    from loragate.cloud.modal_run import modal_status, run_steps
    from loragate.workspace import project_dir

    project_dir("mira", create=True)
    marks = workspace / "marks"
    marks.mkdir()
    # each expert waits until the other has started: they only finish if they run at the same time
    wait_for = "import pathlib,sys,time; m=pathlib.Path({m!r}); (m/'{me}').touch(); t=time.time()+20\n" \
               "while not (m/'{other}').exists():\n    time.sleep(0.05)\n    if time.time()>t: sys.exit(3)\n"
    steps = [_step("upload dataset", "pass"), _step("check", "pass"), _step("cache", "pass"),
             _step("run_high", wait_for.format(m=str(marks), me="high", other="low")),
             _step("run_low", wait_for.format(m=str(marks), me="low", other="high"))]
    state = run_steps("mira", steps)
    assert state.status == "complete" and [s.exit_code for s in state.steps] == [0, 0, 0, 0, 0]
    assert modal_status("mira").status == "complete" and "modal pull" in state.message


def test_modal_run_stops_at_the_first_failed_step(workspace: Path) -> None:
    from loragate.cloud.modal_run import run_steps
    from loragate.workspace import project_dir

    project_dir("mira", create=True)
    steps = [_step("check", "import sys; sys.exit(1)"), _step("cache", "pass"), _step("run_high", "pass")]
    state = run_steps("mira", steps)
    assert state.status == "failed" and "check" in state.message
    assert [s.exit_code for s in state.steps] == [1, None, None]
