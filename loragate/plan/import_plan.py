"""`plan import`: an artist's own trainer setup read back into a plan, then through Gate 2.

The files are read by the validator's readers (shell scripts, Python launchers, command lines,
config and dataset TOMLs); the trainer's backend maps its flags and dataset TOML to a plan
(`Backend.import_setup`); the plan's own commands are then compared with the artist's, so every
flag or key the plan does not carry is reported in words (loragate.plan.import_diff). The plan is
registered as `plan new` registers one and checked by Gate 2, so the artist can go on to Gates 3
and 4 and launch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field, ValidationError

from loragate.backends import get_backend
from loragate.backends.reading import ImportContext
from loragate.core.errors import LoragateError
from loragate.lightning.choice import LightningChoice
from loragate.core.findings import Finding, sort_findings
from loragate.names import check_name
from loragate.plain import door_request
from loragate.core.plan import TrainingPlan, plan_problem
from loragate.progress import ProgressFn, or_silent
from loragate.core.vocabulary import Platform, PresetName, TrainingType
from loragate.plan.results import ImportResult  # noqa: F401 - also imported from here


class ImportRequest(BaseModel):
    """What `loragate plan import` and the MCP tool import_plan take (one model for both doors)."""

    name: str = Field(description="Project name; the plan goes to grimoire/training/NAME/.")
    files: list[str] = Field(default_factory=list, description="Scripts (.sh/.bat/.ps1/.py), command files, config and dataset TOMLs.")
    command: str | None = Field(default=None, description="A command line as typed, instead of or beside the files.")
    trigger: str = Field(description="The trigger word every caption contains (the trainer's files do not say it).")
    training_type: TrainingType = "character"
    preset: PresetName = Field(default="standard", description="Only fills what the files leave unsaid (folder repeats).")
    model: str | None = Field(default=None, description="Model family id; default: recognised from the script, --task and weights.")
    platform: Platform = "local"
    gpu_gb: float | None = Field(default=None, gt=0, description="GPU memory to check against, GB (default: studio.md).")
    experts_together: bool = Field(default=False, description="Wan 2.2: launch both expert runs at once.")
    lightning: LightningChoice | None = Field(
        default=None, description="Wan 2.2: the Lightning files the artist renders with, as `plan new` takes them. The experts "
                                  "the script merges (--base_weights) are read from it; the rest is the artist's word.")
    replace: bool = Field(default=False, description="Replace the project's existing plan (kept in plan-history/ first).")


def import_request(**values: object) -> ImportRequest:
    """An ImportRequest from a door's arguments; a value it refuses is said in words (exit 2, not a bug)."""
    return door_request(ImportRequest, values, "The import cannot start",
                        "Correct it and import again.")


def _context(request: ImportRequest) -> ImportContext:
    from loragate.plan.new import _check_trigger

    check_name(request.name)
    return ImportContext(name=request.name, trigger=_check_trigger(request.trigger), training_type=request.training_type,
                         preset=request.preset, model=request.model, platform=request.platform, gpu_gb=request.gpu_gb,
                         experts_together=request.experts_together, lightning=request.lightning)


def plan_from_setup(request: ImportRequest, allowed: Callable[[Path], bool] | None = None) -> tuple[TrainingPlan, list[Finding]]:
    """The plan the files and command line describe, with what it does not carry (nothing saved)."""
    from loragate.plan.gpu import studio_gpu_gb
    from loragate.plan.import_diff import command_differences, command_dropped, dataset_differences
    from loragate.validate.validate import read_setup

    if not request.files and not (request.command or "").strip():
        raise LoragateError("Nothing to import was given.", "Give the training script or command file, and its dataset TOML.")
    ctx = _context(request)
    if ctx.gpu_gb is None:
        ctx.gpu_gb = studio_gpu_gb()[0]
    setup, read_findings = read_setup([Path(f) for f in request.files], request.model, check_paths=False,
                                      allowed=allowed, command=request.command)
    trains = [i for i in setup.invocations if i.stage == "train" and i.trainer]
    if not trains:
        raise LoragateError("No training command was found in what was given.",
                            "Give the script or command line that runs wan_train_network.py, sdxl_train_network.py, "
                            "train_network.py or flux_train_network.py (a dataset TOML alone does not say how to train).")
    trainer = trains[0].trainer or ""
    mine = [i for i in setup.invocations if i.trainer == trainer and i.stage != "unknown"]
    skipped = [command_dropped(i, "is not a step of this training that loragate can run")
               for i in setup.invocations if i.trainer != trainer or i.stage == "unknown"]
    config = setup.dataset_for(trains[0]) or (next(iter(setup.datasets.values())) if len(setup.datasets) == 1 else None)
    if config is not None and config.error is not None:
        raise LoragateError(f"The dataset TOML {config.file} could not be read ({config.error}).",
                            "Correct it (the validator, `loragate validate`, shows where) and import again.")
    data, where = (config.data, config.file) if config is not None else ({}, "")
    backend = get_backend(trainer)
    try:
        plan = backend.import_setup(mine, data, where, ctx, setup.family_id(trains[0]))
        plan.commands = backend.commands(plan)
        written = backend.dataset_config(plan)
    except ValidationError as exc:  # a value outside the plan's bounds (rank 0, a negative learning rate)
        what, fix = plan_problem(exc)
        raise LoragateError(f"The setup cannot be imported: {what}.", fix or "Correct it in your script and import it again.") from exc
    findings = [*read_findings, *skipped, *command_differences(mine, plan.commands),
                *(dataset_differences(data, written, where) if data else [])]
    if not Path(plan.dataset.path).is_dir():
        findings.append(Finding(
            code="IMPORT_DATASET_NOT_HERE", severity="warn",
            message=f"The dataset folder {plan.dataset.path} is not on this machine, so its pictures and clips were not "
                    "counted: the steps per epoch and the dataset audit (Gate 1) need them.",
            fix="Import on the machine that holds the dataset, or copy it here and import again.",
            evidence={"folder": plan.dataset.path}))
    return plan, sort_findings(findings)


def import_plan(request: ImportRequest, progress: ProgressFn | None = None,
                allowed: Callable[[Path], bool] | None = None) -> ImportResult:
    """Read the setup into a plan, register it as `plan new` does, and run Gate 2 on it."""
    from loragate.plan.gate2 import check_plan, register_plan
    from loragate.plan.store import load_project_plan

    report = or_silent(progress)
    report(0, 2, "reading your setup")
    plan, findings = plan_from_setup(request, allowed)
    previous, changed = register_plan(plan, request.replace)
    report(1, 2, "writing the plan files and checking them (Gate 2)")
    gate = check_plan(plan.name)
    report(2, 2, gate.verdict)
    return ImportResult(plan=load_project_plan(plan.name), not_carried=findings, files=gate.files, gate2=gate,
                        previous_plan=previous, replaced=changed or None)
