"""What a trainer's failures look like in its log and what they mean, as each backend states them.

The failure classifier (loragate.runs.classify) and the log parser (loragate.runs.logparse) are
general machinery: they read the log, run their rules and build findings. Everything they need to
know about one trainer (which flags name model files, the lines it prints when a file, a package or
the data is missing, its install command, its progress lines) is that trainer's `TrainerFailures`,
which its backend carries as `failures`. `known_failures()` joins every registered backend's, so a
log is read the same way whichever trainer wrote it, even where the command is not known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from loragate.backends.argv import argv_values


@dataclass(frozen=True)
class WeightFlag:
    flag: str
    words: str  # the file in plain words, as it reads in a sentence ("the VAE")


@dataclass(frozen=True)
class TrainerText:
    """Log texts that mean one kind of failure (loragate.runs.classify.FailureKind). The message, fix
    and flag are the trainer's own words for it; None leaves the classifier's general words."""

    texts: tuple[str, ...]
    kind: str
    message: str | None = None
    fix: str | None = None
    flag: str | None = None


@dataclass(frozen=True)
class LogFormat:
    """The console lines a trainer prints while it trains, as the log parser reads them."""

    restart: str  # a new attempt starts (appended to the same log)
    epoch: re.Pattern[str]  # groups n, total
    saving: re.Pattern[str]  # group path: a checkpoint written
    removing: re.Pattern[str]  # group path: an old checkpoint removed
    model_saved: str  # the final LoRA written
    progress: str  # the description of the training's progress bar (tqdm's desc)
    # Lines that say which moment a run has reached, lower-cased: training steps, then the caching stages.
    stepping: tuple[str, ...] = ()
    caching_latents: tuple[str, ...] = ()
    caching_text_encoder: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainerFailures:
    weights: tuple[WeightFlag, ...]  # flags that name model files, most telling first
    main_weights: tuple[str, ...]  # the training's own model, when the log names no file
    stage_weights: dict[str, str]  # stage -> the model file a failing caching stage is about
    packages: tuple[str, ...]  # the trainer's own top-level Python packages
    install: str  # how its own code is installed, said in a sentence; {python}: the trainer's interpreter
    texts: tuple[TrainerText, ...] = ()
    oom_fixes: dict[str, str] = field(default_factory=dict)  # stage -> what to change when that stage runs out of GPU memory
    value_example: str | None = None  # an option whose value is often given in the wrong form, and the right form
    found_media: re.Pattern[str] | None = None  # group 1: how many media files a dataset entry found
    found_nothing: str | None = None  # message when a caching stage found none; {doing}: the stage in words
    log: LogFormat | None = None


def _merged(orders: list[list[str]]) -> list[str]:
    """One order that keeps each trainer's own order (a flag two trainers share comes after the
    flags each lists before it)."""
    lists = [list(o) for o in orders]
    out: list[str] = []
    while any(lists):
        for items in lists:
            head = next((x for x in items if not any(x in other[1:] for other in lists)), None) if items else None
            if head is not None:
                break
        else:  # contradictory orders: take them as listed
            head = next(x for items in lists for x in items)
        out.append(head)
        lists = [[x for x in items if x != head] for items in lists]
    return out


@dataclass(frozen=True)
class KnownFailures:
    """Every registered trainer's failures, joined."""

    trainers: tuple[TrainerFailures, ...]

    @cached_property
    def weight_flags(self) -> list[str]:
        return _merged([[w.flag for w in t.weights] for t in self.trainers])

    def weight_words(self, flag: str) -> str | None:
        return next((w.words for t in self.trainers for w in t.weights if w.flag == flag), None)

    @property
    def main_weights(self) -> list[str]:
        return [f for t in self.trainers for f in t.main_weights]

    def stage_weight(self, stage: str) -> str | None:
        return next((t.stage_weights[stage] for t in self.trainers if stage in t.stage_weights), None)

    def model_files(self, argv: list[str]) -> dict[str, str]:
        """flag -> path of every model file a command names, in weight_flags order."""
        values = argv_values(argv)
        return {f: values[f] for f in self.weight_flags if f in values}

    def is_own_package(self, top: str) -> bool:
        return any(top in t.packages for t in self.trainers)

    def install(self, python: str) -> str:
        return " or ".join(t.install.format(python=python) for t in self.trainers)

    def texts(self, kind: str) -> list[TrainerText]:
        return [x for t in self.trainers for x in t.texts if x.kind == kind]

    def oom_fix(self, stage: str) -> str | None:
        return next((t.oom_fixes[stage] for t in self.trainers if stage in t.oom_fixes), None)

    @property
    def value_example(self) -> str | None:
        return next((t.value_example for t in self.trainers if t.value_example), None)

    def found_counts(self, line: str) -> list[tuple[int, str]]:
        """(media found, the stage's message template) for each trainer's dataset count in the line."""
        return [(int(m.group(1)), t.found_nothing) for t in self.trainers if t.found_media and t.found_nothing
                for m in [t.found_media.search(line)] if m]

    @property
    def logs(self) -> list[LogFormat]:
        return list(dict.fromkeys(t.log for t in self.trainers if t.log))


@lru_cache(maxsize=None)  # one per trainer and one for all: a handful
def known_failures(trainer: str | None = None) -> KnownFailures:
    """The failures of that trainer's backend; of every backend in the registry, in its order, when
    the trainer is not known (a log read on its own)."""
    from loragate.backends import BACKENDS, get_backend

    return KnownFailures(tuple(get_backend(name).failures for name in ([trainer] if trainer else BACKENDS)))
