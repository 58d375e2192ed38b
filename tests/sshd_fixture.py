"""A real OpenSSH server on 127.0.0.1 with a throwaway host key and client key in a temp folder.

It runs as the current user (sshd without root serves only that user), listens on loopback only,
and reads authorized keys from the temp folder, so nothing outside it is trusted or changed.
Skips with the package to install when sshd, ssh or rsync is missing.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


@dataclass
class Sshd:
    port: int
    user: str
    key: Path
    folder: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    binary = next((c for c in SSHD_CANDIDATES if Path(c).exists()), shutil.which("sshd"))
    missing = [name for name, found in (("sshd (Debian: openssh-server)", binary), ("ssh (openssh-client)", shutil.which("ssh")),
                                        ("ssh-keygen", shutil.which("ssh-keygen")), ("rsync", shutil.which("rsync"))) if not found]
    if missing or binary is None:
        pytest.skip("needs " + ", ".join(missing) + ": apt-get install -y openssh-server rsync")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        # sshd started by root needs its privilege-separation folder, which Debian's service makes at boot
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    folder = tmp_path / "sshd"
    folder.mkdir(mode=0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    (folder / "authorized_keys").chmod(0o600)
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}", f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        "Subsystem sftp internal-sftp", "",
    ]))
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=(folder / "sshd.log").open("w"))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.skip(f"sshd would not start here: {(folder / 'sshd.log').read_text()[-300:]}")
                time.sleep(0.1)
        yield Sshd(port=port, user=getpass.getuser(), key=folder / "client_key", folder=folder)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
