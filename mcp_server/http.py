"""`loragate-mcp --http`: who may reach the server over the network.

On this machine only (127.0.0.1, localhost, ::1) it is the SDK's default: Host and Origin must
name this machine (DNS-rebinding protection). Bound to any other address, anyone who can reach
the port could read the workspace and start trainings, so the server refuses to start without a
bearer token (LORAGATE_MCP_TOKEN, at least 24 characters) and still checks Host and Origin: the
address given, plus every name passed with --allow-host.
"""

from __future__ import annotations

import hmac
import os
from typing import Any, Awaitable, Callable

from mcp.server.transport_security import TransportSecuritySettings

from loragate.core.errors import LoragateError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TOKEN_ENV = "LORAGATE_MCP_TOKEN"
MIN_TOKEN = 24

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def security_for(host: str, allow_hosts: list[str]) -> TransportSecuritySettings:
    names = list(LOOPBACK) if host in LOOPBACK else []
    if host not in ("0.0.0.0", "::", ""):
        names.append(host)
    names += [h for h in allow_hosts if h]
    shown = [f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in shown] + shown,
        allowed_origins=[f"{scheme}://{n}:*" for n in shown for scheme in ("http", "https")],
    )


def required_token(host: str, allow_hosts: list[str]) -> str | None:
    """None on loopback; else the token, or a LoragateError saying why the server will not start."""
    if host in LOOPBACK:
        return None
    token = os.environ.get(TOKEN_ENV, "")
    if len(token) < MIN_TOKEN:
        raise LoragateError(
            f"loragate-mcp will not listen on {host} without a token: anyone who reaches that address could read "
            "the workspace and start trainings.",
            f"Set {TOKEN_ENV} to a random string of at least {MIN_TOKEN} characters (e.g. `openssl rand -hex 32`) and "
            "give clients the header 'Authorization: Bearer <token>', or keep the default --host 127.0.0.1 and use an "
            "SSH tunnel.",
        )
    if host in ("0.0.0.0", "::") and not allow_hosts:
        raise LoragateError(
            f"Listening on every address ({host}) needs the names clients will use, so Host checks stay on.",
            "Add --allow-host NAME (the pod's hostname or IP) once per name.",
        )
    return token


def with_bearer_token(app: App, token: str) -> App:
    """Every HTTP request must carry `Authorization: Bearer <token>`; others get 401 and nothing else."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                body = b"Missing or wrong bearer token."
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def serve_http(server: Any, host: str, port: int, allow_hosts: list[str]) -> None:
    import uvicorn

    token = required_token(host, allow_hosts)
    app = server.streamable_http_app(transport_security=security_for(host, allow_hosts), host=host)
    uvicorn.run(with_bearer_token(app, token) if token else app, host=host, port=port, log_level="warning")
