"""The Anthropic Messages API, used to look at pictures. The SDK is imported only here, on use.

The key comes from ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) and the address from
ANTHROPIC_BASE_URL when set, both read by the SDK itself; LORAGATE_CAPTION_MODEL picks the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from loragate.core.errors import LoragateError

DEFAULT_CAPTION_MODEL = "claude-sonnet-5-5"  # the newest Sonnet the anthropic SDK names; override with LORAGATE_CAPTION_MODEL
MAX_TOKENS = 800

NO_KEY_FIX = (
    "Set ANTHROPIC_API_KEY to a key from console.anthropic.com (and ANTHROPIC_BASE_URL if you go through a "
    "proxy), or write captions by hand with `loragate captions write DATASET --from APPROVED.json --trigger WORD`."
)


def caption_model_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("LORAGATE_CAPTION_MODEL") or DEFAULT_CAPTION_MODEL


def make_client() -> Any:
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise LoragateError("Batch captioning looks at the pictures with Claude and needs an Anthropic API key; ANTHROPIC_API_KEY is not set.", NO_KEY_FIX)
    import anthropic

    return anthropic.Anthropic(max_retries=3, timeout=180.0)


@dataclass
class Reply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0


class FatalApiError(Exception):
    """A refusal no later picture will get past (bad key, no access, unknown model)."""


def ask(client: Any, model: str, system: str, messages: list[dict]) -> Reply:
    """One Messages API call. Raises FatalApiError for account-level refusals; anything else is
    left to the caller as a failure of this one picture."""
    import anthropic

    try:
        message = client.messages.create(model=model, max_tokens=MAX_TOKENS, system=system, messages=messages)
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        raise FatalApiError(f"The Anthropic API refused the key ({exc.status_code}).") from exc
    except anthropic.NotFoundError as exc:
        raise FatalApiError(f"The caption model {model!r} was not found ({exc.status_code}); set LORAGATE_CAPTION_MODEL to a current Claude model.") from exc
    text = "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text")
    usage = getattr(message, "usage", None)
    return Reply(text=text, input_tokens=getattr(usage, "input_tokens", 0) or 0, output_tokens=getattr(usage, "output_tokens", 0) or 0)


def is_service_failure(exc: BaseException) -> bool:
    """The service, not the picture, failed (network, overload, server error, rate limit)."""
    import anthropic

    if isinstance(exc, (anthropic.APIConnectionError, anthropic.RateLimitError, anthropic.InternalServerError)):
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500
