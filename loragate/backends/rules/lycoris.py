"""LyCORIS networks (--network_module lycoris.kohya): the algorithm name and LoHa's rank limit."""

from __future__ import annotations

from typing import Iterator

from loragate.catalog.networks import kind_of
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

LYCORIS_MODULE = "lycoris.kohya"
# LyCORIS lycoris/kohya/__init__.py network_module_dict: any other algo= is a KeyError in create_network
ALGOS = ("lora", "locon", "loha", "ia3", "lokr", "dylora", "glora", "full", "diag-oft", "boft")


def _arg(inv: Invocation, key: str) -> str | None:
    for item in inv.values("--network_args"):
        name, _, value = item.partition("=")
        if name.strip().lower() == key:
            return value.strip()
    return None


@rule("LYCORIS_ALGO", "block", "A LyCORIS algorithm name the module does not have.",
      "LyCORIS lycoris/kohya/__init__.py create_network (network_module_dict[algo])")
def lycoris_algo(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        algo = _arg(inv, "algo")
        if inv.value("--network_module") == LYCORIS_MODULE and algo is not None and algo.lower() not in ALGOS:
            yield Hit(f"algo={algo} is not a LyCORIS algorithm; the script stops with a KeyError when it builds the network.",
                      "Use algo=loha or algo=lokr (or lora, locon, ia3, dylora, glora, full, diag-oft, boft).",
                      inv.evidence("--network_args"))


@rule("LYCORIS_DIM", "warn", "LoHa with a rank above LyCORIS' limit.",
      "LyCORIS lycoris/kohya/__init__.py ('You are not supposed to use dim>64 ... in Hadamard Product representation')")
def lycoris_dim(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        module = inv.value("--network_module") or ""
        if module != LYCORIS_MODULE:
            continue  # the warning is LyCORIS' own; musubi's networks.loha has none
        kind = kind_of(module, inv.values("--network_args"))
        try:
            dim = int(inv.value("--network_dim", "0") or "0")
        except ValueError:
            continue  # the flag-type rule names a rank that is not a number
        quiet = (_arg(inv, "no_dim_warn") or "").lower() == "true"
        if kind and kind.max_dim and dim > kind.max_dim and not quiet:
            yield Hit(f"--network_dim {dim}: {kind.display_name} multiplies two rank-{dim} products, which already reaches "
                      f"full rank well below that; LyCORIS warns above {kind.max_dim} and the step is much stronger.",
                      f"Use --network_dim {kind.max_dim // 2} or less (LyCORIS' guidelines train LoHa at 16-32).",
                      inv.evidence("--network_dim"))
