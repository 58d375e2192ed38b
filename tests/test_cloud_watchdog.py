"""The watchdog on the pod, on a clock the test turns: cap, results pulled, idle; it ends the pod
through the provider's API and says why in progress.md."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from loragate.cloud.sync import PULLED_MARK
from loragate.cloud.watchdog import WatchFacts, decide, watch
from loragate.runs.job import Job, write_job
from loragate.workspace import project_dir
from tests.cloud_fixtures import cloud_env  # noqa: F401 - fixture

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def facts(**kw: object) -> WatchFacts:
    base: dict[str, object] = {"now": T0 + timedelta(hours=1), "started_at": T0, "usd_per_hour": 2.0, "cap_usd": 10.0,
                               "training_active": True, "last_activity": T0}
    base.update(kw)
    return WatchFacts(**base)  # type: ignore[arg-type]


def test_decide_keeps_a_working_pod_and_ends_at_the_cap() -> None:
    assert decide(facts(), 30).action == "keep"
    at_cap = decide(facts(now=T0 + timedelta(hours=5)), 30)
    assert at_cap.action == "end" and "spend cap of $10.00" in at_cap.reason and at_cap.spent_usd == pytest.approx(10.0)


def test_decide_ends_when_training_ended_and_results_pulled_after_it() -> None:
    ended = T0 + timedelta(minutes=50)
    kw: dict[str, object] = {"training_active": False, "training_ended_at": ended, "last_activity": ended}
    assert decide(facts(**kw, pulled_at=None), 30).action == "keep"
    # a pull from before the end does not count: the final LoRA is not home yet
    assert decide(facts(**kw, pulled_at=ended - timedelta(minutes=5)), 30).action == "keep"
    done = decide(facts(**kw, pulled_at=ended + timedelta(minutes=2)), 30)
    assert done.action == "end" and "pulled" in done.reason


def test_decide_ends_an_idle_pod_but_never_one_that_trains() -> None:
    quiet = T0 + timedelta(minutes=20)
    assert decide(facts(training_active=False, last_activity=quiet, now=quiet + timedelta(minutes=29)), 30).action == "keep"
    idle = decide(facts(training_active=False, last_activity=quiet, now=quiet + timedelta(minutes=31)), 30)
    assert idle.action == "end" and "nothing ran for 31 minutes" in idle.reason
    assert decide(facts(training_active=True, last_activity=quiet, now=quiet + timedelta(hours=3)), 30).action == "keep"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps = 0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += timedelta(seconds=seconds)


@pytest.mark.parametrize("provider", ["runpod", "vast"])
def test_watch_ends_the_pod_through_the_api_after_training_and_pull(workspace: Path, cloud_env, provider: str) -> None:  # noqa: F811
    fake = cloud_env[provider].state
    inst_id = "pod77" if provider == "runpod" else "7777"
    from tests.fakes.cloud_api import FakeInstance

    fake.instances[inst_id] = FakeInstance(id=inst_id, gpu="A100", price=2.0, state="running")
    folder = project_dir("mira", create=True)
    clock = Clock(datetime.now(timezone.utc))
    job = Job(job_id="j1", project="mira", status="running", output_dir=str(workspace / "out"))
    write_job(job)

    finished_at: list[datetime] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps == 3:  # training completes
            job.status, job.updated_at = "complete", clock.now
            write_job(job)
            finished_at.append(clock.now)
        if clock.sleeps == 5:  # the artist pulls the results
            mark = folder / PULLED_MARK
            mark.touch()
            os.utime(mark, (clock.now.timestamp(), clock.now.timestamp()))

    decision = watch("mira", provider, inst_id, 2.0, 100.0, clock.now, idle_minutes=600, clock=clock, sleep=sleep, poll_s=60)
    assert decision.action == "end" and "pulled" in decision.reason and clock.sleeps == 5
    assert fake.terminated == [inst_id]
    progress = (folder / "progress.md").read_text()
    assert "Watchdog" in progress and f"ended {provider} instance {inst_id} because training has ended and the results were pulled" in progress


def test_watch_ends_at_the_cap_even_while_training(workspace: Path, cloud_env) -> None:  # noqa: F811
    from tests.fakes.cloud_api import FakeInstance

    cloud_env["runpod"].state.instances["pod9"] = FakeInstance(id="pod9", gpu="A100", price=3.0, state="running")
    write_job(Job(job_id="j2", project="mira", status="running", output_dir=str(workspace / "out")))
    start = datetime.now(timezone.utc)
    clock = Clock(start)
    decision = watch("mira", "runpod", "pod9", 3.0, 6.0, start, idle_minutes=30, clock=clock, sleep=clock.sleep, poll_s=600)
    # $3/h against a $6 cap: the 12th ten-minute check is at two hours
    assert decision.action == "end" and "spend cap" in decision.reason and clock.now - start == timedelta(hours=2)
    assert cloud_env["runpod"].state.terminated == ["pod9"]
    assert "spend cap of $6.00 was reached" in (project_dir("mira") / "progress.md").read_text()


def test_watch_ends_an_idle_pod(workspace: Path, cloud_env) -> None:  # noqa: F811
    from tests.fakes.cloud_api import FakeInstance

    cloud_env["vast"].state.instances["4242"] = FakeInstance(id="4242", gpu="A100", price=1.0, state="running")
    project_dir("mira", create=True)
    start = datetime.now(timezone.utc)
    clock = Clock(start)
    decision = watch("mira", "vast", "4242", 1.0, 50.0, start, idle_minutes=45, clock=clock, sleep=clock.sleep, poll_s=300)
    assert decision.action == "end" and "nothing ran" in decision.reason and clock.now - start == timedelta(minutes=45)
    assert cloud_env["vast"].state.terminated == ["4242"]


def test_a_long_dry_run_writing_its_logs_keeps_the_pod(workspace: Path, cloud_env) -> None:  # noqa: F811
    from tests.fakes.cloud_api import FakeInstance

    cloud_env["runpod"].state.instances["pod5"] = FakeInstance(id="pod5", gpu="A100", price=1.0, state="running")
    scratch = project_dir("mira", create=True) / "dry-run"
    scratch.mkdir()
    start = datetime.now(timezone.utc)
    clock = Clock(start)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - start < timedelta(minutes=50):  # the dry run's trainer log grows for 50 minutes
            log = scratch / "train.log"
            log.write_text("step\n")
            os.utime(log, (clock.now.timestamp(), clock.now.timestamp()))

    decision = watch("mira", "runpod", "pod5", 1.0, 50.0, start, idle_minutes=30, clock=clock, sleep=sleep, poll_s=300)
    # ended 30 idle minutes after the last write (at 45 minutes, the last 5-minute tick before 50), not at 30
    assert decision.action == "end" and clock.now - start == timedelta(minutes=75)
