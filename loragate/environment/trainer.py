"""Find the trainer's checkout and the Python it runs under, and what that checkout requires.

Where a checkout is looked for, first hit wins:
1. the plan's `trainer_dir` (the folder its commands run in);
2. `MUSUBI_TUNER_DIR` / `SD_SCRIPTS_DIR`;
3. `grimoire/studio.md`, a `key: value` line under "Trainers":
       musubi_tuner_dir: /workspace/musubi-tuner
       sd_scripts_dir: /workspace/sd-scripts
       trainer_python: /workspace/musubi-tuner/venv/bin/python   (optional)
4. the usual places in `loragate/data/trainers.toml` (/workspace/..., ~/..., /root/... on Modal).

The interpreter: `LORAGATE_TRAINER_PYTHON`, the plan's `trainer_python`, studio.md's
`trainer_python`, a `venv/` or `.venv/` inside the checkout, then `python3` / `python` on PATH.
Only files are read (no git, no imports), so this is cheap enough for the machine fingerprint.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from loragate.backends.traits import TrainerTraits
from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError
from loragate.studio import read_studio

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class TokenizerFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    repo: str
    subfolder: str = ""
    purpose: str
    when_weight: str | None = Field(default=None, description="Only needed when the plan names this weight (e.g. clip).")
    families: list[str] = Field(default_factory=list, description="Only for these families (or their variants); empty = all.")


class ReadingFacts(BaseModel):
    """How the validator tells this trainer's commands and dataset TOMLs from the other's."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    script_prefixes: list[str] = Field(default_factory=list, description="Starts of the names of its other scripts "
                                       "(those without a flag list), so their commands are still recognised.")
    dataset_tables: list[str] = Field(default_factory=list, description="Tables nested in a [[datasets]] that only "
                                      "its dataset schema has; they decide before any key does.")
    dataset_keys: list[str] = Field(default_factory=list, description="Keys of a [[datasets]] only its schema has.")
    general_keys: list[str] = Field(default_factory=list, description="Keys of [general] only its schema has.")


class TrainerFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    name: str
    display_name: str
    repository: str
    env_var: str
    studio_key: str
    marker_files: list[str]
    package: str = ""
    install: str
    usual_places: list[str]
    min_torch: str
    tokenizers: list[TokenizerFacts] = Field(default_factory=list)
    reading: ReadingFacts = Field(default_factory=ReadingFacts)
    traits: TrainerTraits = Field(description="What the trainer does that checks, estimates and plans depend on.")


class PackageFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    modules: dict[str, str]
    import_check: list[str]
    attention: dict[str, str]
    optimizer: dict[str, str]
    network: dict[str, str] = Field(default_factory=dict, description="--network_module -> the distribution it imports from.")


class TrainerData(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    trainer: dict[str, TrainerFacts]
    packages: PackageFacts


@lru_cache(maxsize=1)
def load_trainer_data() -> TrainerData:
    raw = read_data_toml("trainers.toml")
    raw["trainer"] = {key: {"name": key, **value} for key, value in raw["trainer"].items()}
    return TrainerData.model_validate(raw)


def trainer_facts(backend: str) -> TrainerFacts:
    data = load_trainer_data().trainer
    if backend not in data:
        raise LoragateError(f"Unknown trainer backend {backend!r}.", "Use 'musubi' (Wan) or 'sdscripts' (SD 1.5, SDXL, FLUX).")
    return data[backend]


def module_of(dist: str) -> str:
    """The import name of a distribution ('opencv-python' -> 'cv2')."""
    key = dist.lower().replace("_", "-")
    return load_trainer_data().packages.modules.get(key, key.replace("-", "_"))


class TrainerLocation(BaseModel):
    backend: str
    path: str | None = Field(default=None, description="The checkout, when one was found.")
    source: str | None = Field(default=None, description="plan, env, studio or usual place.")
    looked_in: list[str] = Field(default_factory=list, description="Folders tried, in order, with what each lacked.")


def is_checkout(folder: Path, facts: TrainerFacts) -> bool:
    return all((folder / marker).is_file() for marker in facts.marker_files)


def _candidates(facts: TrainerFacts, plan_dir: str | None, root: Path | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if plan_dir:
        found.append(("plan", plan_dir))
    env = os.environ.get(facts.env_var, "").strip()
    if env:
        found.append((f"${facts.env_var}", env))
    studio_value = getattr(read_studio(root), facts.studio_key, None)
    if studio_value:
        found.append(("grimoire/studio.md", studio_value))
    found += [("usual place", place) for place in facts.usual_places]
    return found


def locate_trainer(backend: str, plan_dir: str | None = None, root: Path | None = None) -> TrainerLocation:
    """The trainer's checkout, from the plan, the environment, studio.md or the usual places."""
    facts = trainer_facts(backend)
    location = TrainerLocation(backend=backend)
    for source, raw in _candidates(facts, plan_dir, root):
        folder = Path(raw).expanduser()
        if is_checkout(folder, facts):
            location.path = str(folder.resolve())
            location.source = source
            return location
        if source == "usual place" and not folder.exists():
            continue  # absent usual places are normal; listing them would only add noise
        lacking = "does not exist" if not folder.exists() else f"has no {', '.join(facts.marker_files)}"
        location.looked_in.append(f"{folder} ({source}: {lacking})")
        if source == "plan":
            return location  # the plan's commands run there; another checkout would not help them
    return location


def find_trainer_python(checkout: str | None, plan_python: str | None = None, root: Path | None = None) -> tuple[str, str]:
    """(interpreter, where it came from). The interpreter may not exist; the probe then says so."""
    env = os.environ.get("LORAGATE_TRAINER_PYTHON", "").strip()
    if env:
        return env, "$LORAGATE_TRAINER_PYTHON"
    if plan_python:
        return plan_python, "plan"
    studio_python = read_studio(root).trainer_python
    if studio_python:
        return studio_python, "grimoire/studio.md"
    if checkout:
        for venv in ("venv", ".venv"):
            for rel in ("bin/python", "Scripts/python.exe"):
                candidate = Path(checkout) / venv / rel
                if candidate.exists():
                    return str(candidate), f"{venv}/ in the checkout"
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found:
            return found, "PATH"
    return sys.executable, "loragate's own Python"


def read_git_commit(checkout: Path) -> tuple[str | None, str | None]:
    """(commit, branch) from .git files alone: HEAD, loose refs, packed-refs, worktree links."""
    git = checkout / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            target = git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
            git = (checkout / target).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    if not head.startswith("ref:"):
        return (head if re.fullmatch(r"[0-9a-f]{40,64}", head) else None), None
    ref = head.removeprefix("ref:").strip()
    branch = ref.removeprefix("refs/heads/")
    common = git
    try:  # worktrees keep shared refs in the "commondir"
        common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        pass
    for base in (git, common):
        try:
            return (base / ref).read_text(encoding="utf-8").strip(), branch
        except OSError:
            pass
        try:
            for line in (base / "packed-refs").read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0], branch
        except OSError:
            pass
    return None, branch


def read_project_version(checkout: Path) -> str | None:
    """[project] version from pyproject.toml (musubi-tuner has one; sd-scripts does not)."""
    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("project", {}).get("version")
    return str(version) if version else None


def read_requirements(checkout: Path) -> list[str]:
    """The checkout's own requirement lines: pyproject [project].dependencies, else requirements.txt."""
    lines: list[str] = []
    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
        lines += [str(d) for d in data.get("project", {}).get("dependencies", [])]
    except (OSError, ValueError):
        pass
    if not lines:
        try:
            text = (checkout / "requirements.txt").read_text(encoding="utf-8")
        except OSError:
            text = ""
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if line and not line.startswith(("#", "-", "git+", "http:", "https:", "file:", ".")):
                lines.append(line)
    return lines


# Sources find_trainer_python falls back to when nobody named the trainer's interpreter: with no
# checkout found, such an interpreter (often loragate's own venv) is not the trainer's.
GUESSED_PYTHON = {"PATH", "loragate's own Python"}


def venv_python(checkout: str) -> str:
    """Where the install steps below put the trainer's own interpreter."""
    return f"{checkout.rstrip('/')}/venv/bin/python"


def default_checkout(facts: TrainerFacts) -> str:
    return next((p for p in facts.usual_places if p.startswith("~")), facts.usual_places[0])


def where_looked(facts: TrainerFacts, looked_in: list[str]) -> str:
    """Plain words for where the trainer was looked for."""
    if looked_in:
        return "; ".join(looked_in)
    return (f"{facts.env_var} is not set, grimoire/studio.md names no {facts.studio_key}, and none of the usual "
            f"folders exists ({', '.join(facts.usual_places)})")


def install_steps(facts: TrainerFacts, checkout: str, torch_command: str | None = None) -> str:
    """One shell line that clones the trainer and installs it into its own virtual environment."""
    import shlex

    folder = shlex.quote(checkout).replace("'~/", "~/'") if checkout.startswith("~/") else shlex.quote(checkout)
    torch = torch_command or "venv/bin/python -m pip install torch torchvision"
    return (f"git clone {facts.repository} {folder} && cd {folder} && python3 -m venv venv && {torch} && "
            f"venv/bin/python -m {facts.install} && export {facts.env_var}=\"$PWD\"")
