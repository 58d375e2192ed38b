"""One adapter per provider, all behind `Provider` (offers, create, status, stop, terminate)."""

from __future__ import annotations

from loragate.cloud.model import PROVIDERS
from loragate.cloud.providers.base import CreateRequest, Provider, api_base
from loragate.core.errors import LoragateError

__all__ = ["CreateRequest", "Provider", "api_base", "get_provider"]


def get_provider(name: str, key: str | None = None) -> Provider:
    """The adapter for a provider; the key defaults to the one in the environment or config file."""
    if name == "runpod":
        from loragate.cloud.providers.runpod import RunPod

        return RunPod(key)
    if name == "vast":
        from loragate.cloud.providers.vast import Vast

        return Vast(key)
    if name == "modal":
        from loragate.cloud.providers.modal import Modal

        return Modal()
    raise LoragateError(f"There is no provider {name!r}.", f"Use one of: {', '.join(PROVIDERS)}.")
