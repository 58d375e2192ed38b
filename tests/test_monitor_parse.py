"""The log parser reads the trainers' real formats, incrementally, whatever the chunking."""

from __future__ import annotations

import os
from pathlib import Path

from loragate.runs.logparse import LogParser, split_segments
from loragate.runs.logtail import poll_log
from tests.monitor_helpers import FIXTURES, fixture_log, tqdm


def parse_all(data: bytes):
    parser = LogParser()
    segments, rest = split_segments(data + b"\n")
    parser.feed_segments(segments)
    return parser.facts


def test_musubi_log_steps_epochs_checkpoints_and_final_save(tmp_path: Path) -> None:
    facts = parse_all(fixture_log("musubi-complete.log", tmp_path / "t.log", tmp_path / "out").read_bytes())
    assert (facts.step, facts.total_steps, facts.epoch, facts.total_epochs) == (12, 12, 4, 4)
    assert [Path(p).name for p in facts.saved] == [
        "mylora-000001.safetensors", "mylora-000002.safetensors", "mylora-000003.safetensors", "mylora.safetensors"]
    assert facts.model_saved and facts.exception is None
    assert [s for s, _ in facts.losses] == list(range(1, 13))  # one \r-separated update per step
    assert facts.loss == facts.losses[-1][1]


def test_oom_traceback_is_the_cause_not_accelerates_wrapper() -> None:
    facts = parse_all((FIXTURES / "musubi-oom.log").read_bytes())
    assert facts.oom and facts.oom.startswith("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.27 GiB.")
    assert facts.exception == facts.oom
    assert facts.launcher_error.startswith("subprocess.CalledProcessError:")
    assert facts.step == 3 and abs(facts.rate - 1 / 21.9) < 0.01  # "21.90s/it" is a rate below one step per second


def test_ansi_codes_are_ignored() -> None:
    facts = parse_all((FIXTURES / "sdxl-ansi-complete.log").read_bytes())
    assert facts.step == 40 and facts.model_saved and facts.epoch == 2
    assert facts.saved[-1].endswith("style.safetensors")


def test_nan_is_noted_at_the_step_it_appears() -> None:
    facts = parse_all((FIXTURES / "musubi-nan.log").read_bytes())
    assert facts.nan_at_step == 6


def test_sdscripts_no_data_and_assertion() -> None:
    assert "No data found" in parse_all((FIXTURES / "sdscripts-no-data.log").read_bytes()).no_data
    facts = parse_all((FIXTURES / "sdxl-assert.log").read_bytes())
    assert facts.exception.startswith("AssertionError: network for Text Encoder cannot be trained")


def test_a_new_attempt_in_the_same_log_clears_the_old_failure() -> None:
    data = (FIXTURES / "musubi-oom.log").read_bytes() + (
        "running training / 学習開始\n" + tqdm(1, 96, 0.1) + tqdm(2, 96, 0.09)).encode()
    facts = parse_all(data)
    assert facts.oom is None and facts.exception is None and facts.step == 2 and facts.restarts == 1


def test_any_chunking_gives_the_same_facts(tmp_path: Path) -> None:
    """Appending the log a few bytes at a time (cutting tqdm lines and UTF-8 characters in
    half) and polling after each append ends with the same facts as one read."""
    data = fixture_log("musubi-complete.log", tmp_path / "src.log", tmp_path / "out").read_bytes()
    whole = poll_log(tmp_path / "src.log", None).state.facts
    log = tmp_path / "grow.log"
    log.write_bytes(b"")
    state = None
    for start in range(0, len(data), 37):
        with open(log, "ab") as handle:
            handle.write(data[start : start + 37])
        state = poll_log(log, state).state
    got = state.facts
    assert (got.step, got.epoch, got.saved, got.model_saved, got.losses) == (whole.step, whole.epoch, whole.saved, whole.model_saved, whole.losses)


def test_partial_last_line_shows_the_current_step(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text("running training / 学習開始\n" + tqdm(1, 10, 0.2) + tqdm(2, 10, 0.19), encoding="utf-8")
    state = poll_log(log, None).state
    assert state.facts.step == 2  # tqdm's newest status has no line end yet
    assert state.partial  # kept to be completed by the next poll


def test_second_poll_reads_only_new_bytes(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text("".join(tqdm(n, 100, 0.1) for n in range(1, 50)), encoding="utf-8")
    first = poll_log(log, None)
    assert first.bytes_read == log.stat().st_size
    added = "".join(tqdm(n, 100, 0.1) for n in range(50, 53)).encode()
    with open(log, "ab") as handle:
        handle.write(added)
    second = poll_log(log, first.state)
    assert second.bytes_read == len(added) and second.state.facts.step == 52
    assert poll_log(log, second.state).bytes_read == 0


def test_truncated_log_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text("".join(tqdm(n, 100, 0.1) for n in range(1, 60)) + "\n", encoding="utf-8")
    state = poll_log(log, None).state
    log.write_text("running training / 学習開始\n" + tqdm(3, 50, 0.2) + "\n", encoding="utf-8")
    again = poll_log(log, state)
    assert again.reset == "the log was truncated"
    assert (again.state.facts.step, again.state.facts.total_steps) == (3, 50)


def test_rotated_log_is_noticed_by_its_inode(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("".join(tqdm(n, 100, 0.1) for n in range(1, 20)) + "\n", encoding="utf-8")
    state = poll_log(log, None).state
    os.rename(log, tmp_path / "train.1.log")
    log.write_text("".join(tqdm(n, 40, 0.3) for n in range(1, 30)) + "\n", encoding="utf-8")  # larger than before
    again = poll_log(log, state)
    assert again.reset == "the log was replaced by a new file"
    assert (again.state.facts.step, again.state.facts.total_steps) == (29, 40)


def test_log_rewritten_in_place_is_noticed_by_its_first_bytes(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text("first run\n" + tqdm(5, 100, 0.1) + "\n", encoding="utf-8")
    state = poll_log(log, None).state
    with open(log, "r+b") as handle:  # same inode, longer, different start
        handle.write(("other run\n" + tqdm(7, 30, 0.1) + tqdm(8, 30, 0.1) + "\n").encode())
    again = poll_log(log, state)
    assert again.reset == "the log was rewritten" and again.state.facts.total_steps == 30


def test_a_100_mb_log_is_not_read_again_on_the_next_poll(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    line = tqdm(1, 10**6, 0.0812).encode()
    block = line * (1024 * 1024 // len(line) + 1)
    with open(log, "wb") as handle:
        for _ in range(100):
            handle.write(block)
    size = log.stat().st_size
    assert size >= 100 * 1024 * 1024
    first = poll_log(log, None)
    assert first.state.offset + len(first.state.partial and __import__("base64").b64decode(first.state.partial)) == size
    tail = (tqdm(2, 10**6, 0.0799) + "\n").encode()
    with open(log, "ab") as handle:
        handle.write(tail)
    second = poll_log(log, first.state)
    assert second.bytes_read == len(tail) and second.state.facts.step == 2 and second.reset is None
