"""The start guard: a rented machine that no `loragate cloud sync` reaches ends itself.

Between `cloud up` and `cloud sync` (which starts the real watchdog) nothing on the pod watches
the bill, and the artist's laptop may be closed. So `up` gives the instance a start command
(RunPod `dockerArgs`, Vast `onstart`) that runs this small program with the image's python3,
before loragate is on the pod: if the sync mark has not appeared within N minutes, it ends the
instance through the provider's API and writes why into `<root>/.loragate/guard.log` and the
container log. `cloud sync` writes the mark once the watchdog runs, and the guard stands down.

It uses only the key the provider injects into that container and scopes to it (RunPod
`RUNPOD_POD_ID` + `RUNPOD_API_KEY`, "limited in scope to only the pod"; Vast `CONTAINER_ID` +
`CONTAINER_API_KEY`), so the artist's account key is never put on the machine or in the request.
The program text is generated from fixed code and JSON literals, then sent compressed and
base64-encoded, so no value can break out of the shell words of the start command.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import datetime, timedelta

from loragate.cloud.model import InstanceRecord

GUARD_FOLDER = ".loragate"
SYNCED_MARK = "synced"
GUARD_LOG = "guard.log"
POLL_S = 15.0
RETRY_S = 60.0
_UNPACK = "import base64,sys,zlib; exec(zlib.decompress(base64.b64decode(sys.argv[1])))"

# The program, stdlib only (the image's python3; loragate is not there yet). Constants come first.
_PROGRAM = r'''
import json, os, sys, time, urllib.parse, urllib.request


def env(name):
    # a pod's own id and key live in the container's first process; a shell may not inherit them
    if os.environ.get(name):
        return os.environ[name]
    try:
        raw = open("/proc/1/environ", "rb").read()
    except OSError:
        return ""
    for entry in raw.split(b"\0"):
        key, _, value = entry.decode("utf-8", "replace").partition("=")
        if key == name:
            return value
    return ""


root = os.environ.get("LORAGATE_ROOT") or ROOT
folder = os.path.join(root, FOLDER)
mark = os.path.join(folder, MARK)


def say(text):
    line = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()) + " loragate start guard: " + text
    print(line, flush=True)
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, LOG), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        pass


def call(method, url, key, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


def end():
    if PROVIDER == "runpod":
        query = "mutation { podTerminate(input: {podId: " + json.dumps(env("RUNPOD_POD_ID")) + "}) }"
        answer = call("POST", API + "/graphql", env("RUNPOD_API_KEY"), {"query": query})
        if answer.get("errors"):
            raise RuntimeError(str(answer["errors"][0].get("message")))
        return "terminated"
    url = API + "/api/v0/instances/" + urllib.parse.quote(env("CONTAINER_ID"), safe="") + "/"
    try:
        call("DELETE", url, env("CONTAINER_API_KEY"), {})
        return "destroyed"
    except Exception:
        # if the instance's own key may only stop it: that ends the GPU billing; the disk bills until `cloud down`
        call("PUT", url, env("CONTAINER_API_KEY"), {"state": "stopped"})
        return "stopped (its disk still bills until `loragate cloud down`)"


def synced():
    if os.path.exists(mark):
        say("a loragate sync arrived and the watchdog runs; standing down")
        sys.exit(0)


minutes = "%g" % (AFTER_S / 60)
say("this machine ends itself in " + minutes + " minutes unless `loragate cloud sync` reaches it")
deadline = time.monotonic() + AFTER_S
while time.monotonic() < deadline:
    synced()
    time.sleep(max(0.0, min(POLL_S, deadline - time.monotonic())))
synced()
say("no `loragate cloud sync` within " + minutes + " minutes: ending this machine through the provider's API")
for _ in range(5):
    try:
        say("machine " + end() + " because no loragate cloud sync arrived within " + minutes + " minutes")
        sys.exit(0)
    except Exception as exc:
        say("could not end it (" + type(exc).__name__ + ": " + str(exc)[:200] + "); trying again")
        time.sleep(RETRY_S)
say("gave up: end it with `loragate cloud down` or in the provider's console")
sys.exit(1)
'''


def guard_program(provider: str, api_base: str, remote_root: str, after_s: float,
                  poll_s: float = POLL_S, retry_s: float = RETRY_S) -> str:
    """The guard's python source for this provider, its values written as JSON literals."""
    constants = {"PROVIDER": provider, "API": api_base.rstrip("/"), "ROOT": remote_root, "FOLDER": GUARD_FOLDER,
                 "MARK": SYNCED_MARK, "LOG": GUARD_LOG, "AFTER_S": float(after_s), "POLL_S": float(poll_s), "RETRY_S": float(retry_s)}
    head = "".join(f"{name} = {json.dumps(value)}\n" for name, value in constants.items())
    return head + _PROGRAM


def _launch(program: str, output: str = "") -> str:
    """Shell words that start the program in the background with whichever python3 the image has.

    Compressed (Vast cuts `onstart` at 4048 characters) and base64-encoded, so the words are fixed
    text plus one base64 word: nothing in them needs quoting or can end the quotes around them.
    """
    encoded = base64.b64encode(zlib.compress(program.encode(), 9)).decode()
    return (f"PY=$(command -v python3 || echo /opt/conda/bin/python3); "
            f"\"$PY\" -c \"{_UNPACK}\" {encoded}{output} &")


def runpod_start_command(program: str) -> str:
    """RunPod `dockerArgs`: the guard in the background, then the image's own start (sshd, /start.sh)."""
    return f"bash -c '{_launch(program)} if [ -x /start.sh ]; then exec /start.sh; else exec sleep infinity; fi'"


def vast_onstart(program: str) -> str:
    """Vast `onstart`: runs beside the image's start in SSH mode, so only the guard goes in it."""
    return _launch(program, " >> /var/log/loragate-guard.log 2>&1") + "\n"


def program_in(start: str) -> str:
    """The guard program inside a start command or onstart script (what the pod will run)."""
    found = re.search(r'" ([A-Za-z0-9+/=]{20,})', start)
    return zlib.decompress(base64.b64decode(found.group(1))).decode() if found else ""


def guard_reason(record: InstanceRecord, now: datetime) -> str | None:
    """Why an instance ended on its own, when its start guard is the likely cause."""
    if record.guard_minutes is None or record.synced_at is not None:
        return None
    if now < record.started_at + timedelta(minutes=record.guard_minutes):
        return None
    return (f"ended by its start guard: no `loragate cloud sync` reached it within {record.guard_minutes} minutes, "
            "so it ended itself through the provider's API")
