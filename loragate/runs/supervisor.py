"""The supervisor: the detached process that runs a launched job to its end.

Started by `launch` as `python -m loragate.runs.supervisor --project=NAME --job-id=ID --root=DIR`
in its own session, so it outlives Claude Code, the MCP server or the shell that launched it. It
is the only writer of job.json while it lives. It runs musubi's caching steps when the caches are
not known to be current, then the training run(s); on CUDA out of memory it retries up to 3
times, each time with the cheapest change for the phase that ran out (caching or training,
loragate.vram.changes); it checks the final LoRA file;
and it releases the GPU lock however it ends.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.backends import get_backend
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.core.plan import Command, TrainingPlan, load_plan
from loragate.runs.adoption import AdoptedRun, adopted_runs, adopted_words, lost_exit_failure, take_over
from loragate.runs.checkpoint import final_checkpoint, safetensors_problem
from loragate.runs.classify import Failure, classify_failure, read_tail
from loragate.runs.fit import LadderChange, next_oom_change
from loragate.runs.job import Job, JobEvent, ProcessRecord, read_job, utcnow, write_job
from loragate.runs.lock import hold_group, release_gpus
from loragate.runs.placement import plan_placement
from loragate.runs.process import StepRun, signal_group, start_step, wait_group_gone
from loragate.runs.steps import read_step_progress
from loragate.workspace import project_dir

MAX_OOM_RETRIES = 3
STOP_REQUEST = "stop-request.json"
ATTEMPTS_DIR = "attempts"
POLL_S = 0.25


def role_of(command: Command) -> str:
    if command.stage == "train":
        return f"train-{command.expert}" if command.expert else "train"
    return command.stage


def log_name(command: Command) -> str:
    """train.log, train-high.log / train-low.log, cache-latents.log, cache-text-encoder.log."""
    return role_of(command).replace("_", "-") + ".log"


class StopRequested(Exception):
    pass


class Supervisor:
    def __init__(self, project: str, job_id: str, root: Path | None = None, adopt: bool = False) -> None:
        self.project = project
        self.job_id = job_id
        self.root = root
        self.folder = project_dir(project, root)
        job = read_job(project, root)
        if job is None or job.job_id != job_id:
            raise LoragateError(f"job.json of {project} is not job {job_id}.", "Launch again with `loragate launch`.")
        self.job: Job = job
        self.adopt = adopt
        self.signal_cause: str | None = None
        self.running: list[tuple[StepRun | AdoptedRun, ProcessRecord]] = []

    # ---------------------------------------------------------------- record
    def save(self, render: bool = False) -> None:
        write_job(self.job, self.root)
        if render:
            render_progress(self.project, self.root)

    def event(self, kind: str, message: str, save: bool = True) -> None:
        """An event in plain words; the monitor's progress.md shows them."""
        self.job.events.append(JobEvent(kind=kind, message=message))
        if save:
            self.save(render=True)

    # ---------------------------------------------------------------- stop handling
    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signal_cause = f"the supervisor received {signal.Signals(signum).name}"

    def stop_request(self) -> dict | None:
        path = self.folder / STOP_REQUEST
        if path.exists():
            try:
                data = read_json_object(path)
                if data.get("job_id") in (None, self.job_id):
                    return data
            except (OSError, ValueError):
                return {"cause": "a stop was requested"}
        if self.signal_cause:
            return {"cause": self.signal_cause}
        return None

    def stop_children(self, request: dict) -> None:
        """SIGINT so the trainer can save, then SIGTERM, then SIGKILL."""
        int_s = float(request.get("interrupt_grace_s", 30))
        term_s = float(request.get("terminate_grace_s", 10))
        live = [run for run, _ in self.running if run.poll() is None]
        for sig, grace in ((signal.SIGINT, int_s), (signal.SIGTERM, term_s), (signal.SIGKILL, 5.0)):
            live = [run for run in live if run.poll() is None]
            if not live:
                break
            for run in live:
                signal_group(run.pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(run.poll() is None for run in live):
                time.sleep(0.1)
        for run in live:
            wait_group_gone(run.pid, 5)
            run.poll()

    # ---------------------------------------------------------------- running commands
    def _start(self, command: Command, gpu: int | None, plan: TrainingPlan) -> tuple[StepRun, ProcessRecord]:
        log = self.folder / log_name(command)
        record = ProcessRecord(
            role=role_of(command),
            expert=command.expert,
            argv=command.argv,
            cwd=command.cwd,
            output=command.output,
            logs=command.logs,
            log=str(log),
            gpu=gpu,
            status="running",
            started_at=utcnow(),
        )
        self.job.processes.append(record)
        run = start_step(command, log, gpu=gpu)
        record.pid = run.pid
        if record.started_at is not None:  # the lock first: a supervisor killed in between leaves no trainer unlocked
            hold_group(self.job.gpus, self.job_id, run.pid, record.started_at)
        self.save()
        return run, record

    def _finish(self, run: StepRun | AdoptedRun, record: ProcessRecord, plan: TrainingPlan) -> Failure | None:
        code = run.exit_code
        steps = read_step_progress(run.log_path).steps if run.command.stage == "train" else 0
        failure = classify_failure(
            run.command.stage, code, read_tail(run.log_path), run.command.argv,
            steps_completed=steps, prefix="RUN", trainer_python=plan.trainer_python,
            caption_extension=plan.dataset.caption_extension,
        )
        if failure is None and run.command.stage == "train":
            final = final_checkpoint(run.command)
            problem = safetensors_problem(final) if final else "the command names no output file"
            if problem:
                failure = Failure(
                    kind="exit_code", code="RUN_NO_FINAL_LORA", stage="train", where="saving the LoRA",
                    message=f"The trainer finished, but the final LoRA is not usable: {problem}",
                    fix="Check the free disk space of the output folder and the end of the log, then launch again.",
                    exit_code=code, evidence=str(final),
                )
        if isinstance(run, AdoptedRun):
            failure, code = lost_exit_failure(failure), None  # the inferred code is no exit code to record
        record.exit_code = code
        record.ended_at = utcnow()
        record.status = "succeeded" if failure is None else "failed"
        return failure

    def run_wave(self, wave: list[tuple[Command, int | None]], plan: TrainingPlan) -> dict[int, Failure | None]:
        """Run commands at once; returns index-in-wave -> failure (None for success)."""
        return self.await_runs([self._start(command, gpu, plan) for command, gpu in wave], plan)

    def await_runs(self, runs: list[tuple[StepRun | AdoptedRun, ProcessRecord]], plan: TrainingPlan) -> dict[int, Failure | None]:
        """Watch started runs to their end, stopping them on request; index -> failure."""
        self.running = runs
        results: dict[int, Failure | None] = {}
        while len(results) < len(self.running):
            request = self.stop_request()
            if request:
                self.stop_children(request)
                for k, (run, record) in enumerate(self.running):
                    if k not in results:
                        code = None if isinstance(run, AdoptedRun) else run.exit_code
                        record.status, record.exit_code, record.ended_at = "stopped", code, utcnow()
                self.save()
                raise StopRequested(request.get("cause") or "a stop was requested")
            for k, (run, record) in enumerate(self.running):
                if k not in results and run.poll() is not None:
                    results[k] = self._finish(run, record, plan)
                    self.save()
            time.sleep(POLL_S)
        self.running = []
        return results

    # ---------------------------------------------------------------- the job
    def caches_current(self) -> bool:
        """The dry run cached with the plan and dataset launch just checked (Gate 4 is current at
        launch), so its caches can be reused."""
        report = self.folder / "dry-run.json"
        try:
            data = read_json_object(report)
        except (OSError, ValueError):
            return False
        return data.get("verdict") == "GO" and bool(data.get("caching_done"))

    def write_attempt_plan(self, plan: TrainingPlan, attempt: int) -> TrainingPlan:
        """A changed plan goes beside the original (plan.json, the gated one, is never rewritten)."""
        folder = self.folder / ATTEMPTS_DIR
        backend = get_backend(plan.backend)
        toml = folder / f"dataset-{attempt}.toml"
        atomic_write_text(toml, backend.dataset_toml(plan))
        plan = plan.model_copy(update={"dataset_toml": str(toml)})
        path = folder / f"plan-{attempt}.json"
        atomic_write_json(path, plan)
        self.job.plan_file = str(path)
        return plan

    def rotate_logs(self, commands: list[Command], attempt: int) -> None:
        for command in commands:
            log = self.folder / log_name(command)
            if log.exists():
                log.rename(log.with_name(f"{log.stem}.attempt{attempt}{log.suffix}"))

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        if self.adopt:
            self.job, groups = take_over(self.project, self.job_id, os.getpid(), self.root)
            self.event("adopted", adopted_words(os.getpid(), groups))
        else:
            self.job.supervisor_pid = os.getpid()
            self.job.status = "running"
            self.event("started", f"Training supervisor started (process {os.getpid()}).")
        try:
            self._run_job()
        except StopRequested as stop:
            self.job.status = "stopped"
            self.job.cause = f"Stopped on request: {stop}."
            self.event("stopped", f"Training stopped: {stop}. The checkpoints saved so far are kept.", save=False)
        except LoragateError as exc:
            self._fail(f"{exc.message} {exc.fix or ''}".strip())
        except Exception as exc:  # noqa: BLE001 - the record must say why the job ended, whatever happened
            self._fail(f"The supervisor itself failed: {exc.__class__.__name__}: {exc}.")
            traceback.print_exc()
        finally:
            release_gpus(self.job.gpus, self.job_id)
            try:
                (self.folder / STOP_REQUEST).unlink()
            except FileNotFoundError:
                pass
            self.save(render=True)  # the final status goes out only once the GPU is free again
        return 0 if self.job.status == "complete" else 1

    def _fail(self, cause: str) -> None:
        self.job.status = "failed"
        self.job.cause = cause
        self.job.events.append(JobEvent(kind="failed", message=f"Training failed: {cause}"))

    def _run_job(self) -> None:
        plan = load_plan(Path(self.job.plan_file or self.folder / "plan.json"))
        backend = get_backend(plan.backend)
        need_cache = not self.caches_current()
        recached = shared_adopted = False
        together = plan.experts_together
        done_experts: set[str | None] = set()
        finished: list[str] = []
        done_roles: set[str] = set()
        adopted: list[tuple[Command, Failure]] = []
        if self.adopt:
            need_cache, shared_adopted = self._adopted(plan, backend.commands(plan), done_experts, finished, done_roles, adopted)
        while True:
            commands = backend.commands(plan)
            cache_cmds = [c for c in commands if c.stage != "train"]
            adopted_cache = [(c, f) for c, f in adopted if c.stage != "train"]
            if cache_cmds and (need_cache or adopted_cache):
                command, cache_failure = adopted_cache[0] if adopted_cache else (cache_cmds[0], None)
                for command in [c for c in cache_cmds if role_of(c) not in done_roles] if not adopted_cache else []:
                    cache_failure = self.run_wave([(command, self.job.gpus[0] if self.job.gpus else None)], plan)[0]
                    if cache_failure:
                        break
                done_roles.clear()
                adopted = [(c, f) for c, f in adopted if c.stage == "train"]
                if cache_failure is not None:
                    if cache_failure.kind != "cuda_oom":
                        raise LoragateError(f"{cache_failure.message}", cache_failure.fix)
                    # caching ran out of memory: a cheaper setting for that phase, then cache again
                    plan = self.write_attempt_plan(self._after_oom(plan, [(command, cache_failure)], False).plan, self.job.attempt)
                    continue
                need_cache = False
                recached = True
            elif cache_cmds and self.job.attempt == 1 and not recached and not self.adopt:
                self.event("cache_reused", "The latent and text-encoder caches from the dry run are current; caching is skipped.")
            trains = [c for c in commands if c.stage == "train" and c.expert not in done_experts]
            # the adopted trainers' failures come first (handled like a wave's), then what is left to run
            failures, adopted = adopted, []
            shared_gpu = bool(failures) and shared_adopted
            placement = plan_placement(plan, trains, self.job.gpus, together=together, measured_gb=self._measured_gb())
            if len(trains) > 1 and not failures:
                self.job.placement = placement.reason
                self.event("placement", f"Wan 2.2 experts: {placement.reason}.")
            for wave in placement.waves if not failures else []:
                batch = [(trains[i], gpu) for i, gpu in wave]
                results = self.run_wave(batch, plan)
                gpus_used = [gpu for _, gpu in batch]
                shared_gpu = shared_gpu or (len(batch) > 1 and len(set(gpus_used)) < len(gpus_used))
                for k, failure in results.items():
                    if failure is None:
                        done_experts.add(batch[k][0].expert)
                        finished.append(str(final_checkpoint(batch[k][0])))
                    else:
                        failures.append((batch[k][0], failure))
                if failures:
                    break
            if not failures:
                self.job.status = "complete"
                self.job.cause = None
                files = ", ".join(Path(f).name for f in finished)
                self.event("completed", f"Training complete. Final LoRA: {files}.", save=False)
                return
            command, failure = failures[0]
            if failure.kind in ("no_samples", "nothing_trained") and cache_cmds and not recached:
                self.event("recache", "The trainer found no cached samples; caching the dataset again and retrying.")
                need_cache = True
                self.rotate_logs([c for c, _ in failures], self.job.attempt)
                # the failed run is history now, as after an OOM retry: the monitor follows the new caching
                self.job.history += self.job.processes
                self.job.processes = []
                self.save()
                continue
            if not all(f.kind == "cuda_oom" for _, f in failures):
                raise LoragateError(failure.message, failure.fix)
            change = self._after_oom(plan, failures, shared_gpu)
            if shared_gpu:
                together = False
            else:
                plan = self.write_attempt_plan(change.plan, self.job.attempt)
                need_cache = need_cache or change.recache

    def _adopted(self, plan: TrainingPlan, commands: list[Command], done_experts: set[str | None], finished: list[str],
                 done_roles: set[str], failures: list[tuple[Command, Failure]]) -> tuple[bool, bool]:
        """Watch the trainers the old supervisor left to their end and record them as its own runs
        would be; fills what they finished and how they failed. Returns (caching still needed,
        the failed ones shared a GPU)."""
        runs = adopted_runs(self.job, {role_of(c): c for c in commands})
        if not runs:
            raise LoragateError("The running trainer matches no command of the job's plan, so it cannot be adopted.",
                                "Let it finish, or stop it with `loragate stop NAME`.")
        for run, record in runs:
            if run.ours and record.started_at is not None:
                hold_group(self.job.gpus, self.job_id, run.pgid, record.started_at)
        results = self.await_runs(list(runs), plan)
        for k, (run, record) in enumerate(runs):
            failure = results[k]
            if failure is not None:
                failures.append((run.command, failure))
            elif run.command.stage == "train":
                done_experts.add(run.command.expert)
                finished.append(str(final_checkpoint(run.command)))
            else:
                done_roles.add(record.role)
        # caching comes before training: once a trainer ran, the caches are there. A caching step
        # judged from its log alone is trusted; "no cached samples" still sends it round again.
        gpus = [record.gpu for run, record in runs if run.command.stage == "train"]
        return not gpus, len(gpus) > 1 and len(set(gpus)) < len(gpus)

    def _after_oom(self, plan: TrainingPlan, failures: list[tuple[Command, Failure]], shared_gpu: bool) -> LadderChange:
        """The next rung of the OOM ladder for the phase that ran out of memory, recorded as a new attempt.

        Two experts sharing a GPU are first split up (one after the other), which changes nothing in
        what they learn; otherwise the cheapest change for that phase (loragate.vram.changes)."""
        failure = failures[0][1]
        if self.job.oom_retries >= MAX_OOM_RETRIES:
            raise LoragateError(
                f"Ran out of GPU memory while {failure.where}, even after {MAX_OOM_RETRIES} retries with cheaper settings.",
                "Use a GPU with more memory, or lower the resolution or frame count in the plan, then run the gates again.",
            )
        if shared_gpu:
            change: LadderChange | None = LadderChange(
                plan=plan, description="the two experts run one after the other instead of together",
                explanation="Each expert then has the whole GPU; what they learn is unchanged.",
            )
        else:
            change = next_oom_change(plan, failure.phase or "training")
        if change is None:
            raise LoragateError(
                f"Ran out of GPU memory while {failure.where}, and no cheaper setting is left to try.",
                "Use a GPU with more memory, or lower the resolution or frame count in the plan, then run the gates again.",
            )
        self.job.oom_retries += 1
        self.rotate_logs([c for c, _ in failures], self.job.attempt)
        self.job.history += [p for p in self.job.processes]
        self.job.processes = []
        self.job.attempt += 1
        self.event(
            "oom_retry",
            f"Ran out of GPU memory while {failure.where}. Retry {self.job.oom_retries} of {MAX_OOM_RETRIES}: "
            f"trying again with {change.description}. {change.explanation}".strip(),
        )
        return change

    def _measured_gb(self) -> float | None:
        """The dry run's measured peak of one training run, if it measured one."""
        try:
            data = read_json_object(self.folder / "dry-run.json")
        except (OSError, ValueError):
            return None
        return data.get("peak_vram_gb") if isinstance(data, dict) else None


def render_progress(project: str, root: Path | None = None) -> None:
    """progress.md belongs to the monitor, which renders it from job.json and the logs."""
    try:
        from loragate.runs import monitor
    except ImportError:
        return
    render = getattr(monitor, "write_progress", None)
    if render is None:
        return
    try:
        render(project, root) if root is not None else render(project)
    except Exception:  # noqa: BLE001 - a rendering problem must never stop a training
        traceback.print_exc()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loragate.runs.supervisor", description="Runs one launched training job.")
    parser.add_argument("--project", required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--adopt", action="store_true", help="Take over the job's trainers that lost their supervisor.")
    args = parser.parse_args(argv)  # a bad command line: argparse says why on stderr (supervisor.log), exit 2
    os.environ["LORAGATE_ROOT"] = args.root
    say(f"supervisor of {args.project} job {args.job_id} started (process {os.getpid()})")
    try:
        supervisor = Supervisor(args.project, args.job_id, Path(args.root), adopt=args.adopt)
    except LoragateError as exc:
        say(f"supervisor exits before starting: {exc.message} {exc.fix or ''}".strip())
        return 2
    try:
        code = supervisor.run()
    except LoragateError as exc:  # adopting refused: the job is no orphan (any more)
        say(f"supervisor exits before starting: {exc.message} {exc.fix or ''}".strip())
        return 2
    say(f"supervisor exits with code {code}: job {supervisor.job.status}" + (f" ({supervisor.job.cause})" if supervisor.job.cause else ""))
    return code


def say(line: str) -> None:
    """One timestamped line in supervisor.log (the supervisor's stdout and stderr)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
