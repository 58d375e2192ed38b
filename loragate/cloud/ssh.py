"""ssh and rsync command lines, built as argv lists.

The command run on the pod is one string (ssh hands it to the remote shell), joined from an argv
list with shlex, so no name or path is ever interpreted. Every pod gets its own known_hosts file
(host keys are pinned on first contact; a recycled address of another pod is never trusted), and
keep-alives end a dead connection instead of hanging. Transfers are resumable (--partial-dir).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from loragate.cloud.keys import redact
from loragate.cloud.model import InstanceRecord, SshEndpoint
from loragate.core.errors import LoragateError

SSH_TIMEOUT_S = 20


def _cache_dir() -> Path:
    return Path(os.environ.get("LORAGATE_CACHE_DIR") or Path.home() / ".cache" / "loragate")


def known_hosts(record: InstanceRecord) -> Path:
    path = _cache_dir() / "known_hosts" / f"{record.provider}-{record.instance_id}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def ssh_options(record: InstanceRecord) -> list[str]:
    endpoint = _endpoint(record)
    options = ["-p", str(endpoint.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
               "-o", f"UserKnownHostsFile={known_hosts(record)}", "-o", f"ConnectTimeout={SSH_TIMEOUT_S}",
               "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
    identity = os.environ.get("LORAGATE_SSH_KEY")
    if identity:
        options += ["-i", identity, "-o", "IdentitiesOnly=yes"]
    return options


def _endpoint(record: InstanceRecord) -> SshEndpoint:
    if record.ssh is None:
        raise LoragateError(f"{record.provider} instance {record.instance_id} has no SSH address yet.",
                            "Wait for it to run: `loragate cloud status` shows its state.")
    return record.ssh


def target(record: InstanceRecord) -> str:
    endpoint = _endpoint(record)
    return f"{endpoint.user}@{endpoint.host}"


def ssh_argv(record: InstanceRecord, remote_argv: list[str], env: dict[str, str] | None = None) -> list[str]:
    words = (["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []) + remote_argv
    return ["ssh", *ssh_options(record), target(record), shlex.join(words)]


def rsync_argv(record: InstanceRecord, source: str, dest: str, excludes: tuple[str, ...] = ()) -> list[str]:
    """rsync over the same ssh options; `source` / `dest` take ':' in front for the pod side."""
    shell = shlex.join(["ssh", *ssh_options(record)])
    host = target(record)

    def side(path: str) -> str:
        return f"{host}{path}" if path.startswith(":") else path

    argv = ["rsync", "-a", "--partial", "--partial-dir=.rsync-partial", "--protect-args", "-e", shell]
    for pattern in excludes:
        argv += ["--exclude", pattern]
    return argv + [side(source), side(dest)]


def run(argv: list[str], timeout: float | None = None, what: str = "the pod") -> subprocess.CompletedProcess[str]:
    """Run ssh/rsync; a connection failure becomes a plain error (keys redacted)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise LoragateError(f"`{argv[0]}` is not installed on this computer.",
                            f"Install it (Debian/Ubuntu: `apt-get install {'rsync' if argv[0] == 'rsync' else 'openssh-client'}`).") from None
    except subprocess.TimeoutExpired:
        raise LoragateError(f"{what} did not answer within {timeout:.0f} s.", "Check `loragate cloud status`; run the command again (it resumes).") from None
    if done.returncode == 255 and argv[0] == "ssh" or done.returncode in (12, 255) and argv[0] == "rsync":
        raise LoragateError(f"Could not connect to {what}: {redact(done.stderr.strip()[-300:])}",
                            "Check the instance runs (`loragate cloud status`) and that your SSH public key is in the provider's "
                            "settings (or set LORAGATE_SSH_KEY to the private key). Then run the command again: it resumes.")
    return done
