"""Where instances are recorded: the project's `cloud.json` (for code) and the Cloud section of
`grimoire/studio.md` (for people). Written before waiting on a provider, so a crash never leaves
a billing instance unrecorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.cloud.model import CloudRecord, InstanceRecord
from loragate.core.errors import LoragateError
from loragate.workspace import grimoire_dir, project_dir, training_dir

CLOUD_FILE = "cloud.json"
STUDIO_HEADING = "## Cloud"


def read_cloud(project: str, root: Path | None = None) -> CloudRecord:
    path = project_dir(project, root) / CLOUD_FILE
    if not path.exists():
        return CloudRecord(project=project)
    try:
        return CloudRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise LoragateError(f"{path} is damaged ({exc.__class__.__name__}).",
                            "Check the provider's console for instances still running, then move the file aside.") from exc


def save_instance(record: InstanceRecord, root: Path | None = None) -> None:
    """Add or update one instance in cloud.json and in studio.md."""
    cloud = read_cloud(record.project, root)
    cloud.instances = [i for i in cloud.instances if not (i.provider == record.provider and i.instance_id == record.instance_id)]
    cloud.instances.append(record)
    atomic_write_json(project_dir(record.project, root, create=True) / CLOUD_FILE, cloud)
    _write_studio(record, root)


def open_instance(project: str, root: Path | None = None) -> InstanceRecord:
    """The project's instance that is up (the latest one not ended)."""
    live = [i for i in read_cloud(project, root).instances if i.ended_at is None and i.state != "terminated"]
    if not live:
        raise LoragateError(f"{project} has no cloud instance up.",
                            f"Start one with `loragate cloud up {project} --provider P --gpu TYPE` (it states the cost first).")
    return max(live, key=lambda i: i.started_at)


def all_instances(root: Path | None = None) -> list[InstanceRecord]:
    """Every instance any project in this workspace started."""
    found: list[InstanceRecord] = []
    folder = training_dir(root)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob(f"*/{CLOUD_FILE}")):
        found += read_cloud(path.parent.name, root).instances
    return found


def studio_line(r: InstanceRecord) -> str:
    state = "TERMINATED" if r.state == "terminated" else r.state.upper()
    ended = f", ended {r.ended_at:%Y-%m-%d %H:%M} UTC" if r.ended_at else ""
    return (f"- {r.provider} instance `{r.instance_id}` for {r.project}: {r.gpus}x {r.gpu} at ${r.usd_per_hour:.2f}/h, "
            f"volume {r.volume_gb} GB, cap ${r.cap_usd:.2f}, started {r.started_at:%Y-%m-%d %H:%M} UTC{ended}: **{state}**")


def _write_studio(record: InstanceRecord, root: Path | None) -> None:
    path = grimoire_dir(root) / "studio.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = "# Studio\n"
    line = studio_line(record)
    marker = re.compile(rf"^- {record.provider} instance `{re.escape(record.instance_id)}` .*$", re.MULTILINE)
    if marker.search(text):
        text = marker.sub(lambda _: line, text)
    elif STUDIO_HEADING in text.splitlines():
        lines = text.splitlines()
        at = lines.index(STUDIO_HEADING) + 1
        while at < len(lines) and not lines[at].startswith("## "):
            at += 1
        while at > 0 and not lines[at - 1].strip():
            at -= 1
        lines.insert(at, line)
        text = "\n".join(lines) + "\n"
    else:
        text = text.rstrip("\n") + f"\n\n{STUDIO_HEADING}\n{line}\n"
    atomic_write_text(path, text)
