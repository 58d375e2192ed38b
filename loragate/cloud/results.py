"""What the cloud operations answer, apart from the engines that make the answers: the MCP server
builds its tools (their output schemas) from these without importing the engines."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from loragate.cloud.model import InstanceRecord


class ModalApp(BaseModel):
    project: str
    path: str
    app_name: str
    volume: str
    gpu: str
    functions: list[str]
    timeouts_s: dict[str, int]
    commands: list[str]
    message: str


class ModalStep(BaseModel):
    name: str
    argv: list[str]
    exit_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class ModalRun(BaseModel):
    project: str
    status: str = Field(description="starting, running, complete or failed.")
    steps: list[ModalStep]
    log: str
    message: str


class ModalPull(BaseModel):
    project: str
    files: list[str]
    message: str


RemoteStep = Literal["env", "dry-run", "launch", "monitor"]


class RemoteRun(BaseModel):
    project: str
    step: RemoteStep
    exit_code: int | None = Field(description="The command's exit code; None when it was started detached.")
    detached: bool = False
    verdict: str | None = Field(default=None, description="GO / NO-GO from the command's JSON, when it printed one.")
    status: str | None = Field(default=None, description="The run's status (monitor).")
    result: dict = Field(default_factory=dict, description="The JSON the command printed on the pod.")
    output: str = Field(default="", description="The end of what it printed, for a person.")
    message: str


class DownResult(BaseModel):
    project: str
    ended: list[InstanceRecord]
    warnings: list[str]
    message: str


class Transfer(BaseModel):
    what: str
    source: str
    dest: str
    ok: bool
    detail: str = ""


class SyncResult(BaseModel):
    project: str
    transfers: list[Transfer]
    installed: bool = False
    watchdog: str | None = Field(default=None, description="What the watchdog on the pod answered when started.")
    message: str


class PullResult(BaseModel):
    project: str
    transfers: list[Transfer]
    local_folder: str
    files: list[str] = Field(description="LoRA and checkpoint files now in the local output folder.")
    message: str


class UpResult(BaseModel):
    record: InstanceRecord
    started: bool
    message: str
