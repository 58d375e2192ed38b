"""The validator engine (loragate/validate/) reads commands and TOMLs for any trainer: the trainers'
names, flags, tables and rules belong to loragate/backends/ (issue 9), so a third trainer is a backend,
not an edit of the engine."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import loragate.validate
from loragate.backends import BACKENDS, RULE_PACKAGES
from loragate.validate.rules import RULES

ENGINE = Path(loragate.validate.__file__).parent
# The issue's own check: `grep -rn '"musubi"\|"sdscripts"\|--output_dir' loragate --include=*.py`.
ISSUE_GREP = re.compile(r'"musubi"|"sdscripts"|--output_dir')
TRAINER_WORDS = re.compile("|".join([*BACKENDS, "sd-scripts", "sd_scripts", "kohya"]), re.IGNORECASE)
FLAG = re.compile(r"(?<![\w-])--(?:[A-Za-z]|$)")

# (file, literal) -> why the engine may write it. Flags of the programs that start a trainer (python,
# accelerate, conda) and the argparse spelling every flag shares are the engine's to know.
ALLOWED_FLAGS: dict[tuple[str, str], str] = {
    **{("parse_shell.py", flag): "accelerate launch's own switches (accelerate 1.6 launch_command_parser): "
       "skipped to find the script it starts"
       for flag in ("--cpu", "--multi_gpu", "--tpu", "--ipex", "--use_xpu", "--use_deepspeed", "--use_fsdp",
                    "--use_megatron_lm", "--module", "--no_python", "--quiet", "--debug", "--same_network",
                    "--dynamo_use_fullgraph", "--dynamo_use_dynamic", "--enable_cpu_affinity", "--monitor_interval")},
    ("parse_shell.py", "--name"): "conda run --name ENV: skipped to find the command conda runs",
    ("parse_shell.py", "--prefix"): "conda run --prefix DIR: skipped to find the command conda runs",
    ("parse_toml.py", "--"): "a config TOML key becomes the flag `--key` (argparse, train_util.read_config_from_file)",
    ("parse_python.py", "--"): "a Python launcher's string that starts with `--` is a flag (argparse's spelling)",
    ("validate.py", "Give the whole command, e.g. accelerate launch ... wan_train_network.py --dit ..."):
        "an example of a whole command in the artist's error message, not a flag the engine reads",
}


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant but docstrings (which may explain trainers in words)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _engine_files() -> list[Path]:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 5, files  # the engine was found
    return files


def test_issue_grep_finds_nothing_in_the_engine() -> None:
    hits = [f"{p.relative_to(ENGINE)}:{n}: {line.strip()}" for p in _engine_files()
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1) if ISSUE_GREP.search(line)]
    assert not hits, "trainer knowledge in loragate/validate/ (move it under loragate/backends/):\n" + "\n".join(hits)


def test_engine_strings_name_no_trainer_and_no_flag() -> None:
    found = []
    for path in _engine_files():
        for line, text in _string_literals(path):
            if TRAINER_WORDS.search(text):
                found.append(f"{path.relative_to(ENGINE)}:{line}: names a trainer: {text!r}")
            elif FLAG.search(text) and (path.name, text) not in ALLOWED_FLAGS:
                found.append(f"{path.relative_to(ENGINE)}:{line}: a flag: {text!r}")
    assert not found, "\n".join(found)


def test_allow_list_has_no_stale_entries() -> None:
    written = {(p.name, text) for p in _engine_files() for _, text in _string_literals(p)}
    stale = sorted(set(ALLOWED_FLAGS) - written)
    assert not stale, f"allowed but no longer written (remove them): {stale}"


def test_every_rule_lives_in_a_backend_rule_package() -> None:
    # the rules know the trainers; the engine only registers and runs them
    assert RULES
    outside = sorted(r.code for r in RULES if not r.check.__module__.startswith(RULE_PACKAGES))
    assert not outside, outside


def test_no_rule_module_is_left_where_it_would_not_run() -> None:
    # loragate.validate.rules loads the backends' rule packages only; a module here would never run
    stray = sorted(p.name for p in (ENGINE / "rules").glob("*.py") if p.name not in ("__init__.py", "base.py"))
    assert not stray, f"move {stray} to loragate/backends/rules/ (they are not loaded from loragate/validate/rules/)"
