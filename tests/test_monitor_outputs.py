"""What the monitor leaves for people: checkpoint retention with pins, progress.md, the loss plot,
and the TensorBoard scalars it reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.runs.monitor import monitor
from loragate.runs.retention import pin_checkpoint, project_checkpoints, prune_checkpoints
from tests.monitor_helpers import fixture_log, make_job, tqdm, train_argv, write_lora


def _outputs(out: Path) -> None:
    t = time.time() - 1000
    names = [f"mylora-{e:06d}" for e in range(1, 6)] + ["mylora-step00000500", "mylora"]
    for i, name in enumerate(names):
        path = write_lora(out / f"{name}.safetensors")
        os.utime(path, (t + i, t + i))
    (out / "notes.txt").write_text("not a checkpoint")
    write_lora(out / "otherlora-000001.safetensors")


def test_retention_keeps_last_three_final_and_pins(workspace: Path) -> None:
    out = workspace / "out"
    _outputs(out)
    make_job("p", [], output_dir=out)
    listing = project_checkpoints("p")
    assert [c.file for c in listing.checkpoints][-1] == "mylora.safetensors"
    assert "otherlora-000001.safetensors" not in {c.file for c in listing.checkpoints}
    assert listing.prunable == ["mylora-000001.safetensors", "mylora-000002.safetensors", "mylora-000003.safetensors"]

    pin_checkpoint("p", "mylora-000002.safetensors")
    with pytest.raises(LoragateError, match="not a checkpoint"):
        pin_checkpoint("p", "nope.safetensors")
    pruned = prune_checkpoints("p")
    assert pruned.removed == ["mylora-000001.safetensors", "mylora-000003.safetensors"]
    left = sorted(p.name for p in out.iterdir())
    assert left == ["mylora-000002.safetensors", "mylora-000004.safetensors", "mylora-000005.safetensors",
                    "mylora-step00000500.safetensors", "mylora.safetensors", "notes.txt", "otherlora-000001.safetensors"]
    assert prune_checkpoints("p").removed == []  # nothing more to remove: pins, last three and final stay


def test_retention_keeps_the_last_three_of_each_expert(workspace: Path) -> None:
    """Two Wan 2.2 experts are two LoRAs saved side by side: each keeps its own last three."""
    out = workspace / "out"
    t = time.time() - 1000
    for epoch in range(1, 5):
        for k, expert in enumerate(("low", "high")):
            path = write_lora(out / f"wan_{expert}-{epoch:06d}.safetensors")
            os.utime(path, (t + 2 * epoch + k, t + 2 * epoch + k))
    make_job("p", [], output_dir=out, output_names=["wan_high", "wan_low"])
    listing = project_checkpoints("p")
    assert sorted(listing.prunable) == ["wan_high-000001.safetensors", "wan_low-000001.safetensors"]
    assert {c.lora for c in listing.checkpoints} == {"wan_high", "wan_low"}


def test_monitor_lists_but_never_deletes(workspace: Path) -> None:
    out = workspace / "out"
    _outputs(out)
    log = fixture_log("musubi-complete.log", workspace / "grimoire/training/p/train.log", out)
    make_job("p", [{"role": "train", "argv": train_argv(out), "log": str(log), "status": "succeeded", "exit_code": 0}], status="complete", output_dir=out)
    before = sorted(p.name for p in out.iterdir())
    r = monitor("p")
    assert sorted(p.name for p in out.iterdir()) == before
    assert len(r.prunable) == 3 and len(r.checkpoints) == 7
    text = Path(r.progress_md).read_text(encoding="utf-8")
    assert "loragate checkpoints p --prune" in text and "| mylora.safetensors | final |" in text


def test_progress_md_and_plot_are_written_and_kept_current(workspace: Path) -> None:
    folder = workspace / "grimoire/training/p"
    log = folder / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("running training / 学習開始\n\nepoch 1/4\n" + "".join(tqdm(n, 100, 0.1 - n / 2000) for n in range(1, 26)), encoding="utf-8")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": os.getpid(), "status": "running"}],
             events=["Out of memory: retrying with 20 blocks swapped to the CPU."])
    r = monitor("p")
    progress = folder / "progress.md"
    text = progress.read_text(encoding="utf-8")
    assert r.progress_md == str(progress)
    assert "**Status: RUNNING**" in text and "- Step: 25/100 (25 %)" in text and "- Epoch: 1/4" in text
    assert "retrying with 20 blocks swapped" in text and "![loss curve](loss.png)" in text
    png = folder / "loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stamp = png.stat().st_mtime_ns

    monitor("p")  # nothing new: the plot is not redrawn
    assert png.stat().st_mtime_ns == stamp
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(tqdm(26, 100, 0.08))
    r = monitor("p")
    assert r.step == 26 and png.stat().st_mtime_ns == stamp  # new data, but drawn less than a minute ago
    old = time.time() - 120
    os.utime(png, (old, old))
    stamp = png.stat().st_mtime_ns
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(tqdm(27, 100, 0.08))
    r = monitor("p")
    assert r.step == 27 and png.stat().st_mtime_ns != stamp
    assert "- Step: 27/100" in progress.read_text(encoding="utf-8")
    state = folder / "monitor-state.json"
    assert state.is_file() and str(log) in state.read_text(encoding="utf-8")


def test_tensorboard_scalars_feed_the_anomalies(workspace: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logging_dir = workspace / "tb"
    run = logging_dir / "20260101120000" / "network_train"
    run.mkdir(parents=True)
    writer = EventFileWriter(str(run))
    for step in range(1, 31):
        loss = float("nan") if step >= 25 else 0.1
        values = [Summary.Value(tag="loss/current", simple_value=loss), Summary.Value(tag="lr/unet", simple_value=1e-4)]
        writer.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=values)))
    writer.close()

    from loragate.runs.tbevents import read_scalars

    scalars = read_scalars(logging_dir)
    assert len(scalars.series["loss/current"]) == 30 and scalars.lr == {"lr/unet": pytest.approx(1e-4)}

    folder = workspace / "grimoire/training/p"
    log = folder / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(tqdm(n, 100, 0.1) for n in range(1, 31)), encoding="utf-8")  # avr_loss still finite
    argv = train_argv(workspace / "out", "mylora", "--logging_dir", str(logging_dir))
    make_job("p", [{"role": "train", "argv": argv, "log": str(log), "pid": os.getpid(), "status": "running"}])
    r = monitor("p")
    assert r.status == "FAILED" and "NaN at step 25" in r.cause
    assert "scalars" in r.streams[0].tensorboard
