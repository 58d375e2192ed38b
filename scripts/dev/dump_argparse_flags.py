"""Dump a trainer script's argparse flags as JSON, read statically (no torch needed).

Usage: python scripts/dev/dump_argparse_flags.py OUT.json SCRIPT[:FUNC,...] [MORE[:FUNC,...]]

Every `*.add_argument(...)` call in SCRIPT (or only inside the named functions) becomes one entry
{name, type, nargs, default, choices, required, help}, the shape of loragate/data/flags/*.json.
Commented-out flags are not calls, so they are left out, as argparse would. The generation-script
dumps were made from the sd-scripts 48d368fa and musubi-tuner v0.3.4 snapshots:

  dump_argparse_flags.py sdscripts-gen-img-flags.json gen_img.py:setup_parser library/utils.py:add_logging_arguments
  dump_argparse_flags.py sdscripts-sdxl-gen-img-flags.json sdxl_gen_img.py:setup_parser library/utils.py:add_logging_arguments
  dump_argparse_flags.py sdscripts-flux-minimal-inference-flags.json flux_minimal_inference.py
  dump_argparse_flags.py musubi-wan-generate-video-flags.json src/musubi_tuner/wan_generate_video.py:parse_args \
      src/musubi_tuner/hv_generate_video.py:setup_parser_compile
"""

from __future__ import annotations

import ast
import json
import sys
from typing import Any


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)  # a name or an expression (type=float, default=target_width)


def _entry(call: ast.Call) -> dict[str, Any] | None:
    names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    name = next((n for n in names if n.startswith("--")), names[0] if names else None)
    if not name or not name.startswith("-"):
        return None
    kw = {k.arg: k.value for k in call.keywords}
    action = _literal(kw["action"]) if "action" in kw else None
    nargs = _literal(kw["nargs"]) if "nargs" in kw else None
    if action in ("store_true", "store_false"):
        kind = action
    else:
        kind = ast.unparse(kw["type"]) if "type" in kw else "str"
        if nargs is not None:
            kind += f" (nargs={nargs})"
    choices = _literal(kw["choices"]) if "choices" in kw else None
    help_text = _literal(kw["help"]) if "help" in kw else ""
    return {
        "name": name,
        "type": kind,
        "nargs": nargs,
        "default": _literal(kw["default"]) if "default" in kw else (False if action == "store_true" else None),
        "choices": list(choices) if isinstance(choices, (list, tuple)) else None,
        "required": bool(_literal(kw["required"])) if "required" in kw else False,
        "help": help_text if isinstance(help_text, str) else str(help_text),
    }


def _calls(path: str, functions: set[str]) -> list[ast.Call]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    scopes: list[ast.AST] = [tree] if not functions else [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in functions
    ]
    return [
        c for scope in scopes for c in ast.walk(scope)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "add_argument"
    ]


def main(argv: list[str]) -> None:
    out, specs = argv[0], argv[1:]
    flags: list[dict[str, Any]] = []
    seen: set[str] = set()
    for spec in specs:
        path, _, funcs = spec.partition(":")
        for call in _calls(path, set(filter(None, funcs.split(",")))):
            entry = _entry(call)
            if entry and entry["name"] not in seen:
                seen.add(entry["name"])
                flags.append(entry)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(flags, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(out, len(flags))


if __name__ == "__main__":
    main(sys.argv[1:])
