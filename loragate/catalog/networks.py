"""Network kinds besides plain LoRA (LoHa, LoKr): the module and arguments each trainer needs.

The values live in `loragate/data/networks.toml` with their sources; a kind a trainer cannot train
has no table for it there, and asking for it says so.
"""

from __future__ import annotations

from functools import lru_cache
from pydantic import BaseModel, ConfigDict, Field

from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError
from loragate.core.vocabulary import BackendName

LORA = "lora"


class TrainerNetwork(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    module: str = Field(description="The Python module the trainer builds the network from (its network module option).")
    args: list[str] = Field(default_factory=list, description="The network arguments it passes, as key=value.")


class NetworkKind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str
    why: str
    max_dim: int = Field(default=0, ge=0, description="Rank above which the module warns; 0: none.")
    sdscripts: TrainerNetwork | None = None
    musubi: TrainerNetwork | None = None


@lru_cache(maxsize=1)
def load_networks() -> dict[str, NetworkKind]:
    raw = read_data_toml("networks.toml").get("network", {})
    return {key: NetworkKind.model_validate(value) for key, value in raw.items()}


def network_kinds() -> list[str]:
    return [LORA, *sorted(load_networks())]


def network_for(kind: str, trainer: BackendName, default_module: str) -> tuple[str, list[str]]:
    """(--network_module, --network_args) for `kind` on `trainer`; plain LoRA is the family's own module."""
    key = kind.strip().lower()
    if key == LORA:
        return default_module, []
    networks = load_networks()
    if key not in networks:
        raise LoragateError(f"Unknown network kind {kind!r}.", f"Use one of: {', '.join(network_kinds())}.")
    found: TrainerNetwork | None = getattr(networks[key], trainer)
    if found is None:
        raise LoragateError(
            f"{networks[key].display_name} is not available for this model's trainer.",
            "Train a plain LoRA (network lora), or pick a model whose trainer offers it.",
        )
    return found.module, list(found.args)


def kind_of(module: str, args: list[str]) -> NetworkKind | None:
    """The LyCORIS kind a command trains, from its module and algo= argument."""
    algo = next((a.split("=", 1)[1].strip().lower() for a in args if a.replace(" ", "").startswith("algo=")), None)
    for key, kind in load_networks().items():
        for spec in (kind.sdscripts, kind.musubi):
            if spec and spec.module == module and (algo == key or (algo is None and not spec.args)):
                return kind
    return None
