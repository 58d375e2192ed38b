"""Read shell scripts and command-line files into trainer invocations.

Handles bash (`\\` continuations, `#` comments, `VAR=value` and `$VAR`), Windows cmd (`^`, `REM`,
`set VAR=value`, `%VAR%`) and PowerShell (backtick continuations, `$env:VAR`), commands joined by
`&&`, `||`, `;`, `|`, `&` or new lines, `accelerate launch [options] script.py`, `python -m module`,
and `--flag value` / `--flag=value`. Commands that are not a trainer script (cd, pip, echo) are
skipped. Tokens go through shlex, never through a shell.
"""

from __future__ import annotations

import bisect
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from loragate.catalog.flags import FlagSpec, known_scripts, script_flags
from loragate.core.findings import Finding
from loragate.validate.invocation import Invocation, StrayValue, classify_script

Dialect = str  # "bash" | "cmd" | "powershell"

_WINDOWS_PATH = re.compile(r"(?<![\w/])[A-Za-z]:\\")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_NUMBER = re.compile(r"^-\.?\d")
_FD_REDIRECT = re.compile(r"(^|\s)\d+(>>?&?)")
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&"}
_WRAPPERS = {"nohup", "time", "exec", "nice", "sudo", "stdbuf", "caffeinate", "call", "command", "srun"}
_PYTHON = re.compile(r"^(python|python3|python3\.\d+|py|pythonw)(\.exe)?$", re.IGNORECASE)
_PYTHON_VALUE_OPTIONS = {"-X", "-W", "-c"}
# accelerate launch options that take no value (accelerate 1.6 `launch_command_parser`).
_ACCELERATE_SWITCHES = {
    "--cpu", "--multi_gpu", "--tpu", "--ipex", "--use_xpu", "--use_deepspeed", "--use_fsdp", "--use_megatron_lm",
    "-m", "--module", "--no_python", "-q", "--quiet", "--debug", "--same_network", "--dynamo_use_fullgraph",
    "--dynamo_use_dynamic", "--enable_cpu_affinity", "--monitor_interval",
}
_SCRIPT_SUFFIXES = {".sh": "bash", ".bash": "bash", ".zsh": "bash", ".bat": "cmd", ".cmd": "cmd", ".ps1": "powershell"}

# How a command file is split into commands: documented in the module docstring; stable codes below.
SHELL_MISSING_CONTINUATION = "SHELL_MISSING_CONTINUATION"
SHELL_PARSE_ERROR = "SHELL_PARSE_ERROR"
SHELL_TOO_MANY_COMMANDS = "SHELL_TOO_MANY_COMMANDS"
# Bounds that keep the work linear on any input: far beyond a real training script.
EXPANSION_BUDGET = 256 * 1024
MAX_COMMANDS = 500


@dataclass
class _Logical:
    """One command as written, possibly over several physical lines."""

    parts: list[tuple[int, str]] = field(default_factory=list)  # (physical line, text without the mark)
    joined_bare_flags: list[int] = field(default_factory=list)
    text: str = ""
    offsets: list[tuple[int, int]] = field(default_factory=list)  # (offset in text, physical line)

    @property
    def raw(self) -> str:
        return " ".join(body for _, body in self.parts)

    def build(self, variables: dict[str, str]) -> None:
        """Expand variables line by line, so every token keeps the line it was written on."""
        self.text, self.offsets = "", []
        for number, body in self.parts:
            if self.text:
                self.text += " "
            self.offsets.append((len(self.text), number))
            self.text += _expand(body, variables)

    def line_at(self, pos: int) -> int:
        # Binary search: a command continued over 100,000 lines must not cost 100,000 steps per token.
        k = bisect.bisect_right(self.offsets, (pos, float("inf"))) - 1
        return self.offsets[max(k, 0)][1]


@dataclass
class ParsedScript:
    invocations: list[Invocation]
    findings: list[Finding]


def dialect_of(path: Path | None, text: str) -> Dialect:
    if path is not None and path.suffix.lower() in _SCRIPT_SUFFIXES:
        return _SCRIPT_SUFFIXES[path.suffix.lower()]
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if any(ln.endswith(" ^") or ln == "^" for ln in lines):
        return "cmd"
    if any(ln.endswith(" `") for ln in lines):
        return "powershell"
    return "bash"


def _is_comment(stripped: str, dialect: Dialect) -> bool:
    if dialect == "cmd":
        low = stripped.lower()
        return low.startswith("rem ") or low == "rem" or stripped.startswith("::") or low.startswith("@echo")
    return stripped.startswith("#")


def _strip_comment(line: str) -> str:
    """Drop a trailing `# ...` that is outside quotes (lines are joined before shlex sees them)."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1] in " \t"):
            return line[:k].rstrip()
    return line


def _continues(stripped: str, dialect: Dialect) -> tuple[bool, str]:
    mark = {"bash": "\\", "cmd": "^", "powershell": "`"}[dialect]
    if stripped.endswith(mark):
        return True, stripped[: -len(mark)]
    # A bash continuation is what people copy most; accept it in every dialect.
    if dialect != "bash" and stripped.endswith(" \\"):
        return True, stripped[:-1]
    return False, stripped


def _logical_lines(text: str, dialect: Dialect) -> list[_Logical]:
    result: list[_Logical] = []
    current: _Logical | None = None
    continuing = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or _is_comment(stripped, dialect):
            if not continuing:
                current = None
            continue
        if dialect != "cmd":
            stripped = _strip_comment(stripped)
        more, body = _continues(stripped, dialect)
        bare_flag = not continuing and stripped.startswith("-") and current is not None
        if (continuing or bare_flag) and current is not None:
            if bare_flag:
                current.joined_bare_flags.append(number)
            current.parts.append((number, body))
        else:
            current = _Logical(parts=[(number, body)])
            result.append(current)
        continuing = more
    return result


_VAR_PATTERNS = (
    re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}"),
    re.compile(r"\$env:([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%"),
    re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)"),
)


def _expand(text: str, variables: dict[str, str]) -> str:
    """Variables replaced by their values, at most EXPANSION_BUDGET characters added per text: past
    that (a script doubling a variable 30 times) a reference stays as written, like an unknown one."""
    budget = [EXPANSION_BUDGET]

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            value = variables[name]
            if len(value) > budget[0]:
                return match.group(0)
            budget[0] -= len(value)
            return value
        default = match.group(2) if match.re is _VAR_PATTERNS[0] else None
        return default if default is not None else match.group(0)

    for pattern in _VAR_PATTERNS:
        text = pattern.sub(replace, text)
    return text


def _assignment(text: str, dialect: Dialect) -> tuple[str, str] | None:
    """`NAME=value` (bash, also after export), `set NAME=value` (cmd), `$NAME = value` (PowerShell)."""
    m = re.match(r"^(?:export\s+|declare\s+(?:-\w+\s+)?|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", text)
    if m and not re.search(r"\s(python|accelerate)\b", m.group(2)):
        value = m.group(2)
    else:
        m = re.match(r'^set\s+"?([A-Za-z_][A-Za-z0-9_]*)=(.*?)"?$', text, re.IGNORECASE)
        if not m:
            m = re.match(r"^\$(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", text)
        if not m:
            return None
        value = m.group(2)
    try:
        parts = shlex.split(value, posix=True) if dialect == "bash" and not _WINDOWS_PATH.search(value) else None
    except ValueError:
        parts = None
    if parts is None:
        parts = [value.strip().strip("'\"")]
    return m.group(1), " ".join(parts)


def _tokens(text: str, dialect: Dialect) -> list[tuple[str, int, bool]]:
    """(token, end offset, is_operator) — an operator is an unquoted run of ;&|<>() characters."""
    text = _FD_REDIRECT.sub(r"\1\2", text)  # `2>&1` -> `>&1`: the descriptor number is not an argument
    stream = io.StringIO(text)
    lex = shlex.shlex(stream, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "" if dialect == "cmd" else "#"
    if dialect != "bash" or _WINDOWS_PATH.search(text):
        lex.escape = ""
    out: list[tuple[str, int, bool]] = []
    # Positions are approximate by one character (shlex reads one ahead); enough for line numbers.
    while True:
        before = stream.tell()
        token = lex.get_token()
        if token is None or token == lex.eof:
            break
        after = stream.tell()
        raw = text[before:after].lstrip()
        is_op = bool(token) and all(c in "();<>|&" for c in token) and not raw.startswith(("'", '"'))
        out.append((token, after, is_op))
    return out


def _split(tokens: list[tuple[str, int, bool]]) -> list[list[tuple[str, int]]]:
    commands: list[list[tuple[str, int]]] = [[]]
    skip_next = False
    for token, pos, is_op in tokens:
        if skip_next:
            skip_next = False
            continue
        if is_op and ("<" in token or ">" in token):
            skip_next = True
            continue
        if is_op and token in _SEPARATORS | {"&&&", ";&"} or (is_op and set(token) <= set("&|;()")):
            commands.append([])
            continue
        commands[-1].append((token, pos))
    return [c for c in commands if c]


def _base(token: str) -> str:
    return token.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _script_from_module(module: str) -> str:
    return module.rsplit(".", 1)[-1] + ".py"


def _is_flag(token: str) -> bool:
    return token.startswith("-") and len(token) > 1 and not _NUMBER.match(token)


class _Where(Protocol):
    def at(self, pos: int) -> str: ...


@dataclass
class _Located:
    file: str
    logical: _Logical

    def at(self, pos: int) -> str:
        return f"{self.file}:{self.logical.line_at(max(pos - 1, 0))}"


@dataclass
class _AtLine:
    """Tokens whose position is already their line number (a Python launcher's list)."""

    file: str

    def at(self, pos: int) -> str:
        return f"{self.file}:{pos}"


def _launcher_options(tokens: list[tuple[str, int]], i: int) -> tuple[dict[str, list[str]], int, bool]:
    """accelerate launch options up to the script; returns (options, index of script, module mode)."""
    options: dict[str, list[str]] = {}
    module = False
    while i < len(tokens):
        token = tokens[i][0]
        if not _is_flag(token):
            return options, i, module
        name, eq, value = token.partition("=")
        if name in ("-m", "--module"):
            module = True
            options[name] = []
            i += 1
            continue
        if eq:
            options.setdefault(name, []).append(value)
            i += 1
        elif name in _ACCELERATE_SWITCHES:
            options[name] = []
            i += 1
        else:
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
            if nxt is not None and not _is_flag(nxt) and not nxt.endswith(".py"):
                options.setdefault(name, []).append(nxt)
                i += 2
            else:
                options[name] = []
                i += 1
    return options, i, module


def _find_script(tokens: list[tuple[str, int]]) -> tuple[str, int, dict[str, list[str]], dict[str, str]] | None:
    """(script base name, index of its first argument, launcher options, env) or None."""
    env: dict[str, str] = {}
    i = 0
    while i < len(tokens) and _ASSIGN.match(tokens[i][0]):
        name, _, value = tokens[i][0].partition("=")
        env[name] = value
        i += 1
    while i < len(tokens):
        base = _base(tokens[i][0]).lower()
        if base in _WRAPPERS:
            i += 1
        elif base == "env":
            i += 1
            while i < len(tokens) and (_ASSIGN.match(tokens[i][0]) or tokens[i][0].startswith("-")):
                if _ASSIGN.match(tokens[i][0]):
                    name, _, value = tokens[i][0].partition("=")
                    env[name] = value
                i += 1
        elif base in ("uv", "poetry", "pipenv") and i + 1 < len(tokens) and tokens[i + 1][0] == "run":
            i += 2
        elif base == "conda" and i + 1 < len(tokens) and tokens[i + 1][0] == "run":
            i += 2
            while i < len(tokens) and _is_flag(tokens[i][0]):
                i += 2 if tokens[i][0] in ("-n", "--name", "-p", "--prefix") else 1
        else:
            break
    if i >= len(tokens):
        return None
    first = _base(tokens[i][0])
    launcher: dict[str, list[str]] = {}
    if first.lower() in ("accelerate", "accelerate.exe") and i + 1 < len(tokens) and tokens[i + 1][0] == "launch":
        launcher, i, as_module = _launcher_options(tokens, i + 2)
        if i >= len(tokens):
            return None
        target = tokens[i][0]
        script = _script_from_module(target) if as_module and not target.endswith(".py") else _base(target)
        return script, i + 1, launcher, env
    if _PYTHON.match(first) or first.lower().endswith("/python"):
        i += 1
        while i < len(tokens) and _is_flag(tokens[i][0]) and tokens[i][0] != "-m":
            i += 2 if tokens[i][0] in _PYTHON_VALUE_OPTIONS else 1
        if i >= len(tokens):
            return None
        if tokens[i][0] == "-m" and i + 1 < len(tokens):
            module = tokens[i + 1][0]
            if module in ("accelerate.commands.launch", "accelerate"):
                j = i + 3 if module == "accelerate" and i + 2 < len(tokens) and tokens[i + 2][0] == "launch" else i + 2
                launcher, j, as_module = _launcher_options(tokens, j)
                if j >= len(tokens):
                    return None
                target = tokens[j][0]
                script = _script_from_module(target) if as_module and not target.endswith(".py") else _base(target)
                return script, j + 1, launcher, env
            return _script_from_module(module), i + 2, launcher, env
        return _base(tokens[i][0]), i + 1, launcher, env
    if first.endswith(".py"):
        return first, i + 1, launcher, env
    return None


def _lookup(flag: str, specs: dict[str, FlagSpec]) -> tuple[str, FlagSpec | None]:
    """argparse accepts a unique prefix of a flag (allow_abbrev); resolve it the same way."""
    if flag in specs:
        return flag, specs[flag]
    matches = [name for name in specs if name.startswith(flag)]
    if len(matches) == 1 and len(flag) > 3:
        return matches[0], specs[matches[0]]
    return flag, None


def parse_arguments(
    tokens: list[tuple[str, int]], specs: dict[str, FlagSpec], where: _Where | None, inv: Invocation
) -> None:
    """Fill inv.args from tokens, taking as many values as each flag's argparse spec takes."""
    i = 0
    last_flag = ""
    while i < len(tokens):
        token, pos = tokens[i]
        line = where.at(pos) if where else inv.source
        if not _is_flag(token):
            inv.stray.append(StrayValue(value=token, after=last_flag, where=line))
            i += 1
            continue
        written, eq, inline = token.partition("=")
        name, spec = _lookup(written, specs)
        if name != written:
            inv.abbreviated[name] = written
        if name in inv.args and spec is not None and spec.takes_many:
            inv.args[name] = []  # argparse keeps only the last occurrence of an nargs="*" flag
        values = inv.args.setdefault(name, [])
        inv.occurrences[name] = inv.occurrences.get(name, 0) + 1
        inv.flag_sources[name] = line
        last_flag = name
        i += 1
        if eq:
            values.append(inline)
            continue
        if spec is not None and spec.is_switch:
            continue
        many = spec is None or spec.takes_many
        while i < len(tokens) and not _is_flag(tokens[i][0]):
            values.append(tokens[i][0])
            i += 1
            if not many:
                break


def flags_for(script: str) -> dict[str, FlagSpec]:
    return script_flags(script) if script in known_scripts() else {}


def parse_script_text(text: str, file: str = "<command>", path: Path | None = None, start_index: int = 0) -> ParsedScript:
    """Every trainer command in a script or command-line file, in order."""
    dialect = dialect_of(path, text)
    is_script_file = path is not None and path.suffix.lower() in _SCRIPT_SUFFIXES
    variables: dict[str, str] = {}
    invocations: list[Invocation] = []
    findings: list[Finding] = []
    for logical in _logical_lines(text, dialect):
        assignment = _assignment(logical.raw, dialect)
        if assignment is not None:
            name, value = assignment
            variables[name] = _expand(value, variables)
            continue
        logical.build(variables)
        located = _Located(file, logical)
        try:
            tokens = _tokens(logical.text, dialect)
        except ValueError as exc:
            findings.append(Finding(
                code=SHELL_PARSE_ERROR, severity="block", path=file,
                message=f"Line {logical.offsets[0][1]} cannot be read as a command ({exc}); a quote is probably not closed.",
                fix="Close the quote or remove the stray quote character.",
                evidence={"file": file, "line": logical.offsets[0][1]},
            ))
            continue
        for command in _split(tokens):
            if len(invocations) >= MAX_COMMANDS:
                findings.append(Finding(
                    code=SHELL_TOO_MANY_COMMANDS, severity="block", path=file,
                    message=f"{file} runs more than {MAX_COMMANDS} trainer commands; only the first {MAX_COMMANDS} were checked.",
                    fix="Split it into one script per training run.",
                    evidence={"file": file, "line": logical.offsets[0][1]},
                ))
                return ParsedScript(invocations=invocations, findings=findings)
            found = _find_script(command)
            if found is None:
                continue
            script, first_arg, launcher, env = found
            trainer, stage = classify_script(script)
            if trainer is None and stage == "unknown":
                continue
            inv = Invocation(script=script, stage=stage, trainer=trainer, launcher_args=launcher, env=env,
                             source=located.at(command[0][1]), file=file,
                             index=start_index + len(invocations))
            parse_arguments(command[first_arg:], flags_for(script), located, inv)
            invocations.append(inv)
            if logical.joined_bare_flags:
                # sd-scripts docs/sdxl_train_network.md prints its example without `\`; in a shell each
                # such line runs as its own (failing) command.
                lines = logical.joined_bare_flags
                findings.append(Finding(
                    code=SHELL_MISSING_CONTINUATION, severity="block" if is_script_file else "warn", path=file,
                    message=(f"Lines {lines[0]}-{lines[-1]} start with a flag, but the line before does not end "
                             f"with a continuation mark, so a shell runs them as separate commands and "
                             f"{script} starts without those flags. They were read as one command here."),
                    fix={"cmd": "End each line except the last with ' ^'.",
                         "powershell": "End each line except the last with ' `'."}.get(
                        dialect, "End each line except the last with ' \\'."),
                    evidence={"file": file, "line": lines[0], "lines": lines, "script": script},
                ))
    return ParsedScript(invocations=invocations, findings=findings)


def parse_argv(argv: list[str], source: str = "<plan>", index: int = 0) -> Invocation | None:
    """An argv list (as a plan stores it) read the same way as a script line."""
    return _parse_tokens([(token, 0) for token in argv], source, source.rpartition(":")[0] or source, None, index,
                         any_script=True)


def parse_lined_argv(tokens: list[tuple[str, int]], file: str, index: int = 0) -> Invocation | None:
    """An argv whose tokens carry the line they were written on, e.g. a list in a Python launcher."""
    if not tokens:
        return None
    return _parse_tokens(tokens, f"{file}:{tokens[0][1]}", file, _AtLine(file), index, any_script=False)


def _parse_tokens(tokens: list[tuple[str, int]], source: str, file: str, where: _Where | None,
                  index: int, any_script: bool) -> Invocation | None:
    found = _find_script(tokens)
    if found is None:
        return None
    script, first_arg, launcher, env = found
    trainer, stage = classify_script(script)
    if trainer is None and stage == "unknown" and not any_script:
        return None
    inv = Invocation(script=script, stage=stage, trainer=trainer, launcher_args=launcher, env=env,
                     source=source, file=file, index=index)
    parse_arguments(tokens[first_arg:], flags_for(script), where, inv)
    return inv
