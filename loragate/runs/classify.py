"""Why a trainer step failed, in plain words with the fix, from its exit code and the end of its log.

One table of rules, tried in order; the first that matches wins. The texts matched here are
PyTorch's, Python's and Hugging Face's; what each trainer prints and means (its model-file flags,
its own error lines, its install command) its backend states (loragate.backends.failures). The
dry run reports findings with DRY_ codes, the supervisor with RUN_ codes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Callable, Literal

from pydantic import BaseModel, Field

from loragate.backends.failures import KnownFailures, TrainerText, known_failures
from loragate.core.findings import Finding
from loragate.runs.richlog import log_lines
from loragate.validate.invocation import classify_script

FailureKind = Literal[
    "bad_flag",
    "missing_module",
    "driver_mismatch",
    "cuda_oom",
    "host_oom",
    "weights_missing",
    "weights_corrupt",
    "weights_wrong_keys",
    "tokenizer_missing",
    "caption_encoding",
    "caption_empty",
    "no_samples",
    "nothing_trained",
    "nan_loss",
    "nan_latents",
    "timeout",
    "killed",
    "trainer_error",
    "exit_code",
]

# Each phrase reads after "while" ("The GPU ran out of memory while caching latents.").
STAGE_WORDS = {
    "cache_latents": "caching latents",
    "cache_text_encoder": "caching the text-encoder outputs",
    "train": "training",
}
LOADING = "loading the model"
STEPPING = "running a training step"
# Which phase of the VRAM estimate (loragate.vram) each moment of an OOM belongs to: loading the
# model is the start of the training phase; sd-scripts caches latents inside its training script.
OOM_PHASES = {
    STAGE_WORDS["cache_latents"]: "latent_caching",
    STAGE_WORDS["cache_text_encoder"]: "text_encoder_caching",
    LOADING: "training",
    STEPPING: "training",
}

# Module -> what to pip install when its name is not the package's.
PIP_NAMES = {
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "sklearn": "scikit-learn",
    "flash_attn": "flash-attn",
    "lion_pytorch": "lion-pytorch",
    "lycoris": "lycoris-lora",
    "google": "protobuf",
    "skimage": "scikit-image",
    "huggingface_hub": "huggingface-hub",
}


class Failure(BaseModel):
    """A classified failure of one trainer step."""

    kind: FailureKind
    code: str = Field(description="DRY_... in a dry run, RUN_... in a launched run.")
    stage: str = Field(description="The plan stage that failed: cache_latents, cache_text_encoder or train.")
    where: str = Field(description="What was going on, as it reads after 'while' (e.g. 'caching latents', 'running a training step').")
    message: str
    fix: str
    flag: str | None = Field(default=None, description="The trainer flag concerned, when one is.")
    phase: str | None = Field(
        default=None, description="For an OOM: the VRAM phase that ran out (training, text_encoder_caching or latent_caching)."
    )
    exit_code: int | None = None
    evidence: str = Field(default="", description="The log line that gave it away.")

    @property
    def is_cuda_oom(self) -> bool:
        return self.kind == "cuda_oom"

    def finding(self, path: str | None = None) -> Finding:
        return Finding(
            code=self.code,
            severity="block",
            message=self.message,
            fix=self.fix,
            path=path,
            evidence={"stage": self.stage, "where": self.where, "phase": self.phase, "flag": self.flag,
                      "exit_code": self.exit_code, "line": self.evidence},
        )


@dataclass
class StepOutcome:
    """What is known about a finished step; the input of the rules."""

    stage: str
    exit_code: int | None
    log: str
    argv: list[str]
    steps_completed: int = 0
    timed_out: bool = False
    trainer_python: str | None = None
    caption_extension: str | None = None

    @cached_property
    def known(self) -> KnownFailures:
        """Every trainer's failures: a line is recognised whatever the command says."""
        return known_failures()

    @cached_property
    def own(self) -> KnownFailures:
        """The failures of the trainer whose script the step runs, for the fixes, which name that
        trainer's options; every trainer's when the command does not say."""
        script = next((PurePosixPath(a.replace("\\", "/")).name for a in self.argv if a.endswith(".py")), "")
        trainer = classify_script(script)[0] if script else None
        return known_failures(trainer) if trainer else self.known

    @cached_property
    def files(self) -> dict[str, str]:
        """flag -> path of the model files the command names (its backend says which flags those are)."""
        return self.known.model_files(self.argv)

    @cached_property
    def lines(self) -> list[str]:
        # rich wraps a long record over several lines; its texts are matched whole
        return log_lines(self.log)

    def first(self, *patterns: str) -> str | None:
        """The first log line containing any of the texts (case-sensitive, as printed)."""
        for line in self.lines:
            if any(p in line for p in patterns):
                return line
        return None

    def said(self, kind: str, *general: str) -> tuple[str, TrainerText | None] | None:
        """The first log line holding one of the general texts or a trainer's text for this kind of
        failure, with that trainer's words for it (None for a general text)."""
        entries = self.known.texts(kind)
        for line in self.lines:
            if any(p in line for p in general):
                return line, None
            entry = next((e for e in entries if any(t in line for t in e.texts)), None)
            if entry is not None:
                return line, entry
        return None

    def last_re(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = None
        for line in self.lines:
            m = pattern.search(line)
            if m:
                found = m
        return found


Rule = Callable[[StepOutcome], "tuple[FailureKind, str, str, str | None, str] | None"]
# A rule returns (kind, message, fix, flag, evidence line) or None.


def _weight_flag(o: StepOutcome, line: str | None = None, want_missing: bool = False) -> str | None:
    """Which weight flag a failure is about: the one whose path the log names, else (for a missing
    file) the one whose path does not exist, else the stage's main model."""
    values = o.files
    present = list(values)
    text = line if line is not None else o.log
    for flag in present:
        path = values[flag]
        if path and (path in text or (os.path.basename(path) and os.path.basename(path) in text)):
            return flag
    if want_missing:
        for flag in present:
            if not Path(values[flag]).exists():
                return flag
    by_stage = o.known.stage_weight(o.stage)
    if by_stage:
        return by_stage
    for flag in o.known.main_weights:
        if flag in values:
            return flag
    return present[0] if present else None


def _flag_phrase(o: StepOutcome, flag: str | None) -> str:
    if flag is None:
        return "a model file"
    value = o.files.get(flag)
    shown = f" ({value})" if value else ""
    return f"{o.known.weight_words(flag) or 'the file'} given with {flag}{shown}"


def _upper_first(text: str) -> str:
    """The text with a capital first letter; str.capitalize() would also lower 'DiT' and 'VAE'."""
    return text[:1].upper() + text[1:]


def _oom_where(o: StepOutcome) -> str:
    """At which moment memory ran out, in words: the caching stages, loading the model, or a training step."""
    if o.stage in ("cache_latents", "cache_text_encoder"):
        return STAGE_WORDS[o.stage]
    logs = o.known.logs
    stepping = tuple(m for log in logs for m in log.stepping)
    bars = tuple(f"{log.progress}:" for log in logs)
    latents = tuple(m for log in logs for m in log.caching_latents)
    text_encoder = tuple(m for log in logs for m in log.caching_text_encoder)
    marker = None
    for line in o.lines:
        low = line.lower()
        if any(m in low for m in stepping) or low.startswith(bars):
            marker = STEPPING
        elif any(m in low for m in latents) and marker is None:
            marker = STAGE_WORDS["cache_latents"]
        elif any(m in low for m in text_encoder) and marker is None:
            marker = STAGE_WORDS["cache_text_encoder"]
    if o.steps_completed > 0:
        return STEPPING
    return marker or LOADING


# --- rules, in the order they are tried ------------------------------------------------------

_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: (.*)$")
_REQUIRED = re.compile(r"error: the following arguments are required: (.*)$")
_BAD_VALUE = re.compile(r"error: argument (--\S+?)(?:/\S+)?: (invalid .*)$")


def _rule_argparse(o: StepOutcome):
    m = o.last_re(_REQUIRED)
    if m:
        flags = [f.strip() for f in m.group(1).split(",")]
        weight = next((f for f in flags if f in o.known.weight_flags), None)
        if weight:
            words = o.known.weight_words(weight)
            return (
                "weights_missing",
                f"The trainer stopped before {STAGE_WORDS.get(o.stage, o.stage)}: {words} was not given ({weight}).",
                f"Set the path of {words} in the plan, then run `loragate plan check` again.",
                weight,
                m.group(0),
            )
        return (
            "bad_flag",
            f"The trainer needs arguments the plan did not give: {m.group(1)}.",
            "Re-create the plan with `loragate plan new`; if you edited plan.json by hand, add those settings.",
            flags[0],
            m.group(0),
        )
    m = o.last_re(_UNRECOGNIZED)
    if m:
        unknown = [a for a in m.group(1).split() if a.startswith("--")]
        return (
            "bad_flag",
            f"This trainer version does not know the option(s) {', '.join(unknown) or m.group(1)}: "
            "the installed trainer is older or newer than the one the plan was written for.",
            "Update the trainer checkout (git pull, then pip install -e . in its venv) or remove the option "
            "from the plan, then run `loragate env` and `loragate plan check` again.",
            unknown[0] if unknown else None,
            m.group(0),
        )
    m = o.last_re(_BAD_VALUE)
    if m:
        example = o.own.value_example
        return (
            "bad_flag",
            f"The trainer rejected the value of {m.group(1)}: {m.group(2)}.",
            f"Fix {m.group(1)} in the plan{f' (for example {example})' if example else ''}, then check the plan again.",
            m.group(1),
            m.group(0),
        )
    return None


# huggingface_hub / transformers offline, or without a network, with nothing in the cache
_OFFLINE_TEXTS = (
    "We couldn't connect to 'https://huggingface.co' to load the files",
    "outgoing traffic has been disabled. To enable hf.co look-ups and downloads online, set 'HF_HUB_OFFLINE=0'",
    "Cannot find the requested files in the disk cache and outgoing traffic has been disabled",
)


def _rule_offline_tokenizer(o: StepOutcome):
    line = o.first(*_OFFLINE_TEXTS)
    if not line:
        return None
    return (
        "tokenizer_missing",
        (f"The trainer fetches a tokenizer from Hugging Face while {STAGE_WORDS.get(o.stage, o.stage)}, but this machine "
         "is offline (or cannot reach huggingface.co) and the tokenizer is not in its Hugging Face cache."),
        ("Run `loragate env` (Gate 3): it names each tokenizer the plan needs and whether it is cached. Download them "
         "once where there is internet into the same HF_HOME (`huggingface-cli download REPO --include 'SUBFOLDER/*'`), "
         "then run the dry run again."),
        None,
        line,
    )


_NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")


def _rule_missing_module(o: StepOutcome):
    m = o.last_re(_NO_MODULE)
    if not m:
        return None
    module = m.group(1)
    top = module.split(".")[0]
    python = o.trainer_python or "the trainer's python"
    if o.known.is_own_package(top):
        fix = f"The trainer's own code ({top}) cannot be imported: run {o.own.install(python)} inside the trainer's folder."
    else:
        package = PIP_NAMES.get(top, top.replace("_", "-"))
        fix = f"Install it into the trainer's environment: `{python} -m pip install {package}`, then run `loragate env` again."
    return ("missing_module", f"The trainer needs the Python package '{module}', which is not installed in its environment.", fix, None, m.group(0))


_DRIVER_TEXTS = (
    "CUDA driver version is insufficient for CUDA runtime version",
    "no kernel image is available for execution on the device",
    "Found no NVIDIA driver on your system",
    "The NVIDIA driver on your system is too old",
    "Torch not compiled with CUDA enabled",
    "is not compatible with the current PyTorch installation",
    "CUDA error: forward compatibility was attempted on non supported HW",
    "cuDNN version incompatibility",
)


def _rule_driver(o: StepOutcome):
    line = o.first(*_DRIVER_TEXTS)
    if not line:
        return None
    return (
        "driver_mismatch",
        "The GPU driver, CUDA and the trainer's PyTorch build do not match, so PyTorch cannot use this GPU.",
        "Run `loragate env` (Gate 3): it names the PyTorch build that fits this driver and card and the exact "
        "pip command that installs it into the trainer's environment.",
        None,
        line,
    )


_OOM_TEXTS = ("CUDA out of memory", "OutOfMemoryError", "CUDA error: out of memory", "CUBLAS_STATUS_ALLOC_FAILED")


_CACHING_BY_WORDS = {STAGE_WORDS[s]: s for s in ("cache_latents", "cache_text_encoder")}


def _rule_cuda_oom(o: StepOutcome):
    line = o.first(*_OOM_TEXTS)
    if not line:
        return None
    where = _oom_where(o)
    caching = _CACHING_BY_WORDS.get(where)
    trainers_fix = o.own.oom_fix(caching) if caching else None
    if trainers_fix:
        fix = trainers_fix
    elif where == LOADING:
        fix = "Load the model in fp8 (fp8_base with fp8_scaled) or swap more blocks to the CPU; `loragate plan check` shows the fit plan."
    else:
        fix = "Give up memory, cheapest first: a smaller batch, gradient checkpointing, more block swap, fp8 weights, then shorter clips."
    return ("cuda_oom", f"The GPU ran out of memory while {where}.", fix, None, line)


_SIGKILL_TEXTS = ("died with <Signals.SIGKILL: 9>", "returned non-zero exit status -9", "returned non-zero exit status 137")


def _rule_host_oom(o: StepOutcome):
    line = o.first(*_SIGKILL_TEXTS)
    killed = o.exit_code in (137, -9) or (o.lines and o.lines[-1] == "Killed")
    if not (line or killed):
        return None
    how = f"exit {o.exit_code}" if o.exit_code in (137, -9) else "SIGKILL"  # accelerate's line names the signal, not our exit code
    return (
        "host_oom",
        f"The trainer was killed without an error message while {STAGE_WORDS.get(o.stage, o.stage)} ({how}): "
        "almost always the computer ran out of main memory (RAM), not the GPU.",
        "Use fewer swapped blocks or offloading (both keep weights in RAM), fewer data-loader workers, a machine "
        "with more RAM, or add swap space. `dmesg | grep -i oom` confirms it.",
        None,
        line or (o.lines[-1] if o.lines else f"exit code {o.exit_code}"),
    )


_NOT_FOUND = re.compile(r"(?:FileNotFoundError|No such file or directory|does not exist|is not a valid model identifier|Repository Not Found)")


def _rule_weights_missing(o: StepOutcome):
    said = o.said("weights_missing")
    if said and said[1] is not None and said[1].flag:
        line, needed = said[0], said[1].flag
        return (
            "weights_missing",
            f"{_upper_first(o.known.weight_words(needed) or 'the model file')} was not given ({needed}).",
            "Set its path in the plan, then run `loragate env` and `loragate plan check` again.",
            needed,
            line,
        )
    weight_paths = list(o.files.values())
    absent = [p for p in weight_paths if not Path(p).exists()]
    for candidate in o.lines:
        if not _NOT_FOUND.search(candidate):
            continue
        named = any(p in candidate or os.path.basename(p) in candidate for p in weight_paths)
        if named or (absent and "FileNotFoundError" in candidate):
            flag = _weight_flag(o, candidate, want_missing=True)
            return (
                "weights_missing",
                f"The trainer cannot find {_flag_phrase(o, flag)}.",
                "Download the file or fix its path in the plan; `loragate env` checks every weight file the plan names.",
                flag,
                candidate,
            )
    return None


_CORRUPT_TEXTS = (
    "Error while deserializing header",
    "HeaderTooLarge",
    "MetadataIncompleteBuffer",
    "InvalidHeaderDeserialization",
    "SafetensorError",
    "invalid load key",
    "failed finding central directory",
    "PytorchStreamReader failed",
    "unexpected EOF",
)


# musubi's DiT loader reads tensors straight from the file's bytes: a file cut short gives a view of
# the wrong size (reference real-trainers-on-cpu.md: "shape '[1536, 8960]' is invalid for input of size ...").
_SHORT_TENSOR = re.compile(r"shape '\[[\d, ]+\]' is invalid for input of size \d+")


def _rule_weights_corrupt(o: StepOutcome):
    line = o.first(*_CORRUPT_TEXTS)
    if not line and o.steps_completed == 0:
        match = o.last_re(_SHORT_TENSOR)
        line = next((x for x in o.lines if match and match.group(0) in x), None) if match else None
    if not line:
        return None
    flag = _weight_flag(o)
    return (
        "weights_corrupt",
        (f"{_upper_first(_flag_phrase(o, flag))} is damaged or incomplete (cut short, or its header cannot be read); "
         "usually an interrupted download."),
        "Download it again and compare its size with the published one; `loragate env` reads every weight header.",
        flag,
        line,
    )


def _rule_wrong_keys(o: StepOutcome):
    line = o.first("Missing key(s) in state_dict", "Unexpected key(s) in state_dict", "size mismatch for")
    if line:
        flag = _weight_flag(o)
        return (
            "weights_wrong_keys",
            f"{_upper_first(_flag_phrase(o, flag))} does not fit the model the plan trains: its layers have other names or "
            "shapes (for example Wan 2.2 I2V weights with the Wan 2.1 task, or I2V weights with a T2V task).",
            "Check that the task/model in the plan matches the file (`loragate env` compares the weight headers with the plan).",
            flag,
            line,
        )
    said = o.said("weights_wrong_keys")  # a trainer's own words for a model or cache of another kind
    if said and said[1] is not None and said[1].message and said[1].fix:
        return ("weights_wrong_keys", said[1].message, said[1].fix, said[1].flag, said[0])
    return None


def _rule_captions(o: StepOutcome):
    said = o.said("caption_encoding", "UnicodeDecodeError")
    if said:
        return (
            "caption_encoding",
            "A caption file is not valid UTF-8 text, so the trainer cannot read it.",
            "Re-save the caption files as UTF-8; `loragate audit DATASET --name NAME` lists the files that are not.",
            None,
            said[0],
        )
    said = o.said("caption_empty")
    if said:
        return (
            "caption_empty",
            "A caption file is empty.",
            "Write a caption in every caption file (or delete the empty file); `loragate audit` lists them.",
            None,
            said[0],
        )
    return None


def _rule_no_samples(o: StepOutcome):
    said = o.said("no_samples")
    if not said:
        return None
    line, entry = said
    fix = (entry.fix if entry else None) or "Check the dataset folders and the caption extension in the plan, then run `loragate audit` again."
    return ("no_samples", "The trainer found no training samples in the dataset, so nothing was trained.", fix, None, line)


def _rule_cached_nothing(o: StepOutcome):
    counts = [(line, n, said) for line in o.lines for n, said in o.known.found_counts(line)]
    if o.stage not in ("cache_latents", "cache_text_encoder") or not counts or any(n for _, n, _ in counts):
        return None
    ext = o.caption_extension
    return (
        "no_samples",
        counts[0][2].format(doing=STAGE_WORDS[o.stage].capitalize()),
        "Give every image and clip a caption file with the plan's caption extension"
        + (f" ({ext})" if ext else " (dataset.caption_extension in plan.json)")
        + " and check the dataset folders in the plan (`loragate audit` lists media without captions), then run the dry run again.",
        None,
        counts[0][0],
    )


def _rule_nan(o: StepOutcome):
    said = o.said("nan_latents")
    if said and said[1] is not None and said[1].message and said[1].fix:
        return ("nan_latents", said[1].message, said[1].fix, said[1].flag, said[0])
    line = o.first("avr_loss=nan", "loss=nan")
    if line:
        return (
            "nan_loss",
            "The loss became NaN: the training diverged.",
            "Lower the learning rate; for FLUX or on GTX 16xx cards use bf16 instead of fp16.",
            None,
            line,
        )
    return None


_EXCEPTION = re.compile(r"(?:^|\s)((?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Interrupt)):\s*(.*)$")


def _last_exception(o: StepOutcome) -> str | None:
    found = None
    for line in o.lines:
        m = _EXCEPTION.search(line)
        if m and "CalledProcessError" not in m.group(1):
            found = f"{m.group(1)}: {m.group(2)}".strip()
    return found


def _rule_generic(o: StepOutcome):
    if o.timed_out:
        return (
            "timeout",
            f"{STAGE_WORDS.get(o.stage, o.stage).capitalize()} did not finish within its time limit and was stopped.",
            "Look at the end of the log for where it hung; a first run may be downloading tokenizers, which an "
            "offline machine cannot do (set HF_HUB_OFFLINE=1 with the tokenizers cached).",
            None,
            o.lines[-1] if o.lines else "",
        )
    exc = _last_exception(o)
    if o.exit_code not in (0, None) and exc:
        return (
            "trainer_error",
            f"The trainer stopped with an error while {STAGE_WORDS.get(o.stage, o.stage)}: {exc}",
            "Read the last lines of the log; fix the setting or file it names, then run the dry run again.",
            None,
            exc,
        )
    if o.exit_code is not None and o.exit_code < 0:
        return (
            "killed",
            f"The trainer was stopped by signal {-o.exit_code} while {STAGE_WORDS.get(o.stage, o.stage)}.",
            "Something outside the trainer stopped it; run it again, and check whether another tool kills long jobs.",
            None,
            f"exit code {o.exit_code}",
        )
    if o.exit_code not in (0, None):
        return (
            "exit_code",
            f"The trainer exited with code {o.exit_code} while {STAGE_WORDS.get(o.stage, o.stage)}, without a recognisable error.",
            "Read the end of the log for the cause.",
            None,
            o.lines[-1] if o.lines else f"exit code {o.exit_code}",
        )
    return None


def _rule_nothing_trained(o: StepOutcome):
    if o.stage == "train" and o.exit_code == 0 and o.steps_completed == 0:
        return (
            "nothing_trained",
            "The trainer finished without error but did not train a single step.",
            "Usually the dataset is empty for the trainer (wrong folder, caption extension or missing caches); "
            "run `loragate audit` and the dry run again and read the log's dataset summary.",
            None,
            o.lines[-1] if o.lines else "exit code 0",
        )
    return None


RULES: list[Rule] = [
    _rule_argparse,
    _rule_offline_tokenizer,
    _rule_missing_module,
    _rule_driver,
    _rule_cuda_oom,
    _rule_weights_missing,
    _rule_weights_corrupt,
    _rule_wrong_keys,
    _rule_captions,
    _rule_no_samples,
    _rule_nan,
    _rule_host_oom,
    _rule_generic,
    _rule_nothing_trained,
]

CODE_SUFFIX: dict[str, str] = {
    "bad_flag": "BAD_FLAG",
    "missing_module": "MISSING_MODULE",
    "driver_mismatch": "DRIVER_MISMATCH",
    "cuda_oom": "CUDA_OOM",
    "host_oom": "HOST_OOM",
    "weights_missing": "WEIGHTS_MISSING",
    "weights_corrupt": "WEIGHTS_CORRUPT",
    "weights_wrong_keys": "WEIGHTS_WRONG_KEYS",
    "tokenizer_missing": "TOKENIZER_MISSING",
    "caption_encoding": "CAPTION_ENCODING",
    "caption_empty": "CAPTION_EMPTY",
    "no_samples": "NO_SAMPLES",
    "nothing_trained": "NOTHING_TRAINED",
    "nan_loss": "NAN_LOSS",
    "nan_latents": "NAN_LATENTS",
    "timeout": "TIMEOUT",
    "killed": "KILLED",
    "trainer_error": "TRAINER_ERROR",
    "exit_code": "EXIT_CODE",
}


def classify_failure(
    stage: str,
    exit_code: int | None,
    log: str,
    argv: list[str] | None = None,
    *,
    steps_completed: int = 0,
    timed_out: bool = False,
    prefix: Literal["DRY", "RUN"] = "DRY",
    trainer_python: str | None = None,
    caption_extension: str | None = None,
) -> Failure | None:
    """The failure of one step, or None when the step worked. `caption_extension`: the plan's, for
    the words of a caching step that found no captioned media.

    A caching step works when it exits 0. A training step works when it exits 0 having trained at
    least one step (sd-scripts exits 0 when it finds no data, sd-scripts.md §6.2) and shows no NaN.
    """
    outcome = StepOutcome(
        stage=stage,
        exit_code=exit_code,
        log=log,
        argv=list(argv or []),
        steps_completed=steps_completed,
        timed_out=timed_out,
        trainer_python=trainer_python,
        caption_extension=caption_extension,
    )
    if exit_code == 0 and not timed_out:
        # a step that exits 0 can still have done nothing (sd-scripts.md §6.2; musubi caching an empty dataset)
        rules: list[Rule] = [_rule_no_samples, _rule_nan, _rule_nothing_trained] if stage == "train" else [_rule_cached_nothing]
    else:
        rules = RULES
    for rule in rules:
        hit = rule(outcome)
        if hit:
            kind, message, fix, flag, evidence = hit
            where = _oom_where(outcome) if kind == "cuda_oom" else STAGE_WORDS.get(stage, stage)
            return Failure(
                kind=kind,
                code=f"{prefix}_{CODE_SUFFIX[kind]}",
                stage=stage,
                where=where,
                phase=OOM_PHASES.get(where) if kind == "cuda_oom" else None,
                message=message,
                fix=fix,
                flag=flag,
                exit_code=exit_code,
                evidence=evidence[:500],
            )
    return None


def read_tail(path: Path, max_bytes: int = 256 * 1024) -> str:
    """The end of a log, decoded leniently (trainers print bytes that are not UTF-8)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
