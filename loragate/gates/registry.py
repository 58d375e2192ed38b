"""Gates by name: what each one is called, how it is re-run, and whether its verdict is about what
the plan trains on now.

The four launch gates are registered in loragate.gates.standard, the evaluation after training in
loragate.gates.evaluation, the yes to a cloud cost in loragate.gates.spend. A new gate is one more `register_gate` in a module listed in
GATE_MODULES; the ledger keys its verdicts by the gate's name, so the others are untouched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loragate.core.errors import LoragateError
from loragate.core.nextstep import NextStep

if TYPE_CHECKING:
    from loragate.gates.ledger import GateRecord

# Modules whose import registers gates, in the order gates are shown.
GATE_MODULES = ("loragate.gates.standard", "loragate.gates.evaluation", "loragate.gates.spend")

PlanJson = dict[str, Any]


@dataclass(frozen=True)
class Gate:
    key: str
    """The ledger key: dataset, config, environment, dry_run, evaluation."""
    number: int
    """Its place in the order people see (Gate 1, Gate 2, ...); 0 for a gate without a number,
    shown after the numbered ones (the spend gate)."""
    title: str
    """How messages call it: "dataset", "dry run"."""
    next_step: Callable[[str, PlanJson, GateRecord | None], NextStep]
    """The operation that (re)runs the gate for a project, from the plan and the last record."""
    covers: Callable[[GateRecord, PlanJson], str | None] | None = None
    """Why a recorded verdict is not about what the plan trains on now (None when it is)."""
    required_for_launch: bool = True

    @property
    def label(self) -> str:
        return f"Gate {self.number} ({self.title})" if self.number else f"The {self.title} gate"


_GATES: dict[str, Gate] = {}


def register_gate(gate: Gate) -> Gate:
    if gate.key in _GATES:
        raise ValueError(f"gate {gate.key} registered twice")
    _GATES[gate.key] = gate
    return gate


def gates() -> list[Gate]:
    """Every registered gate, in order."""
    for module in GATE_MODULES:
        importlib.import_module(module)
    return sorted(_GATES.values(), key=lambda g: (g.number == 0, g.number))


def get_gate(key: str | int) -> Gate:
    """A gate by its name, or by its number as older code and ledgers spell it."""
    for gate in gates():
        if gate.key == key or (isinstance(key, int) and gate.number == key) or str(gate.number) == key:
            return gate
    known = ", ".join(f"{g.key} ({g.number})" for g in gates())
    raise LoragateError(f"There is no gate {key!r}.", f"The gates are: {known}.")
