"""Offers, the spend gate, up / down / status against local stand-ins of the RunPod and Vast APIs."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.cloud.offers import cloud_offers
from loragate.cloud.record import read_cloud, save_instance
from loragate.cloud.spend import approve_spend, require_spend
from loragate.gates.ledger import gate_status, read_ledger
from loragate.cloud.status import cloud_status, down
from loragate.cloud.up import make_quote, up
from loragate.core.errors import GatesNotPassed, LoragateError
from tests.cloud_fixtures import RUNPOD_KEY, VAST_KEY, cloud_env, make_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("cloud_env")


def _no_wait(_: float) -> None:
    return None


def test_offers_are_live_filtered_to_the_plan_and_cost_with_storage_and_cap(workspace: Path) -> None:
    make_plan(workspace, model="wan2.2-t2v-a14b")
    report = cloud_offers("runpod", "mira")
    names = {ln.offer.gpu for ln in report.lines}
    assert all(ln.offer.live for ln in report.lines)
    # the Wan 14B plan needs more than a 24 GB card with the margin: RunPod is only asked for cards that hold it
    assert "RTX 4090" not in names and {"A100 80GB", "H100"} <= names
    a100 = next(ln for ln in report.lines if ln.offer.gpu == "A100 80GB")
    assert a100.fits and a100.offer.usd_per_hour == 1.64
    assert a100.hours and a100.total_usd == pytest.approx(a100.hours * 1.64 + a100.storage_usd, abs=0.01)
    assert a100.storage_usd > 0 and a100.cap_usd >= a100.total_usd * 1.5
    assert "estimate" in a100.time_basis
    # faster card, shorter run
    h100 = next(ln for ln in report.lines if ln.offer.gpu == "H100")
    assert h100.hours < a100.hours


def test_vast_offers_take_the_cheapest_host_per_card_with_its_own_storage_price(workspace: Path) -> None:
    report = cloud_offers("vast")
    a100 = [ln for ln in report.lines if ln.offer.gpu == "A100 80GB"]
    assert len(a100) == 1 and a100[0].offer.offer_id == "503" and a100[0].offer.storage_usd_gb_month == 0.20
    assert a100[0].offer.max_cuda == "12.8"


def test_without_a_network_answer_the_dated_table_is_shown_with_its_date(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("VAST_URL", "http://127.0.0.1:9")
    report = cloud_offers()
    runpod = [ln for ln in report.lines if ln.offer.provider == "runpod"]
    assert runpod and not any(ln.offer.live for ln in runpod) and all(ln.offer.dated == "2026-03-10" for ln in runpod)
    assert not [ln for ln in report.lines if ln.offer.provider == "vast"]
    notes = " ".join(report.notes)
    assert "2026-03-10" in notes and "runpod.io/pricing" in notes and "vast: no live prices" in notes and "no list price" in notes
    # nothing is rented on an old price
    make_plan(workspace)
    with pytest.raises(LoragateError, match="live price"):
        make_quote("mira", "runpod", "A100 80GB")


def test_up_needs_an_approved_spend_for_this_price_and_cap(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    quote = make_quote("mira", "runpod", "A100 80GB", max_usd=20)
    assert "$1.64/hour" in quote.message and "$20.00" in quote.message and quote.volume_gb >= 50
    with pytest.raises(GatesNotPassed, match="No spend was approved"):
        up(quote, sleep=_no_wait)
    approve_spend(quote)
    other = quote.model_copy(update={"cap_usd": 40.0})
    with pytest.raises(GatesNotPassed, match="cap_usd"):
        require_spend(other)
    moved = quote.model_copy(update={"usd_per_hour": 1.99})
    with pytest.raises(GatesNotPassed, match="usd_per_hour"):
        require_spend(moved)
    with pytest.raises(GatesNotPassed, match="minutes old"):
        require_spend(quote, now=datetime.now(timezone.utc) + timedelta(hours=1))
    # the yes is a verdict in the gate ledger: gate status shows it, and when it expires
    state = next(s for s in gate_status("mira").gates if s.key == "spend")
    assert (state.verdict, state.current, state.required_for_launch) == ("GO", True, False)
    assert state.next.action == "cloud_up" and state.next.args == {"project": "mira", "provider": "runpod", "gpu": "A100 80GB"}
    assert cloud_env["runpod"].state.instances == {}


def test_up_records_the_pod_and_down_terminates_it_and_marks_studio(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    quote = make_quote("mira", "runpod", "A100 80GB", max_usd=20)
    approve_spend(quote)
    result = up(quote, sleep=_no_wait)
    assert result.started and result.record.ssh and result.record.ssh.port == 2222
    pod = cloud_env["runpod"].state.instances[result.record.instance_id]
    # the image's CUDA is one the card's generation runs, and RunPod may only place it on hosts that support it
    assert "runpod/pytorch:2.8.0" in pod.body["query"] and 'allowedCudaVersions: ["12.8", "12.9", "13.0"]' in pod.body["query"]
    assert f"volumeInGb: {quote.volume_gb}" in pod.body["query"]
    studio = (workspace / "grimoire" / "studio.md").read_text()
    assert f"`{result.record.instance_id}`" in studio and "**RUNNING**" in studio and "cap $20.00" in studio
    with pytest.raises(LoragateError, match="already has"):
        up(quote, sleep=_no_wait)

    # an hour on the billing clock, then status says what it costs and that it still bills
    record = read_cloud("mira").instances[0]
    record.started_at -= timedelta(hours=1)
    save_instance(record)
    status = cloud_status()
    cost = status.instances[0]
    assert cost.billing and cost.usd_so_far == pytest.approx(1.64 + record.volume_gb * 0.10 / 730, abs=0.01)
    assert "still bill" in status.message

    ended = down("mira")
    assert [r.instance_id for r in ended.ended] == [record.instance_id]
    assert cloud_env["runpod"].state.terminated == [record.instance_id]
    assert any("network volume" in w for w in ended.warnings)
    studio = (workspace / "grimoire" / "studio.md").read_text()
    assert "**TERMINATED**" in studio and "**RUNNING**" not in studio
    after = cloud_status()
    assert not any(c.billing for c in after.instances) and "Nothing loragate started is billing" in after.message


def test_a_pod_that_never_starts_is_terminated_and_recorded(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    cloud_env["runpod"].state.never_start = True
    quote = make_quote("mira", "runpod", "H100", max_usd=30)
    approve_spend(quote)
    ticks = iter(range(0, 10_000, 60))
    result = up(quote, wait_s=600, sleep=_no_wait, clock=lambda: float(next(ticks)))
    assert not result.started and "never started" in result.message
    assert cloud_env["runpod"].state.terminated == [result.record.instance_id]
    record = read_cloud("mira").instances[0]
    assert record.state == "terminated" and record.ended_at and "never started" in record.note
    assert "**TERMINATED**" in (workspace / "grimoire" / "studio.md").read_text()


def test_a_vast_instance_that_exits_instead_of_running_is_destroyed(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    cloud_env["vast"].state.exit_on_start = True
    quote = make_quote("mira", "vast", "A100 80GB", max_usd=30)
    assert quote.offer_id == "503" and quote.image.startswith("pytorch/pytorch:2.8.0")
    approve_spend(quote)
    result = up(quote, sleep=_no_wait)
    assert not result.started and "went exited" in result.message
    assert cloud_env["vast"].state.terminated == [result.record.instance_id]


def test_vast_rental_runs_and_stops_billing_when_destroyed(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    quote = make_quote("mira", "vast", "RTX 4090", max_usd=5)
    approve_spend(quote)
    result = up(quote, sleep=_no_wait)
    assert result.started and result.record.usd_per_hour == 0.35 and result.record.storage_usd_gb_month == 0.12  # GPU price; the disk apart
    body = cloud_env["vast"].state.instances[result.record.instance_id].body
    assert body["disk"] == float(quote.volume_gb) and body["runtype"] == "ssh_proxy" and body["label"] == "loragate-mira"
    assert down("mira").ended and cloud_env["vast"].state.instances[result.record.instance_id].state == "terminated"


def test_no_capacity_says_so_and_records_nothing(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    cloud_env["runpod"].state.capacity = False
    quote = make_quote("mira", "runpod", "A100 80GB", max_usd=20)
    approve_spend(quote)
    with pytest.raises(LoragateError, match="no free machine") as caught:
        up(quote, sleep=_no_wait)
    assert "cloud offers" in (caught.value.fix or "")
    assert read_cloud("mira").instances == []


def test_a_cap_below_the_expected_cost_is_refused(workspace: Path) -> None:
    make_plan(workspace, model="wan2.2-t2v-a14b")
    with pytest.raises(LoragateError, match="below the expected"):
        make_quote("mira", "runpod", "A100 80GB", max_usd=0.01)


def test_a_wrong_key_is_an_auth_error_and_no_key_lands_anywhere(workspace: Path, cloud_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    make_plan(workspace)
    quote = make_quote("mira", "runpod", "A100 80GB", max_usd=20)
    approve_spend(quote)
    up(quote, sleep=_no_wait)
    cloud_status()
    down("mira")
    runner = CliRunner()
    shown = runner.invoke(app, ["cloud", "status", "--json"]).output + runner.invoke(app, ["cloud", "offers", "--plan", "mira", "--json"]).output
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-wrong-key-000000")
    with pytest.raises(LoragateError, match="refused the API key") as caught:
        make_quote("mira", "runpod", "A100 80GB")
    shown += str(caught.value)
    refused = runner.invoke(app, ["cloud", "offers", "--provider", "runpod"])
    shown += refused.output
    assert "refused the API key" in refused.output
    written = "".join(p.read_text(errors="replace") for p in workspace.rglob("*") if p.is_file())
    for key in (RUNPOD_KEY, VAST_KEY, "rp-wrong-key-000000"):
        assert key not in written and key not in shown
    # the key did travel, in the header only
    assert cloud_env["runpod"].state.requests and not any(RUNPOD_KEY in r for r in cloud_env["runpod"].state.requests)


def test_keys_come_from_the_providers_own_config_files(workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from loragate.cloud.keys import api_key, redact

    monkeypatch.delenv("RUNPOD_API_KEY")
    monkeypatch.delenv("VAST_API_KEY")
    home = Path(tmp_path / "home")
    (home / ".runpod").mkdir(parents=True)
    (home / ".runpod" / "config.toml").write_text('[default]\napi_key = "rp-from-file-123456"\n')
    (home / ".config" / "vastai").mkdir(parents=True)
    (home / ".config" / "vastai" / "vast_api_key").write_text("vast-from-file-654321\n")
    assert api_key("runpod") == "rp-from-file-123456" and api_key("vast") == "vast-from-file-654321"
    assert redact("error with rp-from-file-123456 in it") == "error with *** in it"
    (home / ".runpod" / "config.toml").unlink()
    with pytest.raises(LoragateError, match="No runpod API key"):
        api_key("runpod")


def test_cli_up_asks_and_a_no_rents_nothing(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    result = CliRunner().invoke(app, ["cloud", "up", "mira", "--provider", "runpod", "--gpu", "A100 80GB", "--max-usd", "20"], input="n\n")
    assert result.exit_code == 1 and "$1.64/hour" in result.output and "nothing was spent" in result.output
    assert cloud_env["runpod"].state.instances == {} and "spend" not in read_ledger("mira").latest
    yes = CliRunner().invoke(app, ["cloud", "up", "mira", "--provider", "runpod", "--gpu", "A100 80GB", "--max-usd", "20"], input="y\n")
    assert yes.exit_code == 0, yes.output
    assert len(cloud_env["runpod"].state.instances) == 1 and "is running" in yes.output


def test_on_a_pod_the_watchdog_finds_the_injected_key_of_the_container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from loragate.cloud.keys import find_key, load_pod_keys

    monkeypatch.delenv("RUNPOD_API_KEY")
    monkeypatch.delenv("VAST_API_KEY")
    environ = tmp_path / "environ"
    environ.write_bytes(b"PATH=/usr/bin\0RUNPOD_POD_ID=pod1\0RUNPOD_API_KEY=rp-pod-scoped-999\0OTHER_SECRET=x\0")
    load_pod_keys(environ)
    assert find_key("runpod") == "rp-pod-scoped-999"
    assert "OTHER_SECRET" not in os.environ


def test_time_comes_from_the_dry_run_scaled_between_cards(workspace: Path) -> None:
    import json

    from loragate.cloud.runtime import run_time, total_steps
    from loragate.plan.store import load_project_plan

    make_plan(workspace)
    folder = workspace / "grimoire" / "training" / "mira"
    (folder / "dry-run.json").write_text(json.dumps({"verdict": "GO", "seconds_per_step": 2.0, "wall_seconds_per_step": 2.0}))
    (folder / "env.json").write_text(json.dumps({"gpu": {"gpus": [{"name": "NVIDIA GeForce RTX 4090"}]}}))
    plan = load_project_plan("mira")
    on_a100 = run_time(plan, "A100 80GB")
    # 312 / 165 dense BF16 TFLOPS: the A100 takes 2.0 / 1.89 s per step; 30% for loading and saves
    assert "dry run: 2.00 s/step on the NVIDIA GeForce RTX 4090" in on_a100.basis
    assert on_a100.seconds_per_step == pytest.approx(2.0 * 165 / 312, abs=0.01)
    assert on_a100.hours == pytest.approx(total_steps(plan) * 2.0 * 165 / 312 * 1.3 / 3600, abs=0.011)
    line = next(ln for ln in cloud_offers("runpod", "mira").lines if ln.offer.gpu == "A100 80GB")
    assert line.hours == on_a100.hours and "dry run" in line.time_basis


def test_a_plan_with_this_computers_folders_is_not_rented_for(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace, platform="local")
    with pytest.raises(LoragateError, match="--platform runpod"):
        make_quote("mira", "runpod", "A100 80GB", max_usd=20)
    assert cloud_env["runpod"].state.instances == {}
