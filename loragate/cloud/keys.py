"""API keys from the environment or the providers' own config files, never from a record.

The same places the official tools read: RunPod `RUNPOD_API_KEY` or `~/.runpod/config.toml`
(the runpod SDK's `[default] api_key`), Vast `VAST_API_KEY`, `$XDG_CONFIG_HOME/vastai/vast_api_key`
or `~/.vast_api_key` (the vastai SDK's order). On a pod the provider injects a key scoped to that
pod (RunPod `RUNPOD_API_KEY`, Vast `CONTAINER_API_KEY`), which is what the watchdog uses.
A key never enters a record, log or message: `redact` strips every known key from text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from loragate.core.errors import LoragateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WHERE = {
    "runpod": "set RUNPOD_API_KEY, or run `runpodctl config --apiKey ...` (it writes ~/.runpod/config.toml)",
    "vast": "set VAST_API_KEY, or run `vastai set api-key ...` (it writes ~/.config/vastai/vast_api_key)",
}


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def _runpod_file() -> str | None:
    path = Path.home() / ".runpod" / "config.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = (data.get("default") or {}).get("api_key")
    return str(value) if value else None


def _vast_file() -> str | None:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return _read(config / "vastai" / "vast_api_key") or _read(Path.home() / ".vast_api_key")


POD_KEYS = ("RUNPOD_API_KEY", "CONTAINER_API_KEY")


def load_pod_keys(environ_file: Path = Path("/proc/1/environ")) -> None:
    """On a pod: take the provider's pod-scoped key from the container's first process.

    Providers inject it into the container's environment, but a command started over SSH does not
    inherit that environment, so the watchdog reads it where the container started.
    """
    try:
        raw = environ_file.read_bytes()
    except OSError:
        return
    for entry in raw.split(b"\0"):
        name, _, value = entry.decode("utf-8", "replace").partition("=")
        if name in POD_KEYS and value and not os.environ.get(name):
            os.environ[name] = value


def find_key(provider: str) -> str | None:
    if provider == "runpod":
        return os.environ.get("RUNPOD_API_KEY") or _runpod_file()
    if provider == "vast":
        return os.environ.get("VAST_API_KEY") or os.environ.get("CONTAINER_API_KEY") or _vast_file()
    return None


def api_key(provider: str) -> str:
    key = find_key(provider)
    if not key:
        raise LoragateError(
            f"No {provider} API key was found.",
            f"To let loragate rent and end machines for you, {WHERE.get(provider, 'set the provider key')}. "
            "The key stays in that file or variable; loragate never writes it anywhere.",
        )
    return key


def redact(text: str) -> str:
    """The text with every API key loragate could use replaced by '***'."""
    for provider in WHERE:
        key = find_key(provider)
        if key and len(key) >= 6:
            text = text.replace(key, "***")
    return text
