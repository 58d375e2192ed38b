"""Shared by every tool: running the engine off the event loop with progress, errors for the
model to read, the allowed folders, and the annotation presets."""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import ToolAnnotations

from loragate.core.errors import LoragateError, unexpected_error_sentence
from loragate.workspace import workspace_root
from mcp_server.nextstep import error_text

T = TypeVar("T")
PATH_MAX = 4096
NAME_MAX = 255

# Computes or inspects, writes nothing at all.
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
# Writes only loragate's own record (grimoire/), never the artist's media; same input, same result.
WRITES_RECORD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Starts or stops processes on the GPU: not idempotent.
RUNS_TRAINING = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def lazy(target: str) -> Callable[..., Any]:
    """The engine function `module:name`, imported on its first call: the server answers its first
    tools/list without loading the engine (only the result models, for the output schemas)."""
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    return call


def allowed_roots() -> list[Path]:
    """The workspace, plus `LORAGATE_ALLOWED_ROOTS` (os.pathsep-separated) for datasets elsewhere."""
    roots = [workspace_root()]
    extra = os.environ.get("LORAGATE_ALLOWED_ROOTS", "")
    roots += [Path(p).expanduser().resolve() for p in extra.split(os.pathsep) if p.strip()]
    return roots


def is_allowed(path: Path) -> bool:
    """Whether a path, with every link resolved, lies inside an allowed root."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(resolved == root or resolved.is_relative_to(root) for root in allowed_roots())


def resolve_path(user_path: str, what: str = "path") -> Path:
    """Resolve a caller's path against the workspace and refuse anything outside the allowed roots."""
    if not isinstance(user_path, str) or not user_path.strip() or "\x00" in user_path or len(user_path) > PATH_MAX:
        raise ToolError(f"The {what} is empty or malformed. Give a folder or file inside {workspace_root()}.")
    try:
        candidate = Path(user_path).expanduser()
        if not candidate.is_absolute():
            candidate = workspace_root() / candidate
        if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in candidate.parts):
            raise OSError(errno.ENAMETOOLONG, "name too long")
        resolved = candidate.resolve()
    except (OSError, RuntimeError, ValueError):
        # A name longer than the filesystem allows, a link loop, a ~user that does not exist.
        raise ToolError(f"The {what} cannot be used as a path here (too long, a link loop, or malformed). "
                        f"Give a folder or file inside {workspace_root()}.") from None
    roots = allowed_roots()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        raise ToolError(
            f"The {what} {user_path!r} is outside the folders this server may read ({shown}). "
            "Move the data inside the project, or add its folder to LORAGATE_ALLOWED_ROOTS in .mcp.json."
        )
    return resolved


def resolve_program(value: str | None, what: str) -> str | None:
    """A program this machine may run: a bare name is looked up on PATH as usual; a path is confined
    like every other path, whatever platform the plan is for."""
    if not value or ("/" not in value and "\\" not in value):
        return value
    return str(resolve_path(value, what))


async def call_engine(ctx: Context | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking engine function on a worker thread.

    If the function takes a `progress` keyword, its calls become MCP progress notifications,
    which also keep the client's idle timeout from firing on long work.
    """

    def progress(done: int, total: int, message: str) -> None:
        if ctx is None:
            return
        try:
            anyio.from_thread.run(functools.partial(ctx.report_progress, done, total or None, message))
        except Exception:  # noqa: BLE001 - a client that went away must not break the work
            pass

    if "progress" in kwargs and kwargs["progress"] is None:
        kwargs["progress"] = progress
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except LoragateError as exc:
        raise ToolError(error_text(exc)) from exc
    except (ToolError, MCPError):
        raise
    except Exception as exc:  # noqa: BLE001 - a tool never answers with a bare "Error executing tool"
        raise ToolError(unexpected_error_sentence(exc)) from exc
