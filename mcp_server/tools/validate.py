"""validate_config: the validator over an artist's own scripts and TOMLs."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from loragate.validate.report import ValidationReport
from mcp_server.common import READ_ONLY, call_engine, is_allowed, lazy, resolve_path

validate_files = lazy("loragate.validate.validate:validate_files")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="validate_config", title="Validate training commands and TOMLs", annotations=READ_ONLY)
    async def validate_config_tool(
        files: Annotated[
            list[str],
            Field(description="Files to check together: shell scripts (.sh/.bat/.ps1), Python launchers (.py, read "
                              "without running them) or command-line files holding "
                              "the cache and training commands, sd-scripts --config_file TOMLs, dataset TOMLs. "
                              "Relative to the project or absolute.", min_length=1),
        ],
        model: Annotated[
            str | None,
            Field(description="Model family id, e.g. wan2.2-t2v-a14b, wan2.1-i2v-14b, sdxl, pony, flux1-dev. "
                              "Leave empty to infer it from the task flag, script and weights file names."),
        ] = None,
        check_paths: Annotated[
            bool,
            Field(description="Report input paths (models, datasets) that do not exist on this machine, as warnings. "
                              "Turn off when checking a setup meant for another machine (a RunPod or Modal pod)."),
        ] = True,
    ) -> ValidationReport:
        """Check an artist's own training setup (musubi-tuner for Wan, sd-scripts for SD1.5/SDXL/FLUX) before
        any GPU time is spent: task flag against the weights, precision, Wan 2.2 expert timestep ranges, I2V
        caching, scheduler and alpha/LR pitfalls, resume method, unknown or misspelt flags, mixed platform
        paths, dataset TOML schema. Reads every command and TOML together, so it catches mismatches between
        the cache and training steps. Call it whenever the artist brings or edits a script or TOML; a plan
        made with generate_config is validated as part of Gate 2 already. Returns GO/NO-GO and findings
        with code, severity, message, fix and evidence (file, line, flag, value). Writes nothing."""
        paths = [resolve_path(f, "file") for f in files]
        return await call_engine(None, validate_files, paths, model=model, check_paths=check_paths, allowed=is_allowed)
