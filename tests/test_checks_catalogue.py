"""One check catalogue: every code the engine emits is declared once, with a message and a fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loragate.checks import catalogue, declared_in_data
from loragate.core.findings import Finding
from loragate.validate.rules import RULES

ENGINE = Path(__file__).resolve().parent.parent / "loragate"


def test_every_entry_has_a_message_a_fix_and_one_declaration() -> None:
    data = declared_in_data()
    assert len(data) > 100
    for code, check in data.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", code), code
        assert check.fix.strip() and check.message.strip(), code
    assert not set(data) & {r.code for r in RULES}, "a code is declared both in checks.toml and by a validator rule"


def test_every_code_written_in_the_engine_is_declared() -> None:
    declared = set(catalogue())
    written: dict[str, str] = {}
    for path in ENGINE.rglob("*.py"):
        for line in re.findall(r"\bcode=(.*)", path.read_text(encoding="utf-8")):
            for code in re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', line):  # both sides of `"A" if x else "B"`
                written.setdefault(code, str(path.relative_to(ENGINE)))
        # and the constants that name codes (SHELL_PARSE_ERROR = "SHELL_PARSE_ERROR", used as code=...)
        for code in re.findall(r'^[A-Z][A-Z0-9_]* = "([A-Z][A-Z0-9]*_[A-Z0-9_]+)"$', path.read_text(encoding="utf-8"), re.M):
            if code not in ("LORAGATE_STRICT_CHECKS", "LORAGATE_CPU_TRAINING"):  # switches, not codes
                written.setdefault(code, str(path.relative_to(ENGINE)))
    missing = {code: where for code, where in written.items() if code not in declared}
    assert not missing, f"undeclared finding codes (add them to loragate/data/checks.toml): {missing}"


def test_an_undeclared_code_or_severity_fails_where_it_is_made() -> None:
    with pytest.raises(ValueError, match="not declared"):
        Finding(code="DS_NOT_A_REAL_CHECK", severity="warn", message="m")
    with pytest.raises(ValueError, match="declared with severity"):
        Finding(code="DS_TRIGGER_MISSING", severity="info", message="m")
    assert Finding(code="DS_TRIGGER_MISSING", severity="block", message="m").code == "DS_TRIGGER_MISSING"
