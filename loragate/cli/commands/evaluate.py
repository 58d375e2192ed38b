"""`loragate eval NAME`, `loragate diagnose NAME --symptom`, `loragate register NAME`, `loragate loras`."""

from __future__ import annotations

import typer
from rich.table import Table

from loragate.cli.output import (
    EXIT_GO,
    EXIT_NO_GO,
    console,
    print_findings,
    print_json,
    progress_bar,
    run_engine,
)

STATE_STYLE = {"confirms": "bold red", "unknown": "yellow", "rules out": "dim"}


def _score(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _eval_view(report) -> None:
    from loragate.evaluate.cost import cost_text

    console.print(f"[bold]{report.project}[/]: {report.engine}, {len(report.checkpoints)} checkpoint(s), "
                  f"weights {', '.join(f'{w:g}' for w in report.weights)}, {len(report.prompts)} prompts")
    if report.cost:
        console.print(f"cost: {cost_text(report.cost)}")
    if report.measures:
        table = Table(title="Change against no LoRA (0 = identical)")
        table.add_column("checkpoint")
        table.add_column("takes effect")
        for weight in report.weights[1:]:
            table.add_column(f"{weight:g}", justify="right")
        table.add_column("copies", justify="right")
        scored = report.scores is not None
        if scored:
            table.add_column("CLIP", justify="right")
            table.add_column("like refs", justify="right")
        for m in report.measures:
            by_weight = {e.weight: f"{e.mean_change:.3f}" for e in m.strength_profile}
            table.add_row(m.checkpoint, "yes" if m.takes_effect else "[bold red]NO[/]",
                          *[by_weight.get(w, "-") for w in report.weights[1:]], str(len(m.copies)),
                          *([_score(m.clip_score, ".1f"), _score(m.reference_similarity, ".3f")] if scored else []))
        console.print(table)
        if report.scores:
            console.print(f"[dim]without the LoRA: CLIP {_score(report.scores.base_clip_score, '.1f')}, "
                          f"like refs {_score(report.scores.base_reference_similarity, '.3f')}[/]")
        for m in report.measures:
            if m.grid:
                console.print(f"[dim]grid {m.checkpoint}: {m.grid}[/]")
    if report.comparison:
        console.print(f"[dim]checkpoints side by side: {report.comparison}[/]")
    if report.findings:
        print_findings(report.findings)
    for note in report.notes:
        console.print(f"note: {note}")
    for path in report.exported[-1:]:
        console.print(f"exported: {path}")
    if report.eval_md:
        console.print(f"[dim]{report.eval_md}[/]")


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        checkpoint: list[str] | None = typer.Option(None, "--checkpoint", help="A LoRA file to test (repeat); default early, middle and final."),
        weights: list[float] | None = typer.Option(None, "--weight", help="A LoRA weight to try, 0 to 2 (repeat); default 0.3 0.5 0.7 0.9 1.0, plus 0."),
        prompt: list[str] | None = typer.Option(None, "--prompt", help="Your own prompt, added to the standard ones (repeat)."),
        seed: list[int] | None = typer.Option(None, "--seed", help="Seed per prompt (repeat for more); default one fixed seed."),
        max_prompts: int | None = typer.Option(None, "--max-prompts", help="Only the first N standard prompts (a smaller grid)."),
        steps: int | None = typer.Option(None, "--steps", help="Sampling steps per picture (default: the model's usual; fewer for a quick look)."),
        engine: str = typer.Option("auto", "--engine", help="auto, comfyui, scripts (the trainer's own) or export."),
        comfyui_url: str | None = typer.Option(None, "--comfyui-url", help="ComfyUI's address (default: studio.md, else 127.0.0.1:8188)."),
        lightning: list[str] | None = typer.Option(None, "--lightning", help="Wan 2.2 Lightning LoRA (low, then high) for a 4-step preview (default: the plan's)."),
        model: str | None = typer.Option(None, "--model", help="The base model you expect (refused if the plan trained another)."),
        trigger: str | None = typer.Option(None, "--trigger", help="The trigger you expect (refused if the plan used another)."),
        estimate: bool = typer.Option(False, "--estimate", help="Only say what it would cost."),
        price: float | None = typer.Option(None, "--price-per-hour", help="GPU price per hour (default: studio.md)."),
        clip_model: str | None = typer.Option(None, "--clip-model", help="Optional scores: a local CLIP model folder (run with the trainer's Python)."),
        references: str | None = typer.Option(None, "--references", help="Optional: a folder of pictures you held back, scored for similarity (needs --clip-model)."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Make the evaluation grid (rows = weights, columns = prompts, fixed seeds) for a project's
        checkpoints, measure whether the LoRA takes effect and copies training pictures, write
        eval.json and a draft eval.md. Exit 0 GO, 1 NO-GO (no effect, copies, layers that do not load)."""
        from loragate.evaluate.model import DEFAULT_WEIGHTS
        from loragate.evaluate.request import eval_request
        from loragate.evaluate.run import evaluate

        # the same request model as MCP's evaluate: the same bounds, choices and sentences
        request = run_engine(lambda: eval_request(
            project=name, checkpoints=checkpoint or [], weights=weights or list(DEFAULT_WEIGHTS), prompts=prompt or [],
            seeds=seed or None, max_standard_prompts=max_prompts, steps=steps, engine=engine, comfyui_url=comfyui_url,
            lightning=lightning or [], estimate_only=estimate, price_per_hour=price, model=model, trigger=trigger,
            clip_model=clip_model, references=references,
        ))
        with progress_bar("evaluating", enabled=not json_out) as update:
            report = run_engine(lambda: evaluate(request, progress=update))
        if json_out:
            print_json(report)
        else:
            _eval_view(report)
        raise typer.Exit(EXIT_NO_GO if report.verdict == "NO-GO" else EXIT_GO)

    @app.command("diagnose")
    def diagnose_cmd(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        symptom: str = typer.Option(..., "--symptom", help='What the pictures look like, e.g. "blurry and burnt at 1.0".'),
        json_out: bool = typer.Option(False, "--json", help="Print the diagnosis as JSON."),
    ) -> None:
        """From what you see to the likely causes, each checked against the project's record, and the one change to try next."""
        from loragate.diagnose.diagnose import diagnose

        result = run_engine(lambda: diagnose(name, symptom))
        if json_out:
            print_json(result)
            raise typer.Exit(EXIT_GO)
        for d in result.diagnoses:
            table = Table(title=f"{d.title} (matched: {', '.join(d.matched)})", show_lines=True)
            for column in ("cause", "the record", "evidence", "fix"):
                table.add_column(column)
            for c in d.causes:
                table.add_row(c.cause, f"[{STATE_STYLE[c.state]}]{c.state}[/]", c.evidence, c.fix)
            console.print(table)
        console.print(f"[bold]next step:[/] {result.next_step}")

    @app.command("register")
    def register_cmd(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        checkpoint: str = typer.Option(..., "--checkpoint", help="The evaluated LoRA file to register (name or path)."),
        weight: float = typer.Option(..., "--weight", help="The recommended weight from the evaluation."),
        good_for: str | None = typer.Option(None, "--good-for", help="What it does well, in your words."),
        json_out: bool = typer.Option(False, "--json", help="Print the registration as JSON."),
    ) -> None:
        """Add the evaluated LoRA to grimoire/studio.md for /art, mark the project COMPLETE and archive
        the evaluation pictures. Refused (exit 1) without a current evaluation of that file."""
        from loragate.registry.register import register_lora

        result = run_engine(lambda: register_lora(name, checkpoint, weight, good_for))
        if json_out:
            print_json(result)
            raise typer.Exit(EXIT_GO)
        what = "registered" if result.changed else "already registered, unchanged"
        console.print(f"[bold green]{result.lora.name}[/] {what} in {result.studio_md} at weight {result.lora.weight:g}.")
        console.print(f"[dim]{result.status_md}; {len(result.archived)} picture(s) archived; {result.sidecar}[/]")

    @app.command("loras")
    def loras_cmd(json_out: bool = typer.Option(False, "--json", help="Print the list as JSON.")) -> None:
        """The LoRAs registered in grimoire/studio.md, as /art uses them."""
        from loragate.registry.register import list_loras

        listing = run_engine(list_loras)
        if json_out:
            print_json(listing)
            raise typer.Exit(EXIT_GO)
        if not listing.loras:
            console.print(f"No LoRA is registered in {listing.studio_md} yet.")
            raise typer.Exit(EXIT_GO)
        table = Table(title="Registered LoRAs")
        for column in ("name", "trigger", "weight", "type", "base model", "file"):
            table.add_column(column)
        for lora in listing.loras:
            table.add_row(lora.name, lora.trigger, f"{lora.weight:g}", lora.type, lora.base_model, lora.file)
        console.print(table)

