"""loragate.core is the leaf the stages share: it must not import the rest of loragate."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import loragate.core

CORE = Path(loragate.core.__file__).parent


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_imports_only_itself_from_loragate() -> None:
    outside = {f"{p.name}: {name}" for p in CORE.glob("*.py") for name in _imports(p)
               if name.split(".")[0] == "loragate" and not name.startswith("loragate.core")}
    assert not outside, f"loragate.core imports other loragate modules: {sorted(outside)}"


def test_importing_core_loads_no_other_loragate_module() -> None:
    # the same promise at run time: lazy imports inside functions count too once called
    code = ("import sys, loragate.core.plan, loragate.core.findings, loragate.core.errors; "
            "from loragate.core.plan import load_plan\n"
            "try:\n    load_plan(__import__('pathlib').Path('/nonexistent/plan.json'))\nexcept Exception:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('loragate') and not m.startswith('loragate.core')"
            " and m != 'loragate'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
