"""The gate ledger: verdicts with fingerprints, staleness, and the refusal that names the gate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from loragate.cli.nextstep import command_line
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding
from loragate.gates.fingerprint import fingerprint_dataset
from loragate.gates.ledger import gate_status, read_ledger, record_gate, require_all_gates


def _dataset(root: Path) -> Path:
    data = root / "data"
    data.mkdir()
    (data / "a.png").write_bytes(b"png-bytes")
    (data / "a.txt").write_text("mira, a portrait")
    return data


def test_caption_edit_makes_gate_one_stale(workspace: Path) -> None:
    data = _dataset(workspace)
    record_gate("p", 1, "GO", {"dataset": str(data), "caption_extension": ".txt"})
    assert gate_status("p").gates[0].current
    before = (data / "a.txt").stat()
    (data / "a.txt").write_text("mira, a portrait!")
    os.utime(data / "a.txt", ns=(before.st_atime_ns, before.st_mtime_ns))  # editors may keep mtime
    state = gate_status("p").gates[0]
    assert not state.current and "stale" in (state.problem or "")


def test_file_in_linked_folder_inside_counts_outside_is_never_read_and_loops_end(workspace: Path) -> None:
    data = _dataset(workspace)
    inner = data / "more"
    inner.mkdir()
    (inner / "b.txt").write_text("mira, b")
    (data / "linked").symlink_to(inner, target_is_directory=True)
    (inner / "loop").symlink_to(data, target_is_directory=True)
    outside = workspace / "private"
    outside.mkdir()
    (outside / "c.txt").write_text("secret")
    (data / "up").symlink_to(outside, target_is_directory=True)
    first = fingerprint_dataset(data)
    (inner / "b.txt").write_text("mira, b changed")
    assert fingerprint_dataset(data) != first
    second = fingerprint_dataset(data)
    (outside / "c.txt").write_text("changed, but outside the dataset: never read")
    assert fingerprint_dataset(data) == second


def test_no_go_and_missing_gates_refuse_launch_with_the_command(workspace: Path) -> None:
    data = _dataset(workspace)
    record_gate(
        "p", 1, "NO-GO", {"dataset": str(data)},
        findings=[Finding(code="DS_TRIGGER_MISSING", severity="block",
                          message="3 captions lack the trigger word 'mira' (a.txt, b.txt, c.txt). Without it the "
                                  "LoRA cannot be called up.")],
    )
    with pytest.raises(LoragateError) as err:
        require_all_gates("p")
    # the reason in words, naming the files, not the bare code
    assert "said NO-GO: 3 captions lack the trigger word 'mira' (a.txt, b.txt, c.txt)." in err.value.message
    assert "DS_TRIGGER_MISSING" not in err.value.message
    assert err.value.next is not None and err.value.next.action == "audit_dataset"
    assert command_line(err.value.next) == f"loragate audit {data} --name p"
    assert not gate_status("p").ready


def test_damaged_ledger_is_reported_not_crashed(workspace: Path) -> None:
    record_gate("p", 3, "GO", {"machine": "local"})
    path = workspace / "grimoire" / "training" / "p" / "gates.json"
    path.write_text("{ not json")
    with pytest.raises(LoragateError, match="damaged"):
        read_ledger("p")


def test_history_keeps_every_verdict(workspace: Path) -> None:
    data = _dataset(workspace)
    record_gate("p", 1, "NO-GO", {"dataset": str(data)})
    record_gate("p", 1, "GO", {"dataset": str(data)})
    ledger = json.loads((workspace / "grimoire" / "training" / "p" / "gates.json").read_text())
    assert [r["verdict"] for r in ledger["history"]] == ["NO-GO", "GO"]
    assert ledger["latest"]["dataset"]["verdict"] == "GO"


def test_hostile_project_names_are_refused(workspace: Path) -> None:
    for name in ("../x", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(LoragateError):
            gate_status(name)


def test_unknown_project_is_named_not_shown_as_four_missing_gates(workspace: Path) -> None:
    with pytest.raises(LoragateError, match="no project 'nope'"):
        gate_status("nope")


def test_a_ledger_written_with_gate_numbers_still_reads(workspace: Path) -> None:
    data = _dataset(workspace)
    record_gate("p", "dataset", "GO", {"dataset": str(data), "caption_extension": ".txt"})
    path = workspace / "grimoire" / "training" / "p" / "gates.json"
    old = json.loads(path.read_text())
    record = old["latest"].pop("dataset")
    record.pop("name")
    old["latest"]["1"] = record  # as loragate wrote it before gates had names
    old["history"] = [record]
    path.write_text(json.dumps(old))
    ledger = read_ledger("p")
    assert list(ledger.latest) == ["dataset"] and ledger.history[0].name == "dataset"
    assert gate_status("p").gates[0].current
    record_gate("p", 2, "NO-GO", {"plan": str(workspace / "plan.json")})  # numbers still name gates
    assert set(json.loads(path.read_text())["latest"]) == {"dataset", "config"}


def test_a_new_gate_is_one_registration(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.gates import registry
    from loragate.core.nextstep import step

    registry.gates()  # the standard four, the evaluation and the spend gate, registered
    monkeypatch.setattr(registry, "_GATES", dict(registry._GATES))
    registry.register_gate(registry.Gate(key="review", number=6, title="review", required_for_launch=False,
                                         next_step=lambda p, _plan, _rec: step("monitor", project=p)))
    data = _dataset(workspace)
    for gate in (1, 2, 3, 4):
        record_gate("p", gate, "GO", {"dataset": str(data)})
    status = gate_status("p")
    review = next(s for s in status.gates if s.key == "review")
    assert [s.key for s in status.gates][-2:] == ["review", "spend"]  # numbered first, then the gate without a number
    assert review.problem == "Gate 6 (review) has not been run."
    assert status.ready  # the launch gates are unchanged by it
    record_gate("p", "review", "GO", {"dataset": str(data)})
    assert next(s for s in gate_status("p").gates if s.key == "review").current
