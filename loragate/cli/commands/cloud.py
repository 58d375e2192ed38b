"""`loragate cloud ...`: rent a GPU with the cost said first, work on it, and end it."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, print_json, run_engine

PROVIDER_HELP = "runpod, vast or modal."


def _offers_table(report) -> Table:
    table = Table(title="GPU offers" + (f" for {report.project}" if report.project else ""))
    for column in ("provider", "card", "GB", "$/h", "fits", "time", "total", "cap", "price from"):
        table.add_column(column)
    for ln in report.lines:
        o = ln.offer
        table.add_row(o.provider, o.gpu, f"{o.memory_gb:.0f}", f"{o.usd_per_hour:.2f}", "yes" if ln.fits else f"no: {ln.fit_note}",
                      f"{ln.hours:.1f} h" if ln.hours is not None else "-", f"${ln.total_usd:.2f}" if ln.total_usd is not None else "-",
                      f"${ln.cap_usd:.2f}" if ln.cap_usd is not None else "-", "live" if o.live else f"table of {o.dated}")
    return table


def _print_remote(result, json_out: bool) -> None:
    if json_out:
        print_json(result)
    else:
        console.print(result.message)
    raise typer.Exit(EXIT_NO_GO if result.verdict == "NO-GO" or (result.exit_code not in (0, None)) else EXIT_GO)


def register(app: typer.Typer) -> None:
    cloud = typer.Typer(help="Rent a GPU (RunPod, Vast.ai, Modal): cost first, gates on the pod, nothing left billing.", no_args_is_help=True)
    modal = typer.Typer(help="Train on Modal: write the app, run it, pull the results.", no_args_is_help=True)
    cloud.add_typer(modal, name="modal")
    app.add_typer(cloud, name="cloud")

    @cloud.command("offers")
    def offers_cmd(
        provider: str | None = typer.Option(None, "--provider", help=PROVIDER_HELP),
        plan: str | None = typer.Option(None, "--plan", help="Project whose plan the cards must fit."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Cards and live prices, the ones the plan fits, expected time, total cost and the cap."""
        from loragate.cloud.offers import cloud_offers
        from loragate.cloud.request import offers_request

        request = run_engine(lambda: offers_request(provider=provider, project=plan))  # the same model as MCP's cloud_offers
        report = run_engine(lambda: cloud_offers(request.provider, request.project))
        if json_out:
            print_json(report)
        else:
            console.print(_offers_table(report))
            for note in report.notes:
                console.print(f"[yellow]note:[/] {note}")

    @cloud.command("up")
    def up_cmd(
        name: str = typer.Argument(..., help="Project name."),
        provider: str = typer.Option(..., "--provider", help="runpod or vast."),
        gpu: str = typer.Option(..., "--gpu", help="Card, as `cloud offers` names it (e.g. 'A100 80GB')."),
        max_usd: float | None = typer.Option(None, "--max-usd", help="Spend cap in dollars (default: 1.5x the expected total)."),
        idle_minutes: int | None = typer.Option(None, "--idle-minutes", help="The machine ends itself if no `cloud sync` reaches it within these minutes (default 30)."),
        yes: bool = typer.Option(False, "--yes", help="Say yes to the stated cost without the question (scripts)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """State the cost, ask, then rent the card and record it in studio.md and the project."""
        from loragate.cloud.request import up_request
        from loragate.cloud.spend import approve_spend
        from loragate.cloud.up import make_quote, up

        request = run_engine(lambda: up_request(project=name, provider=provider, gpu=gpu, max_usd=max_usd, idle_minutes=idle_minutes))
        quote = run_engine(lambda: make_quote(**dict(request)))
        typer.echo(quote.message, err=json_out)
        if not yes and not typer.confirm("Rent it now?", default=False, err=json_out):
            typer.echo("Not rented: nothing was spent.", err=True)
            raise typer.Exit(EXIT_NO_GO)
        approve_spend(quote)
        result = run_engine(lambda: up(quote))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
        raise typer.Exit(EXIT_GO if result.started else EXIT_NO_GO)

    @cloud.command("down")
    def down_cmd(
        name: str = typer.Argument(..., help="Project name."),
        instance: str | None = typer.Option(None, "--instance", help="Only this instance id."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Terminate the project's instances and mark them TERMINATED in studio.md."""
        from loragate.cloud.status import down

        result = run_engine(lambda: down(name, instance))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
            for warning in result.warnings:
                console.print(f"[yellow]note:[/] {warning}")

    @cloud.command("status")
    def status_cmd(
        offline: bool = typer.Option(False, "--offline", help="Show the records without asking the providers."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Every instance loragate started, in every project, with its cost so far."""
        from loragate.cloud.status import cloud_status

        result = run_engine(lambda: cloud_status(refresh=not offline))
        if json_out:
            print_json(result)
        else:
            table = Table(title="Cloud instances")
            for column in ("project", "provider", "id", "card", "state", "hours", "cost", "cap"):
                table.add_column(column)
            for c in result.instances:
                r = c.record
                table.add_row(r.project, r.provider, r.instance_id, r.gpu, r.state.upper(), f"{c.hours:.2f}",
                              f"${c.usd_so_far:.2f}", f"${r.cap_usd:.2f}" + (" [red]over[/]" if c.over_cap else ""))
            console.print(table)
            console.print(result.message)
        raise typer.Exit(EXIT_NO_GO if any(c.billing for c in result.instances) else EXIT_GO)

    @cloud.command("sync")
    def sync_cmd(
        name: str = typer.Argument(..., help="Project name."),
        no_install: bool = typer.Option(False, "--no-install", help="Do not copy and install loragate on the pod."),
        idle: int = typer.Option(30, "--idle", help="Minutes without work after which the watchdog ends the pod (5-720)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Send the dataset, the project record and loragate to the pod (resumes), start the watchdog."""
        from loragate.cloud.request import sync_request
        from loragate.cloud.sync import sync

        request = run_engine(lambda: sync_request(project=name, install=not no_install, idle_minutes=idle))  # as MCP's cloud_sync
        result = run_engine(lambda: sync(request.project, install=request.install, idle_minutes=request.idle_minutes))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
            if result.watchdog:
                console.print(f"watchdog: {result.watchdog}")
        raise typer.Exit(EXIT_GO if all(t.ok for t in result.transfers) else EXIT_NO_GO)

    for step, doc in (("env", "Gate 3 on the pod, recorded as the pod's machine."),
                      ("dry-run", "Gate 4 on the pod, started detached (survives an SSH drop)."),
                      ("launch", "Start training on the pod (its supervisor is detached); refuses unless the gates pass there."),
                      ("monitor", "How the run on the pod is going; brings its record back.")):
        def command(name: str = typer.Argument(..., help="Project name."),
                    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."), _step: str = step) -> None:
            from loragate.cloud.remote import remote

            _print_remote(run_engine(lambda: remote(name, _step)), json_out)  # type: ignore[arg-type]

        command.__doc__ = doc
        cloud.command(step)(command)

    @cloud.command("pull")
    def pull_cmd(
        name: str = typer.Argument(..., help="Project name."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Bring the LoRA, checkpoints, samples, logs and the record home (resumes)."""
        from loragate.cloud.sync import pull

        result = run_engine(lambda: pull(name))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
        raise typer.Exit(EXIT_GO if all(t.ok for t in result.transfers) else EXIT_NO_GO)

    @cloud.command("watchdog", hidden=True)
    def watchdog_cmd(
        name: str = typer.Argument(...),
        provider: str = typer.Option(..., "--provider"),
        instance: str = typer.Option(..., "--instance"),
        price: float = typer.Option(..., "--price"),
        cap: float = typer.Option(..., "--cap"),
        started: str = typer.Option(..., "--started"),
        idle: float = typer.Option(30, "--idle"),
        detach: bool = typer.Option(False, "--detach"),
    ) -> None:
        """Runs on the pod: end it at the cap, when results are pulled, or when idle."""
        from loragate.cloud.watchdog import detach as start_detached
        from loragate.cloud.watchdog import watch

        if detach:
            argv = ["cloud", "watchdog", name, "--provider", provider, "--instance", instance, "--price", str(price),
                    "--cap", str(cap), "--started", started, "--idle", str(idle)]
            typer.echo(start_detached(argv, name))
            return
        decision = run_engine(lambda: watch(name, provider, instance, price, cap, datetime.fromisoformat(started), idle))
        typer.echo(f"ended: {decision.reason}")

    @modal.command("write")
    def modal_write_cmd(
        name: str = typer.Argument(..., help="Project name (a plan made with --platform modal)."),
        gpu: str | None = typer.Option(None, "--gpu", help="Modal GPU (default: the cheapest the plan fits)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write grimoire/training/NAME/modal_app.py for the plan."""
        from loragate.cloud.modal_app import write_modal_app

        result = run_engine(lambda: write_modal_app(name, gpu))
        print_json(result) if json_out else console.print(result.message)

    @modal.command("run")
    def modal_run_cmd(
        name: str = typer.Argument(..., help="Project name."),
        foreground: bool = typer.Option(False, "--foreground", help="Stay until every function has returned."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Upload the data, then check, cache and train (both Wan 2.2 experts at once) on Modal."""
        from loragate.cloud.modal_run import modal_run

        result = run_engine(lambda: modal_run(name, detach=not foreground))
        print_json(result) if json_out else console.print(result.message)
        raise typer.Exit(EXIT_NO_GO if result.status == "failed" else EXIT_GO)

    @modal.command("status")
    def modal_status_cmd(name: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")) -> None:
        """Where the Modal run is: each step and its exit code."""
        from loragate.cloud.modal_run import modal_status

        result = run_engine(lambda: modal_status(name))
        if json_out:
            print_json(result)
            return
        for s in result.steps:
            console.print(f"{s.name}: {'running' if s.started_at and s.exit_code is None else 'exit ' + str(s.exit_code) if s.ended_at else 'waiting'}")
        console.print(result.message or result.status)

    @modal.command("pull")
    def modal_pull_cmd(name: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")) -> None:
        """Download the LoRA files and the record from the app's Volume."""
        from loragate.cloud.modal_run import modal_pull

        result = run_engine(lambda: modal_pull(name))
        print_json(result) if json_out else console.print(result.message)

