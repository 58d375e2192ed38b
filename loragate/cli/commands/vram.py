"""`loragate vram ...`: how much GPU memory a training configuration needs, and what makes it fit.
`loragate models`: the model families loragate knows."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, print_json, run_engine
from loragate.vram.model import VramEstimate


def _render(est: VramEstimate) -> None:
    req = est.request
    title = f"{est.model} at {req.resolution[0]}x{req.resolution[1]}" + (f", {req.frames} frames" if req.frames > 1 else "")
    table = Table(title=f"GPU memory: {title} (peak while {est.peak_phase.replace('_', ' ')})")
    table.add_column("part")
    table.add_column("GB", justify="right")
    for name, gb in est.breakdown.items():
        table.add_row(name.replace("_", " "), f"{gb:.2f}")
    if est.correction is not None and est.uncorrected_gb is not None:
        table.add_row("estimate before this machine's correction", f"{est.uncorrected_gb:.2f}")
        table.add_row(f"this machine's correction (x{est.correction.factor:.2f})", "")
    table.add_row("[bold]total[/]", f"[bold]{est.estimate_gb:.2f}[/]")
    console.print(table)
    others = ", ".join(f"{k.replace('_', ' ')} {v:.1f} GB" for k, v in est.phases.items() if k != est.peak_phase)
    if others:
        console.print(f"Other phases: {others}.")
    console.print(f"Main memory (RAM): about {est.host_ram_gb:.0f} GB. Each training sample is cut into {est.tokens:,} "
                  "small patches (tokens) for the model; bigger pictures and longer clips make more of them, and "
                  "memory grows with their number.", soft_wrap=True)
    for note in est.notes:
        console.print(f"- {note}")
    if est.gpu_gb is None:
        return
    need = est.estimate_gb * (1 + est.margin)
    if est.fits:
        console.print(f"[bold green]Fits[/] a {est.gpu_gb:g} GB GPU with the 20% margin (needs {need:.1f} GB).")
        return
    console.print(f"[bold red]Does not fit[/] a {est.gpu_gb:g} GB GPU with the 20% margin (needs {need:.1f} GB).")
    if est.fit_plan:
        plan = Table(title="Cheapest changes that make it fit, in order")
        for column in ("step", "change", "estimate GB", "fits", "RAM GB", "what it costs you"):
            plan.add_column(column)
        for i, step in enumerate(est.fit_plan, 1):
            ram = f"{step.host_ram_gb:.0f}" if step.host_ram_gb is not None else "-"
            plan.add_row(str(i), step.change, f"{step.estimate_gb:.2f}", "yes" if step.fits else "no", ram, step.explanation)
        console.print(plan)
        if not est.fit_plan[-1].fits:
            console.print("[bold red]Even all of these do not make it fit;[/] a larger GPU is needed.")


def _token_limits(limits: dict[str, int]) -> str:
    """'75' when the encoders agree; '77 (CLIP-L) / 512 (T5-XXL)' when they do not."""
    if len(set(limits.values())) <= 1:
        return str(next(iter(limits.values()), ""))
    return " / ".join(f"{n} ({name})" for name, n in limits.items())


def register(app: typer.Typer) -> None:
    @app.command("vram")
    def vram(
        model: str = typer.Option(..., "--model", help="Model family (see `loragate models`)."),
        resolution: str = typer.Option(..., "--resolution", help="N or WxH, e.g. 1024 or 832x480."),
        frames: int = typer.Option(1, "--frames", help="Frames per clip for Wan video (4n+1)."),
        batch: int = typer.Option(1, "--batch"),
        rank: int = typer.Option(16, "--rank", help="LoRA rank (network_dim)."),
        optimizer: str = typer.Option("AdamW8bit", "--optimizer"),
        precision: Optional[str] = typer.Option(None, "--precision", help="bf16 or fp16; default: the model's."),
        fp8_base: bool = typer.Option(False, "--fp8-base", help="Store the frozen model in fp8."),
        fp8_scaled: bool = typer.Option(False, "--fp8-scaled", help="musubi's scaled fp8 (needs --fp8-base)."),
        fp8_text_encoder: bool = typer.Option(False, "--fp8-text-encoder", help="fp8 T5 while caching captions."),
        blocks_to_swap: int = typer.Option(0, "--blocks-to-swap"),
        no_gradient_checkpointing: bool = typer.Option(False, "--no-gradient-checkpointing"),
        no_cache_text_encoder: bool = typer.Option(False, "--no-cache-text-encoder-outputs"),
        no_cache_latents: bool = typer.Option(False, "--no-cache-latents"),
        train_text_encoder: bool = typer.Option(False, "--train-text-encoder", help="sd-scripts: also train the text encoder."),
        gpu_gb: Optional[float] = typer.Option(None, "--gpu-gb", help="GPU memory to fit, GB."),
        json_out: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
    ) -> None:
        """Estimate GPU memory for a LoRA training configuration; with --gpu-gb, say whether it fits
        (20% margin) and which changes make it fit. Exit 0 fits, 1 does not fit, 2 bad input."""
        from loragate.vram import estimate_vram, make_request

        est = run_engine(
            lambda: estimate_vram(
                make_request(
                    model=model, resolution=resolution, frames=frames, batch=batch, rank=rank, optimizer=optimizer,
                    precision=precision, fp8_base=fp8_base, fp8_scaled=fp8_scaled, fp8_text_encoder=fp8_text_encoder,
                    blocks_to_swap=blocks_to_swap, gradient_checkpointing=not no_gradient_checkpointing,
                    cache_text_encoder_outputs=not no_cache_text_encoder, cache_latents=not no_cache_latents,
                    train_text_encoder=train_text_encoder, gpu_gb=gpu_gb,
                )
            )
        )
        if json_out:
            print_json(est)
        else:
            _render(est)
        raise typer.Exit(EXIT_NO_GO if est.fits is False else EXIT_GO)

    @app.command("models")
    def models(json_out: bool = typer.Option(False, "--json", help="Print the catalog as JSON.")) -> None:
        """List the model families loragate can train."""
        from loragate.catalog.listing import list_models

        listing = run_engine(list_models)
        if json_out:
            print_json(listing)
            return
        table = Table(title="Model families")
        for column in ("family", "trainer", "task / script", "resolutions", "captions", "experts"):
            table.add_column(column)
        for m in listing.models:
            name = m.id + (f" (variant of {m.variant_of})" if m.variant_of else "")
            table.add_row(name, m.trainer, m.task or m.train_script, ", ".join(m.resolutions[:3]),
                          f"{m.caption_style}, {_token_limits(m.token_limits) or m.token_limit} tokens",
                          "; ".join(m.experts) or "-")
        console.print(table)
