"""JSON over HTTPS with the standard library: the providers' APIs without their SDKs.

runpod 1.12 and vastai 1.9.1 pin conflicting cryptography versions and runpod brings a whole
serverless worker stack; both APIs are plain JSON, so urllib is enough and the base install stays
light. Errors come back in words, with any key removed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from loragate.cloud.keys import redact
from loragate.core.errors import LoragateError

TIMEOUT_S = 30.0


class CloudError(LoragateError):
    """A provider said no, or could not be reached."""


class AuthError(CloudError):
    pass


class NoCapacity(CloudError):
    pass


class Unreachable(CloudError):
    pass


def request_json(method: str, url: str, key: str | None, body: Any = None, provider: str = "the provider") -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "loragate"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = redact(exc.read().decode("utf-8", "replace")[:300])
        if exc.code in (401, 403):
            raise AuthError(
                f"{provider} refused the API key (HTTP {exc.code}).",
                "Check the key is current and has permission to manage pods/instances; create a new one in the provider's console if needed.",
            ) from None
        raise CloudError(f"{provider} answered HTTP {exc.code}: {detail}", "Try again in a minute; if it persists, check the provider's status page.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(
            f"{provider} could not be reached ({redact(str(getattr(exc, 'reason', exc)))}).",
            "Check the network connection; offers fall back to the dated price table.",
        ) from None
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except ValueError:
        raise CloudError(f"{provider} answered something that is not JSON.", "Try again; the API may be down.") from None
