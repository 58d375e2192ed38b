"""Read a Python launcher script into trainer commands without running it.

Launchers (RunPod `train_*.py` scripts and the like) keep a config block of constants
(`OUTPUT_NAME = "mira"`, `LR = 2e-4`) and build the trainer command as a list or a string, which
they hand to subprocess. This reads them with `ast` only: constants, f-strings, `+`, `os.path.join`,
`Path(...) / ...`, `cmd += [...]`, `cmd.extend/append`, `if` on a known constant and `for` over a known
list or dict. Anything only known when the script runs (its own arguments, the environment, a
function's result) becomes a marked placeholder; findings about a placeholder are dropped and each
one is reported as not read, with its line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from loragate.core.findings import Finding
from loragate.validate.invocation import Invocation
from loragate.validate.parse_shell import parse_lined_argv, parse_script_text

UNREAD_MARK = "\u2039unread"  # "‹unread3›": a value only the running script knows
_MARK = re.compile("\u2039unread(\\d+)\u203a")
_MAX_LOOP = 1000
_SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "system"}


class _Unknown:
    """A value only known when the script runs."""

    def __init__(self, token: str) -> None:
        self.token = token


@dataclass
class Unread:
    line: int
    expression: str
    why: str


@dataclass
class ParsedPython:
    invocations: list[Invocation]
    findings: list[Finding]
    unread: list[Unread] = field(default_factory=list)
    syntax_error: str | None = None


class _Seq(list[Any]):
    """A list being built in the script, each item with the line it was written on."""


def _why(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "args":
        return "it is one of the script's own command-line arguments"
    if isinstance(node, ast.Call) and "environ" in ast.dump(node.func) or isinstance(node, ast.Subscript) and \
            "environ" in ast.dump(node.value):
        return "it comes from an environment variable"
    if isinstance(node, ast.Call):
        return "it is the result of a function call"
    if isinstance(node, ast.Name):
        return f"{node.id} is set only while the script runs"
    return "it is computed while the script runs"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.unread: list[Unread] = []
        self.commands: list[tuple[Any, int, bool]] = []  # (list or string value, line, handed to subprocess)
        self.skipped: list[Unread] = []  # blocks that run only under a condition known at run time

    # --- values ---------------------------------------------------------------------------
    def unknown(self, node: ast.AST, why: str | None = None) -> _Unknown:
        expression = ast.get_source_segment(self.text, node) or ast.dump(node)
        self.unread.append(Unread(getattr(node, "lineno", 0), " ".join(expression.split())[:80], why or _why(node)))
        return _Unknown(f"{UNREAD_MARK}{len(self.unread) - 1}\u203a")

    def value(self, node: ast.AST, env: dict[str, Any]) -> Any:
        try:
            return self._value(node, env)
        except (TypeError, ValueError, ZeroDivisionError, KeyError, IndexError, AttributeError):
            return self.unknown(node)

    def _value(self, node: ast.AST, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else self.unknown(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            seq = _Seq()
            for item in node.elts:
                if isinstance(item, ast.Starred):
                    inner = self.value(item.value, env)
                    seq.extend(inner if isinstance(inner, list) else [(inner, item.lineno)])
                else:
                    seq.append((self.value(item, env), item.lineno))
            return seq
        if isinstance(node, ast.Dict):
            return {self.value(k, env): self.value(v, env) for k, v in zip(node.keys, node.values) if k is not None}
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, env)
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left, env), self.value(node.right, env)
            if isinstance(left, _Unknown) or isinstance(right, _Unknown):
                return left if isinstance(left, _Unknown) else right
            if isinstance(node.op, ast.Div) and isinstance(left, str):
                return f"{left.rstrip('/')}/{_text(right)}"  # Path(...) / "name"
            if isinstance(node.op, ast.Add) and isinstance(left, list):
                return _Seq(left + right)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            operand = self.value(node.operand, env)
            if isinstance(operand, _Unknown):
                return operand
            return -operand if isinstance(node.op, ast.USub) else not operand
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.IfExp):
            test = self.value(node.test, env)
            return test if isinstance(test, _Unknown) else self.value(node.body if test else node.orelse, env)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self.value(node.left, env), self.value(node.comparators[0], env)
            if isinstance(left, _Unknown) or isinstance(right, _Unknown):
                return left if isinstance(left, _Unknown) else right
            if isinstance(right, list):
                right = [v for v, _ in right]
            return _COMPARE[type(node.ops[0])](left, right)
        if isinstance(node, ast.BoolOp):
            values = [self.value(v, env) for v in node.values]
            unknown = next((v for v in values if isinstance(v, _Unknown)), None)
            if unknown is not None:
                return unknown
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Subscript):
            container, key = self.value(node.value, env), self.value(node.slice, env)
            if isinstance(container, dict) and not isinstance(key, _Unknown) and key in container:
                return container[key]
        return self.unknown(node)

    def _fstring(self, node: ast.JoinedStr, env: dict[str, Any]) -> Any:
        parts: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            assert isinstance(part, ast.FormattedValue)
            inner = self.value(part.value, env)
            if isinstance(inner, _Unknown):
                parts.append(inner.token)
                continue
            spec = self._fstring(part.format_spec, env) if isinstance(part.format_spec, ast.JoinedStr) else ""
            parts.append(format(inner, spec) if isinstance(spec, str) else str(inner))
        return "".join(parts)

    def _call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        name = _call_name(node.func)
        args = [self.value(a, env) for a in node.args]
        if any(isinstance(a, _Unknown) for a in args):
            return next(a for a in args if isinstance(a, _Unknown))
        if name in ("str", "Path", "PurePosixPath", "os.fspath", "pathlib.Path") and len(args) <= 1:
            return _text(args[0]) if args else ""
        if name in ("int", "float") and len(args) == 1:
            return int(args[0]) if name == "int" else float(args[0])
        if name in ("os.path.join", "posixpath.join") and args:
            return "/".join([_text(args[0]).rstrip("/")] + [_text(a).strip("/") for a in args[1:]])
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("as_posix", "resolve") and not args:
            return self.value(node.func.value, env)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join" and len(args) == 1:
            sep = self.value(node.func.value, env)
            if isinstance(sep, str) and isinstance(args[0], list):
                return sep.join(_text(v) for v, _ in args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr == "items" and not args:
            mapping = self.value(node.func.value, env)
            if isinstance(mapping, dict):
                return _Seq(((k, v), node.lineno) for k, v in mapping.items())
        return self.unknown(node)

    # --- statements -----------------------------------------------------------------------
    def block(self, body: list[ast.stmt], env: dict[str, Any]) -> None:
        for stmt in body:
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            value = self.value(stmt.value, env)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self._finish(env.get(target.id), stmt.lineno)
                    env[target.id] = value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            current, extra = env.get(stmt.target.id), self.value(stmt.value, env)
            if isinstance(current, list) and isinstance(extra, list):
                current.extend(extra)
            elif isinstance(current, str) and isinstance(extra, (str, _Unknown)):
                env[stmt.target.id] = current + (extra.token if isinstance(extra, _Unknown) else extra)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._expression_call(stmt.value, env)
        elif isinstance(stmt, ast.If):
            test = self.value(stmt.test, env)
            if isinstance(test, _Unknown):
                self._skip(stmt, stmt.test, "run only when `{cond}` is true, which is known only when the script runs")
            else:
                self.block(stmt.body if test else stmt.orelse, env)
        elif isinstance(stmt, ast.For):
            self._loop(stmt, env)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local = dict(env)
            for arg in stmt.args.posonlyargs + stmt.args.args + stmt.args.kwonlyargs:
                local.pop(arg.arg, None)
            self.block(stmt.body, local)
            self._finish_all(local, env)
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try)):
            self.block(stmt.body, env)
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            self._finish(self.value(stmt.value, env), stmt.lineno)

    def _skip(self, stmt: ast.If | ast.For, cond: ast.AST, why: str) -> None:
        flags = sorted({n.value for n in ast.walk(stmt) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                        and n.value.startswith("--")})
        if flags:
            expression = " ".join((ast.get_source_segment(self.text, cond) or "").split())[:80]
            self.skipped.append(Unread(stmt.lineno, ", ".join(flags),
                                       f"lines {stmt.lineno}-{stmt.end_lineno} " + why.format(cond=expression)))

    def _expression_call(self, call: ast.Call, env: dict[str, Any]) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in ("append", "extend"):
            target = env.get(func.value.id)
            if isinstance(target, list) and call.args:
                item = self.value(call.args[0], env)
                if func.attr == "append":
                    target.append((item, call.lineno))
                elif isinstance(item, list):
                    target.extend(item)
                else:
                    target.append((item, call.lineno))
            return
        if _call_name(func).rpartition(".")[2] in _SUBPROCESS_CALLS and call.args:
            self._finish(self.value(call.args[0], env), call.lineno, used=True)

    def _loop(self, stmt: ast.For, env: dict[str, Any]) -> None:
        items = self.value(stmt.iter, env)
        if not isinstance(items, list):
            self._skip(stmt, stmt.iter, "repeat over `{cond}`, which is known only when the script runs")
            return
        for item, _ in items[:_MAX_LOOP]:
            if isinstance(stmt.target, ast.Name):
                env[stmt.target.id] = item
            elif isinstance(stmt.target, ast.Tuple) and isinstance(item, tuple):
                for name, part in zip(stmt.target.elts, item):
                    if isinstance(name, ast.Name):
                        env[name.id] = part
            self.block(stmt.body, env)

    def _finish(self, value: Any, line: int, used: bool = False) -> None:
        """A list or string that may be a trainer command, at the point it is used or replaced."""
        if not isinstance(value, (list, str)):
            return
        for k, (seen, at, was_used) in enumerate(self.commands):
            if seen is value:
                self.commands[k] = (seen, at, was_used or used)
                return
        self.commands.append((value, line, used))

    def _finish_all(self, local: dict[str, Any], outer: dict[str, Any]) -> None:
        for name, value in local.items():
            if outer.get(name) is not value:
                self._finish(value, 0)


_COMPARE: dict[type, Any] = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                             ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
                             ast.Lt: lambda a, b: a < b, ast.Gt: lambda a, b: a > b,
                             ast.LtE: lambda a, b: a <= b, ast.GtE: lambda a, b: a >= b,
                             ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}
_BINOPS: dict[type, Any] = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                            ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
                            ast.Mod: lambda a, b: a % b}


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_call_name(func.value)}.{func.attr}"
    return ""


def _text(value: Any) -> str:
    if isinstance(value, _Unknown):
        return value.token
    if isinstance(value, bool) or value is None:
        return str(value)
    return str(value)


def _tokens(value: list[tuple[Any, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item, line in value:
        if isinstance(item, list):
            out += _tokens(item)
        else:
            out.append((_text(item), line))
    return out


def parse_python_text(text: str, file: str, start_index: int = 0) -> ParsedPython:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return ParsedPython([], [], syntax_error=f"line {exc.lineno}: {exc.msg}")
    reader = _Reader(text)
    env: dict[str, Any] = {"__name__": "__main__", "__file__": file}
    reader.block(tree.body, env)
    reader._finish_all(env, {})
    invocations: list[Invocation] = []
    findings: list[Finding] = []
    lists: dict[tuple[str, ...], tuple[list[tuple[str, int]], bool]] = {}
    for value, _, used in reader.commands:
        if isinstance(value, list):
            tokens = _tokens(value)
            key = tuple(t for t, _ in tokens)
            lists[key] = (tokens, used or (key in lists and lists[key][1]))
    for key, (tokens, used) in lists.items():
        if any(len(other) > len(key) and other[:len(key)] == key for other in lists):
            continue  # the start of a longer command the script builds from it
        inv = parse_lined_argv(tokens, file, start_index + len(invocations))
        if inv is not None and (inv.args or used):
            invocations.append(inv)
    joined = {" ".join(key) for key in lists}
    for value, line, used in reader.commands:
        if not isinstance(value, str) or value in joined:
            continue
        parsed = parse_script_text(value, file, None, start_index + len(invocations))
        for inv in parsed.invocations:
            if not (inv.args or used):
                continue
            inv.source = f"{file}:{line}"
            inv.flag_sources = {flag: inv.source for flag in inv.flag_sources}
            inv.index = start_index + len(invocations)
            invocations.append(inv)
    marks = {int(n) for inv in invocations for vals in inv.args.values() for v in vals for n in _MARK.findall(v)}
    marks |= {int(n) for inv in invocations for stray in inv.stray for n in _MARK.findall(stray.value)}
    unread = [reader.unread[n] for n in sorted(marks)]
    for inv in invocations:
        for flag, vals in inv.args.items():
            for v in vals:
                for n in _MARK.findall(v):
                    u = reader.unread[int(n)]
                    findings.append(Finding(
                        code="PY_NOT_READ", severity="warn", path=file,
                        message=f"{file} line {u.line}: the value of {flag} is `{u.expression}`, and {u.why}, so "
                                "loragate could not check it without running the script.",
                        fix=f"Write the value into the script's settings (for example {flag} as a constant at the "
                            "top), or check it yourself.",
                        evidence={"file": file, "line": u.line, "flag": flag, "expression": u.expression}))
    for skipped in reader.skipped if invocations else []:
        findings.append(Finding(
            code="PY_NOT_READ", severity="warn", path=file,
            message=f"{file}: {skipped.why}; what they add ({skipped.expression}) was not checked.",
            fix="Check those flags yourself, or set the condition as a constant in the script's settings.",
            evidence={"file": file, "line": skipped.line, "flags": skipped.expression}))
    return ParsedPython(invocations, findings, unread + reader.skipped)


def mentions_unread(finding: Finding) -> bool:
    """Findings about a value the script computes while running say nothing reliable."""
    return UNREAD_MARK in finding.message or UNREAD_MARK in str(finding.evidence) or UNREAD_MARK in finding.fix
