"""What a trainer says in passing that means the run is not what the artist thinks, though it
works: the trainer goes on (or exits 0) and only the log tells.

One table serves the dry run (findings) and the monitor (warnings). The texts are the trainers'
own, seen in their real output (reference real-trainers-on-cpu.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loragate.core.findings import Finding, Severity
from loragate.runs.anomalies import Anomaly


@dataclass(frozen=True)
class QuietProblem:
    code: str
    pattern: re.Pattern[str]
    severity: Severity
    message: str  # may use the pattern's named groups
    fix: str


PROBLEMS: tuple[QuietProblem, ...] = (
    # sd-scripts library/train_util.py: captions missing for some or all images; it trains anyway.
    QuietProblem(
        code="CAPTIONS_MISSING",
        pattern=re.compile(r"No caption file found for (?P<count>\d+) images?\. Training will continue without captions"),
        severity="warn",
        message=("The trainer found no caption file for {count} image(s) and trains them anyway, with an empty caption "
                 "(or the folder's class token, where the dataset names one): those pictures teach the trigger word nothing "
                 "about what is in them."),
        fix=("Give every image a caption file with the plan's caption extension (`loragate audit` lists the images without "
             "one), or check the extension in the plan, then run the dry run again."),
    ),
    # musubi-tuner networks/lora.py LoRANetwork: a network made from a file whose layer names match nothing in the model.
    # With --base_weights (Lightning merged into an expert) this is the silent no-op: the trainer then says "all weights
    # merged" and trains on the plain base (release-named files; loragate.lightning.files).
    QuietProblem(
        code="NOTHING_MERGED",
        pattern=re.compile(r"create LoRA for U-Net/DiT: 0 modules"),
        severity="block",
        message=("The trainer made a LoRA network with no layers: a --base_weights file (such as Lightning) names its layers in "
                 "a way musubi does not read, so nothing was merged and the expert trains on the plain base."),
        fix=("Convert the file to musubi's naming (src/musubi_tuner/convert_lora.py --target default) and put the copy in the "
             "plan; `loragate env` names the file (ENV_LIGHTNING_NAMING)."),
    ),
)


def quiet_problems(lines: list[str]) -> list[tuple[QuietProblem, str, dict[str, str]]]:
    """(problem, the line that shows it, its named groups) for each problem the lines show, once each."""
    found: dict[str, tuple[QuietProblem, str, dict[str, str]]] = {}
    for line in lines:
        for problem in PROBLEMS:
            if problem.code in found:
                continue
            match = problem.pattern.search(line)
            if match:
                found[problem.code] = (problem, line.strip(), match.groupdict())
    return list(found.values())


def quiet_findings(lines: list[str], prefix: str, path: str | None = None) -> list[Finding]:
    return [
        Finding(code=f"{prefix}_{problem.code}", severity=problem.severity, message=problem.message.format(**groups),
                fix=problem.fix, path=path, evidence={"line": line[:500]})
        for problem, line, groups in quiet_problems(lines)
    ]


def quiet_anomalies(seen: dict[str, str]) -> list[Anomaly]:
    """The monitor's warnings for the problems a log parser noted (code -> line)."""
    out: list[Anomaly] = []
    for problem in PROBLEMS:
        line = seen.get(problem.code)
        match = problem.pattern.search(line) if line else None
        if match:
            out.append(Anomaly(code=problem.code, message=f"{problem.message.format(**match.groupdict())} {problem.fix}"))
    return out
