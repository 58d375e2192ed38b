"""Judge the trainer's checkout and its Python environment from the probe's answer.

The checkout states what it needs (pyproject / requirements.txt pins); the probe says what the
trainer's interpreter has. Missing or broken packages block; versions outside a pin warn, since
the pins are exact (==) and a close version usually works; Gate 4's dry run settles the rest.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from loragate.environment.probe import ProbeRequest, ProbeResult
from loragate.environment.trainer import (
    GUESSED_PYTHON,
    TrainerFacts,
    default_checkout,
    install_steps,
    where_looked,
    TrainerLocation,
    load_trainer_data,
    module_of,
    read_git_commit,
    read_project_version,
    read_requirements,
)
from loragate.core.findings import Finding
from loragate.core.plan import TrainingPlan


class Dependency(BaseModel):
    name: str
    spec: str = Field(default="", description="What the trainer accepts, e.g. '==1.6.0'; empty = any.")
    module: str
    why: str = Field(description="requirement, plan or check")
    installed: str | None = None
    imports: bool | None = Field(default=None, description="None when not import-checked.")
    error: str | None = None


class TrainerSection(BaseModel):
    backend: str
    name: str
    path: str | None = None
    source: str | None = None
    looked_in: list[str] = Field(default_factory=list)
    version: str | None = None
    commit: str | None = None
    branch: str | None = None
    python: str
    python_source: str
    python_version: str | None = None
    package_origin: str | None = Field(default=None, description="Where the trainer's own package imports from.")
    dependencies: list[Dependency] = Field(default_factory=list)
    accelerate: str | None = Field(default=None, description="The accelerate launcher the commands use.")
    accelerate_config: str | None = None
    accelerate_config_values: dict[str, object] = Field(default_factory=dict)


def _plan_needs(plan: TrainingPlan | None) -> dict[str, str]:
    """Distributions the plan's settings need beyond the trainer's list: dist -> why."""
    if plan is None:
        return {}
    packages = load_trainer_data().packages
    needs: dict[str, str] = {}
    attention = packages.attention.get(plan.memory.attention)
    if attention:
        needs[attention] = f"attention '{plan.memory.attention}'"
    optimizer = plan.optimizer.type.lower()
    for fragment, dist in packages.optimizer.items():
        if fragment in optimizer:
            needs[dist] = f"optimizer {plan.optimizer.type}"
    network = packages.network.get(plan.network.module)
    if network:
        needs[network] = f"network module {plan.network.module}"
    return needs


def parse_requirements(lines: list[str], markers: dict[str, str]) -> list[Requirement]:
    """Requirement lines that apply to this Python (markers judged with the probe's values)."""
    found: list[Requirement] = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and markers:
            try:
                if not req.marker.evaluate({**markers, "extra": ""}):
                    continue
            except Exception:  # noqa: BLE001 - an odd marker: keep the requirement
                pass
        found.append(req)
    return found


def probe_request(facts: TrainerFacts, checkout: str | None, plan: TrainingPlan | None) -> ProbeRequest:
    """What to ask the trainer's Python: every required distribution, the compiled ones imported."""
    lines = read_requirements(Path(checkout)) if checkout else []
    names: list[str] = [canonicalize_name(Requirement(line).name) for line in lines if _valid(line)]
    names += list(_plan_needs(plan)) + ["torchvision", "accelerate"]
    dists = sorted(set(names))
    import_check = load_trainer_data().packages.import_check
    imports = [m for m in import_check] + [module_of(d) for d in _plan_needs(plan)]
    finds = sorted({module_of(d) for d in dists} | ({facts.package} if facts.package else set()))
    return ProbeRequest(dists=dists, imports=sorted(set(imports)), finds=finds)


def _valid(line: str) -> bool:
    try:
        Requirement(line)
        return True
    except InvalidRequirement:
        return False


def _in_spec(installed: str, req: Requirement) -> bool:
    try:
        return req.specifier.contains(Version(installed), prereleases=True)
    except InvalidVersion:
        return True


def build_section(
    facts: TrainerFacts,
    location: TrainerLocation,
    python: str,
    python_source: str,
    probe: ProbeResult | None,
    plan: TrainingPlan | None,
) -> TrainerSection:
    section = TrainerSection(
        backend=facts.name,
        name=facts.display_name,
        path=location.path,
        source=location.source,
        looked_in=location.looked_in,
        python=python,
        python_source=python_source,
    )
    if location.path:
        checkout = Path(location.path)
        section.version = read_project_version(checkout)
        section.commit, section.branch = read_git_commit(checkout)
    section.accelerate = accelerate_launcher(python, plan)
    if probe is None or not probe.ran:
        return section
    section.python_version = probe.python.version if probe.python else None
    if facts.package:
        section.package_origin = probe.finds.get(facts.package)
    if probe.accelerate_config:
        section.accelerate_config = probe.accelerate_config.path if probe.accelerate_config.exists else None
        section.accelerate_config_values = dict(probe.accelerate_config.values)
    requirements = parse_requirements(read_requirements(Path(location.path)) if location.path else [], probe.markers)
    seen: set[str] = set()
    for req in requirements:
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        section.dependencies.append(_dependency(name, str(req.specifier), "requirement", probe))
    for dist, why in _plan_needs(plan).items():
        name = canonicalize_name(dist)
        if name not in seen:
            seen.add(name)
            section.dependencies.append(_dependency(name, "", f"plan: {why}", probe))
    for module in load_trainer_data().packages.import_check:
        dist = canonicalize_name(module)
        result = probe.imports.get(module)
        if dist in seen or result is None or result.ok or probe.dists.get(dist) is None:
            continue
        seen.add(dist)  # installed, not required, and broken: worth knowing
        section.dependencies.append(_dependency(dist, "", "check", probe))
    return section


def _dependency(name: str, spec: str, why: str, probe: ProbeResult) -> Dependency:
    module = module_of(name)
    installed = probe.dists.get(name) or probe.dists.get(name.replace("-", "_"))
    result = probe.imports.get(module)
    found = probe.finds.get(module)
    dep = Dependency(name=name, spec=spec, module=module, why=why, installed=installed)
    if result is not None:
        dep.imports = result.ok
        dep.error = result.error
    elif installed is None and found:
        dep.installed = "(present, version unknown)"
    return dep


def accelerate_launcher(python: str, plan: TrainingPlan | None) -> str:
    """The `accelerate` the plan's commands start, resolved the way the backend resolves it."""
    if plan is not None:
        try:
            from loragate.backends.argv import accelerate_of

            return accelerate_of(plan)  # exactly what the plan's commands will start
        except ImportError:
            pass
    return str(Path(python).parent / "accelerate") if "/" in python else "accelerate"


def trainer_missing(facts: TrainerFacts, looked_in: list[str], checkout: str | None = None,
                    torch_command: str | None = None) -> Finding:
    """The trainer is not on this machine: where it was looked for and how to install it, in its own venv."""
    folder = checkout or default_checkout(facts)
    return Finding(
        code="ENV_TRAINER_NOT_FOUND",
        severity="block",
        message=(f"{facts.display_name}, the program that does the training, is not installed on this machine "
                 f"({where_looked(facts, looked_in)})."),
        fix=(f"Install it into its own folder and Python environment (not loragate's): `"
             f"{install_steps(facts, folder, torch_command)}`. Then run `loragate env` again."),
        evidence={"looked_in": looked_in, "checkout": folder},
    )


def trainer_findings(section: TrainerSection, facts: TrainerFacts, probe: ProbeResult | None, plan: TrainingPlan | None,
                     torch_command: str | None = None) -> list[Finding]:
    findings: list[Finding] = []
    if section.path is None:
        findings.append(trainer_missing(facts, section.looked_in, plan.trainer_dir if plan else None, torch_command))
        if section.python_source in GUESSED_PYTHON or probe is None or not probe.ran:
            return findings  # no trainer's Python to judge: installing the trainer comes first
    if probe is None:
        return findings
    if not probe.ran:
        findings.append(
            Finding(
                code="ENV_TRAINER_PYTHON",
                severity="block",
                message=f"The trainer's Python ({section.python}, from {section.python_source}) could not be asked what it holds: {probe.error}.",
                fix=(
                    "Point loragate at the interpreter the trainer runs under: set LORAGATE_TRAINER_PYTHON, "
                    "or `trainer_python: /path/to/venv/bin/python` in grimoire/studio.md."
                ),
                evidence={"python": section.python, "source": section.python_source, "error": probe.error},
            )
        )
        return findings
    quoted = shlex.quote(section.python)
    install_all = f"cd {shlex.quote(section.path)} && {quoted} -m {facts.install}" if section.path else f"{quoted} -m {facts.install}"
    missing = [d for d in section.dependencies if d.installed is None and d.why != "check"]
    if missing:
        names = ", ".join(d.name for d in missing)
        findings.append(
            Finding(
                code="ENV_DEP_MISSING",
                severity="block",
                message=f"The trainer's Python lacks {names}, which {facts.display_name} needs.",
                fix=f"Install the trainer's requirements into its own environment: `{install_all}`"
                + (
                    ""
                    if all(d.why == "requirement" for d in missing)
                    else f" and `{quoted} -m pip install {' '.join(d.name for d in missing if d.why != 'requirement')}`"
                ),
                evidence={"missing": [d.name for d in missing], "python": section.python},
            )
        )
    for dep in section.dependencies:
        if dep.installed is not None and dep.imports is False:
            findings.append(
                Finding(
                    code="ENV_DEP_BROKEN" if dep.why != "check" else "ENV_DEP_BROKEN_OPTIONAL",
                    severity="block" if dep.why != "check" else "info",
                    message=f"{dep.name} {dep.installed} is installed but does not import: {dep.error}.",
                    fix=(
                        f"Reinstall it for this PyTorch and CUDA: `{quoted} -m pip install --force-reinstall {shlex.quote(dep.name + dep.spec)}`"
                        if dep.why != "check"
                        else "Nothing needs it for this plan; uninstall or reinstall it if another tool does."
                    ),
                    evidence={"package": dep.name, "version": dep.installed, "error": dep.error},
                )
            )
        elif dep.installed and dep.spec and not dep.installed.startswith("(") and not _in_spec(dep.installed, Requirement(dep.name + dep.spec)):
            findings.append(
                Finding(
                    code="ENV_DEP_VERSION",
                    severity="warn",
                    message=f"{dep.name} is {dep.installed}; {facts.display_name} asks for {dep.name}{dep.spec}.",
                    fix=f"`{quoted} -m pip install {shlex.quote(dep.name + dep.spec)}`",
                    evidence={"package": dep.name, "installed": dep.installed, "wanted": dep.spec},
                )
            )
    if facts.package and section.path:
        origin = section.package_origin
        checkout = Path(section.path)
        if not origin:
            findings.append(
                Finding(
                    code="ENV_TRAINER_NOT_INSTALLED",
                    severity="block",
                    message=f"The `{facts.package}` package is not installed in the trainer's Python, so its scripts stop at their first import.",
                    fix=f"`{install_all}`",
                    evidence={"python": section.python, "package": facts.package},
                )
            )
        elif not Path(origin).resolve().is_relative_to(checkout.resolve()):
            findings.append(
                Finding(
                    code="ENV_TRAINER_OTHER_COPY",
                    severity="warn",
                    message=f"The trainer's Python imports `{facts.package}` from {origin}, not from the checkout {checkout}: the scripts would run that other copy's code.",
                    fix=f"`{install_all}` to install this checkout in its place.",
                    evidence={"origin": origin, "checkout": str(checkout)},
                )
            )
    findings += _accelerate_findings(section, probe, plan)
    if plan is not None and plan.trainer_python is None and section.python_source not in {"PATH", "$LORAGATE_TRAINER_PYTHON"}:
        findings.append(
            Finding(
                code="ENV_TRAINER_PYTHON_NOT_IN_PLAN",
                severity="warn",
                message=(
                    f"The plan does not name the trainer's Python, so its commands run `python` from PATH, "
                    f"not {section.python} ({section.python_source}) that was checked here."
                ),
                fix="Re-create the plan on this machine so it records the trainer's interpreter, or activate that venv before launching.",
                evidence={"python": section.python},
            )
        )
    return findings


def _accelerate_findings(section: TrainerSection, probe: ProbeResult, plan: TrainingPlan | None) -> list[Finding]:
    findings: list[Finding] = []
    launcher = section.accelerate or "accelerate"
    present = Path(launcher).is_file() if "/" in launcher else shutil.which(launcher) is not None
    if not present:
        findings.append(
            Finding(
                code="ENV_ACCELERATE_MISSING",
                severity="block",
                message=f"The training commands start `{launcher}`, which does not exist.",
                fix=f"Install accelerate into the trainer's environment: `{shlex.quote(section.python)} -m pip install accelerate`.",
                evidence={"launcher": launcher},
            )
        )
    config = probe.accelerate_config
    gpu_count = len(probe.torch.devices)
    if config is None:
        return findings
    if config.error:
        findings.append(
            Finding(
                code="ENV_ACCELERATE_CONFIG_UNREADABLE",
                severity="warn",
                message=f"accelerate's config {config.path} cannot be read ({config.error}); `accelerate launch` will fail on it.",
                fix=f"Write a fresh one: `{shlex.quote(str(Path(launcher)))} config default`, or delete the file.",
                evidence={"path": config.path},
            )
        )
        return findings
    values = config.values
    if not config.exists:
        findings.append(
            Finding(
                code="ENV_ACCELERATE_NOT_CONFIGURED",
                severity="warn" if gpu_count > 1 else "info",
                message=(
                    "accelerate has no saved configuration; `accelerate launch` will use its defaults"
                    + (f", which start one process per GPU ({gpu_count} here) instead of one training per GPU." if gpu_count > 1 else " (one process on one GPU).")
                ),
                fix=f"`{shlex.quote(launcher)} config default` writes a single-machine config (sd-scripts README answers: this machine, no distributed training).",
                evidence={"path": config.path},
            )
        )
    if values.get("use_cpu") is True:
        findings.append(
            Finding(
                code="ENV_ACCELERATE_CPU",
                severity="block",
                message=f"accelerate is configured to train on the CPU ({config.path}).",
                fix=f"Run `{shlex.quote(launcher)} config` and answer NO to CPU-only training.",
                evidence=values,
            )
        )
    processes = values.get("num_processes")
    if isinstance(processes, int) and processes > 1:
        findings.append(
            Finding(
                code="ENV_ACCELERATE_MULTI_GPU",
                severity="warn",
                message=f"accelerate is configured for {processes} processes ({values.get('distributed_type')}); loragate runs one training per GPU.",
                fix=f"Run `{shlex.quote(launcher)} config` and choose 'No distributed training'.",
                evidence=values,
            )
        )
    return findings
