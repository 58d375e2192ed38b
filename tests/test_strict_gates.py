"""The gates cannot be walked past: each verdict covers everything it judged, a plan says exactly
what it means or is refused, and an unforeseen error is a bug report, never a NO-GO."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from loragate.catalog.models import family_ids, get_family
from loragate.catalog.optimizers import judge_lr
from loragate.catalog.presets import get_preset
from loragate.cli import app
from loragate.cli.nextstep import command_line
from loragate.dataset.audit import audit_dataset
from loragate.gates.ledger import gate_status, read_ledger, record_gate
from loragate.core.plan import TrainingPlan
from loragate.plan.store import plan_path, save_plan
from loragate.validate import validate_commands
from tests.plan_helpers import flat_dataset
from tests.runs_fixtures import pass_gates, wan_plan

runner = CliRunner()


def _plan_new(data: Path, *extra: str) -> Result:
    return runner.invoke(app, ["plan", "new", "mira", "--model", "sdxl", "--dataset", str(data), "--trigger", "mira",
                               "--gpu-gb", "24", *extra])


# --- Gate 1 covers the trigger, model and type it checked --------------------------------------

def test_an_audit_without_a_trigger_does_not_pass_a_plan_with_one(workspace: Path) -> None:
    data = flat_dataset(workspace)
    for caption in data.glob("*.txt"):
        caption.write_text("a woman in a red coat", encoding="utf-8")  # no trigger word anywhere
    assert audit_dataset(data, model="sdxl", name="mira").verdict == "GO"
    assert _plan_new(data).exit_code == 0  # Gate 2 judges the settings, not the captions
    state = gate_status("mira").gates[0]
    assert state.verdict == "GO" and not state.current
    assert state.problem == ("Gate 1 (dataset) checked the captions without a trigger word, but the plan trains with "
                             "'mira': nobody has checked that every caption contains 'mira'.")
    assert state.next.action == "audit_dataset" and state.next.args["trigger"] == "mira"
    shown = runner.invoke(app, ["gates", "mira"], env={"COLUMNS": "300"})
    assert shown.exit_code == 1
    assert "without a trigger word" in shown.stdout
    assert "Run: loragate audit" in shown.stdout and "--model sdxl --type character --name mira" in shown.stdout
    assert command_line(state.next) == f"loragate audit {data} --trigger mira --model sdxl --type character --name mira"
    # the audit the status names fails on these captions, as it must
    assert audit_dataset(data, trigger="mira", model="sdxl", training_type="character", name="mira").verdict == "NO-GO"


def test_an_audit_for_another_model_does_not_pass_the_plan(workspace: Path) -> None:
    data = flat_dataset(workspace)
    audit_dataset(data, trigger="mira", model="sd15", name="mira")
    assert _plan_new(data).exit_code == 0
    problem = gate_status("mira").gates[0].problem or ""
    assert "checked for the model 'sd15', but the plan's model is 'sdxl'" in problem
    audit_dataset(data, trigger="mira", model="sdxl", name="mira")
    assert gate_status("mira").gates[0].current  # an audit without a type stands for any type


# --- Gate 3 covers the plan facts it read ------------------------------------------------------

@pytest.mark.parametrize("change,part", [
    (lambda p: setattr(p.schedule, "max_train_epochs", p.schedule.max_train_epochs * 4), "disk needs"),
    (lambda p: setattr(p.schedule, "save_every_n_epochs", p.schedule.save_every_n_epochs + 1), "disk needs"),
    (lambda p: setattr(p.network, "dim", 128), "disk needs"),
    (lambda p: setattr(p, "output_dir", "/elsewhere/out"), "disk needs"),
    (lambda p: setattr(p.weights, "vae", "/models/other_vae.safetensors"), "model files the plan names"),
    (lambda p: setattr(p.memory, "blocks_to_swap", 20), "memory settings"),
])
def test_gate_3_goes_stale_when_the_plan_facts_it_judged_change(workspace: Path, change: Callable[[TrainingPlan], None], part: str) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    assert gate_status("mira").ready
    change(plan)
    save_plan(plan, workspace)
    state = gate_status("mira").gates[2]
    assert not state.current and part in (state.problem or "") and "machine" not in (state.problem or "")
    assert state.next.action == "validate_env"


def test_gate_3_stays_current_when_only_the_learning_rate_changes(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    plan.optimizer.learning_rate = plan.optimizer.learning_rate / 2
    save_plan(plan, workspace)
    assert gate_status("mira").gates[2].current  # Gate 3 never read it; Gate 2 and 4 did
    assert not gate_status("mira").gates[1].current


def test_gate_3_says_so_when_the_plan_it_judged_cannot_be_read(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    data = json.loads(plan_path("mira").read_text())
    data["network"]["dimm"] = 3
    plan_path("mira").write_text(json.dumps(data))
    assert gate_status("mira").gates[2].problem == (
        "Gate 3 (environment) is stale: the plan it judged cannot be read now (checking the plan says why).")


def test_gate_3_goes_stale_when_a_weight_file_is_replaced(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    Path(plan.weights.vae or "").write_bytes(b"another file")
    assert "model files" in (gate_status("mira").gates[2].problem or "")


# --- plan.json is strict ------------------------------------------------------------------------

def test_a_typo_in_plan_json_is_an_error_naming_key_and_file_and_nothing_is_rewritten(workspace: Path) -> None:
    assert _plan_new(flat_dataset(workspace)).exit_code == 0
    path = plan_path("mira")
    data = json.loads(path.read_text())
    data["network"]["dimm"] = 128
    path.write_text(json.dumps(data, indent=2))
    before = path.read_bytes()
    result = runner.invoke(app, ["plan", "check", "mira"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "'network.dimm' is not a plan setting" in result.stderr and str(path) in result.stderr
    assert "dim" in result.stderr  # the settings network does have
    assert path.read_bytes() == before
    assert read_ledger("mira").latest["config"].verdict == "GO"  # the old verdict, not a new GO
    assert not gate_status("mira").gates[1].current


@pytest.mark.parametrize("rank", ["-4", "0"])
def test_a_rank_below_one_is_a_plain_error(workspace: Path, rank: str) -> None:
    result = _plan_new(flat_dataset(workspace), "--rank", rank)
    assert result.exit_code == 2, result.output
    assert f"rank must be at least 1 (got {rank})" in " ".join(result.stderr.split()) and "Traceback" not in result.output
    assert not plan_path("mira").exists()


def test_bounds_hold_for_hand_edited_plans(workspace: Path) -> None:
    assert _plan_new(flat_dataset(workspace)).exit_code == 0
    path = plan_path("mira")
    data = json.loads(path.read_text())
    data["optimizer"]["learning_rate"] = -1
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["plan", "check", "mira"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "'optimizer.learning_rate' is wrong" in result.stderr


# --- learning rates are judged against the sourced ranges ---------------------------------------

def test_plan_new_with_a_learning_rate_of_5_is_no_go_with_the_source(workspace: Path) -> None:
    result = _plan_new(flat_dataset(workspace), "--lr", "5", "--json")
    assert result.exit_code == 1
    gate2 = json.loads(result.stdout)["gate2"]
    finding = next(f for f in gate2["findings"] if f["code"] == "LR_OUT_OF_RANGE")
    assert finding["severity"] == "block" and "too high" in finding["message"]
    assert "SDS" in finding["evidence"]["source"] and finding["evidence"]["source"] in finding["message"]


def test_a_script_with_learning_rate_5_is_blocked_and_one_slightly_high_is_warned(tmp_path: Path) -> None:
    base = ["accelerate", "launch", "sdxl_train_network.py", "--pretrained_model_name_or_path", "sd_xl_base_1.0.safetensors",
            "--network_module", "networks.lora", "--network_dim", "32", "--network_alpha", "32", "--optimizer_type", "AdamW8bit"]
    high = validate_commands([base + ["--learning_rate", "5"]], {}, check_paths=False).findings
    assert [f.severity for f in high if f.code == "LR_OUT_OF_RANGE"] == ["block"]
    slightly = validate_commands([base + ["--learning_rate", "8e-4"]], {}, check_paths=False).findings
    assert [f.severity for f in slightly if f.code == "LR_OUT_OF_RANGE"] == ["warn"]
    fine = validate_commands([base + ["--learning_rate", "1e-4"]], {}, check_paths=False).findings
    assert not [f for f in fine if f.code == "LR_OUT_OF_RANGE"]


def test_every_preset_learning_rate_lies_in_its_sourced_range() -> None:
    for family in family_ids():
        for kind in ("character", "style", "object"):
            for level in ("quick", "standard", "thorough"):
                p = get_preset(family, kind, level)
                if p.optimizer.lower().startswith("prodigy"):
                    continue
                judged = judge_lr(p.optimizer, get_family(family).tuning, p.learning_rate, p.alpha, p.rank)
                assert judged is None, (family, kind, level, judged)


# --- an unforeseen error is a bug, exit 2 -------------------------------------------------------

def test_an_unexpected_exception_exits_2_and_asks_for_a_bug_report(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.gates import ledger

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ledger, "gate_status", broken)
    monkeypatch.setattr("loragate.cli.commands.gates.gate_status", broken)
    record_gate("p", "config", "GO", {"plan": str(workspace / "nothing.json")})
    result = runner.invoke(app, ["gates", "p"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "this is a bug in loragate" in result.stderr and "Please report it at" in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_a_usage_mistake_is_not_reported_as_a_bug(workspace: Path) -> None:
    result = runner.invoke(app, ["plan", "new", "x", "--model"])
    assert result.exit_code == 2 and "requires an argument" in result.output
    assert "bug in loragate" not in result.output
