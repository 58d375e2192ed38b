"""`loragate plan new|import|check|show`: make the training plan (or read the artist's own), re-run Gate 2 on it, show it."""

from __future__ import annotations

from typing import Optional

import typer
from rich.text import Text

from loragate.cli.output import (
    EXIT_GO,
    console,
    exit_for,
    fail,
    print_findings,
    print_rows,
    print_json,
    print_verdict,
    progress_bar,
    run_engine,
)


def _weights(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        role, sep, path = pair.partition("=")
        if not sep or not role.strip() or not path.strip():
            fail(f"--weights {pair!r} is not ROLE=PATH.", "For example --weights dit=/models/my_dit.safetensors.")
        out[role.strip()] = path.strip()
    return out


def _lightning(high: str | None, low: str | None, merge: list[str], premerged: list[str], strength: float):  # noqa: ANN202
    """The Lightning options as the engine's LightningChoice (None when none was given)."""
    from pydantic import ValidationError

    from loragate.lightning.choice import LightningChoice

    if not (high or low or merge or premerged):
        return None
    if not (high and low):
        fail("Lightning needs both files: one per Wan 2.2 expert.",
             "Give --lightning-high HIGH_FILE and --lightning-low LOW_FILE (e.g. high_noise_model.safetensors, low_noise_model.safetensors).")
    try:
        return LightningChoice(high_noise=high, low_noise=low, merge=merge, premerged=premerged, strength=strength)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"--lightning-{first['loc'][0]}: {first['msg']}.", "Use high, low or both for the experts, and a strength above 0 up to 2.")


def _show_gate(report) -> None:  # noqa: ANN001 - Gate2Report, imported lazily
    if report.vram is not None:
        each = " per run" if report.runs_at_once > 1 else ""
        gpu = f" (GPU {report.gpu_gb:g} GB, from {report.gpu_source})" if report.gpu_gb else " (GPU size unknown)"
        console.print(f"VRAM estimate: [bold]{report.vram.estimate_gb:.1f} GB[/]{each}{gpu}")
    if report.findings:
        print_findings(report.findings, title="Gate 2 findings")
    console.print(report.summary)
    print_rows([("Explained in", report.config_path)])
    print_verdict(report.verdict, "Gate 2 (config)")


def _show_plan(plan) -> None:  # noqa: ANN001 - TrainingPlan
    console.print(Text(f"Plan {plan.name}", style="bold underline"))
    rows = [
        ("model", f"{plan.model} ({plan.backend})"),
        ("preset", f"{plan.preset} / {plan.training_type}"),
        ("dataset", f"{plan.dataset.path} ({plan.dataset.image_count} images, {plan.dataset.video_count} clips)"),
        ("trigger", plan.trigger),
        ("rank / alpha", f"{plan.network.dim} / {plan.network.alpha:g}"),
        ("optimizer", f"{plan.optimizer.type}, lr {plan.optimizer.learning_rate:g}, {plan.optimizer.lr_scheduler}"),
        ("epochs / batch", f"{plan.schedule.max_train_epochs} / {plan.schedule.batch_size}"),
        ("memory", f"{plan.memory.mixed_precision}, fp8 {'on' if plan.memory.fp8_base else 'off'}, "
                   f"block swap {plan.memory.blocks_to_swap}"),
        ("output", f"{plan.output_dir}"),
    ]
    if plan.experts:
        rows.append(("experts", ", ".join(f"{e.expert} {e.min_timestep}-{e.max_timestep}" for e in plan.experts)
                     + (" (together)" if plan.experts_together else " (one after the other)")))
    if plan.lightning is not None:
        on = [*plan.lightning.merged, *plan.lightning.premerged]
        rows.append(("lightning", ("trained on base + Lightning: " + ", ".join(sorted(on)) + "; " if on else "")
                     + "stacked at inference (4 steps, CFG 1)"))
    print_rows(rows)


def register(app: typer.Typer) -> None:
    plan_app = typer.Typer(help="Make the training plan and check it (Gate 2).", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(plan_app, name="plan")

    @plan_app.command("new")
    def new(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        model: str = typer.Option(..., "--model", help="Model family, e.g. wan2.2-t2v-a14b, sdxl, flux1-dev."),
        dataset: str = typer.Option(..., "--dataset", help="Dataset folder (Images/ + Videos/, N_name folders or flat)."),
        trigger: str = typer.Option(..., "--trigger", help="The trigger word every caption contains."),
        preset: str = typer.Option("standard", "--preset", help="quick, standard or thorough."),
        training_type: str = typer.Option("character", "--type", help="character, style or object."),
        gpu_gb: Optional[float] = typer.Option(None, "--gpu-gb", help="GPU memory to fit, GB (default: grimoire/studio.md)."),
        expert: Optional[str] = typer.Option(None, "--expert", help="Wan 2.2: high, low or both (default both)."),
        platform: str = typer.Option("local", "--platform", help="local, runpod or modal: where training runs."),
        trainer_dir: Optional[str] = typer.Option(None, "--trainer-dir", help="The trainer's checkout."),
        trainer_python: Optional[str] = typer.Option(None, "--trainer-python", help="The trainer's Python interpreter."),
        models_dir: Optional[str] = typer.Option(None, "--models-dir", help="Folder holding the model files."),
        weights: list[str] = typer.Option([], "--weights", help="ROLE=PATH for one model file (dit, vae, t5, base_model...)."),
        output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Where the LoRA files go."),
        resolution: Optional[str] = typer.Option(None, "--resolution", help="Training size, N or WxH."),
        frames: list[int] = typer.Option([], "--frames", help="Wan clip lengths (4n+1), repeatable."),
        optimizer: Optional[str] = typer.Option(None, "--optimizer", help="AdamW, AdamW8bit, Prodigy, Lion, Adafactor."),
        rank: Optional[int] = typer.Option(None, "--rank", help="LoRA rank (network dim)."),
        network: str = typer.Option("lora", "--network", help="lora, loha or lokr (LoHa/LoKr: LyCORIS, sd-scripts models)."),
        learning_rate: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
        caption_extension: str = typer.Option(".txt", "--caption-extension", help="Caption file extension."),
        together: Optional[bool] = typer.Option(None, "--together/--one-after-another",
                                                help="Wan 2.2: run both experts at once (default: when they fit)."),
        lightning_high: Optional[str] = typer.Option(None, "--lightning-high",
                                                     help="Wan 2.2: the high-noise expert's Lightning LoRA you render with."),
        lightning_low: Optional[str] = typer.Option(None, "--lightning-low", help="Wan 2.2: the low-noise expert's Lightning LoRA."),
        lightning_merge: list[str] = typer.Option([], "--lightning-merge",
                                                  help="high, low or both: train that expert on base + Lightning (default: train "
                                                       "on the base, stack Lightning at inference)."),
        lightning_premerged: list[str] = typer.Option([], "--lightning-premerged",
                                                      help="high, low or both: that expert's DiT file already has Lightning merged in."),
        lightning_strength: float = typer.Option(1.0, "--lightning-strength", help="Lightning multiplier (1.0 as released)."),
        replace: bool = typer.Option(False, "--replace",
                                     help="Replace NAME's existing plan (the old one is kept in plan-history/)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write grimoire/training/NAME/: plan.json, dataset.toml, commands.json, train.sh, config.md; run Gate 2."""
        from loragate.plan.request import make_plan, plan_request

        lightning = _lightning(lightning_high, lightning_low, lightning_merge, lightning_premerged, lightning_strength)
        request = run_engine(lambda: plan_request(
            name=name, model=model, dataset=dataset, trigger=trigger, replace=replace,
            preset=preset, training_type=training_type, gpu_gb=gpu_gb, expert=expert, platform=platform,
            trainer_dir=trainer_dir, trainer_python=trainer_python, models_dir=models_dir,
            weights=_weights(weights), output_dir=output_dir, resolution=resolution, frames=frames or None,
            optimizer=optimizer, rank=rank, learning_rate=learning_rate,
            caption_extension=caption_extension, experts_together=together, lightning=lightning, network=network,
        ))
        with progress_bar("Planning", enabled=not json_out) as progress:
            result = run_engine(lambda: make_plan(request, progress=progress))
        if json_out:
            print_json(result)
        else:
            _show_plan(result.plan)
            for file, path in sorted(result.files.items()):
                console.print(f"  wrote {file}: {path}", markup=False, highlight=False, soft_wrap=True)
            if result.previous_plan:
                console.print(f"Replaced the earlier plan{' (' + result.replaced + ')' if result.replaced else ''}; "
                              f"it is kept in {result.previous_plan}", markup=False, highlight=False, soft_wrap=True)
            _show_gate(result.gate2)
        exit_for(result.gate2.verdict)

    @plan_app.command("import")
    def import_(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        files: list[str] = typer.Argument(None, help="Your training script(s) (.sh/.bat/.ps1/.py), config and dataset TOMLs."),
        trigger: str = typer.Option(..., "--trigger", help="The trigger word every caption contains."),
        command: Optional[str] = typer.Option(None, "--command", help="A command line as you would type it, in quotes."),
        model: Optional[str] = typer.Option(None, "--model", help="Model family (default: recognised from the script)."),
        training_type: str = typer.Option("character", "--type", help="character, style or object."),
        preset: str = typer.Option("standard", "--preset", help="Fills only what your files leave unsaid."),
        platform: str = typer.Option("local", "--platform", help="local, runpod or modal: where training runs."),
        gpu_gb: Optional[float] = typer.Option(None, "--gpu-gb", help="GPU memory to fit, GB (default: grimoire/studio.md)."),
        together: bool = typer.Option(False, "--together", help="Wan 2.2: launch both expert runs at once."),
        lightning_high: Optional[str] = typer.Option(None, "--lightning-high",
                                                     help="Wan 2.2: the high-noise expert's Lightning LoRA you render with."),
        lightning_low: Optional[str] = typer.Option(None, "--lightning-low", help="Wan 2.2: the low-noise expert's Lightning LoRA."),
        lightning_premerged: list[str] = typer.Option([], "--lightning-premerged",
                                                      help="high, low or both: that expert's DiT file already has Lightning merged in."),
        lightning_strength: float = typer.Option(1.0, "--lightning-strength", help="Lightning multiplier (1.0 as released)."),
        replace: bool = typer.Option(False, "--replace",
                                     help="Replace NAME's existing plan (the old one is kept in plan-history/)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Read your own training script / command line and dataset TOML into NAME's plan; run Gate 2."""
        from loragate.plan.import_plan import import_plan, import_request

        request = run_engine(lambda: import_request(
            name=name, files=files or [], command=command, trigger=trigger, model=model, training_type=training_type,
            preset=preset, platform=platform, gpu_gb=gpu_gb, experts_together=together, replace=replace,
            lightning=_lightning(lightning_high, lightning_low, [], lightning_premerged, lightning_strength)))
        with progress_bar("Importing", enabled=not json_out) as progress:
            result = run_engine(lambda: import_plan(request, progress=progress))
        if json_out:
            print_json(result)
        else:
            _show_plan(result.plan)
            if result.not_carried:
                print_findings(result.not_carried, title="What your setup says that the plan carries otherwise")
            for file, path in sorted(result.files.items()):
                console.print(f"  wrote {file}: {path}", markup=False, highlight=False, soft_wrap=True)
            if result.previous_plan:
                console.print(f"Replaced the earlier plan; it is kept in {result.previous_plan}",
                              markup=False, highlight=False, soft_wrap=True)
            _show_gate(result.gate2)
        exit_for(result.gate2.verdict)

    @plan_app.command("check")
    def check(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        json_out: bool = typer.Option(False, "--json", help="Print the Gate 2 report as JSON."),
    ) -> None:
        """Re-run Gate 2 on the saved plan (after editing plan.json, the dataset or studio.md)."""
        from loragate.plan.gate2 import check_plan

        with progress_bar("Checking the plan", enabled=not json_out) as progress:
            report = run_engine(lambda: check_plan(name, progress=progress))
        if json_out:
            print_json(report)
        else:
            _show_gate(report)
        exit_for(report.verdict)

    @plan_app.command("show")
    def show(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        json_out: bool = typer.Option(False, "--json", help="Print plan.json's model."),
    ) -> None:
        """Show the saved plan."""
        from loragate.plan.store import load_project_plan

        plan = run_engine(lambda: load_project_plan(name))
        if json_out:
            print_json(plan)
        else:
            _show_plan(plan)
            from loragate.plan.train_script import format_command

            for command in plan.commands:
                console.print(f"\n[bold]{command.stage}[/]{' (' + command.expert + ')' if command.expert else ''}")
                console.print(format_command(command.argv), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_GO)
