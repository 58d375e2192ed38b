"""The estimator moves the right way, the published figures stay in range, and the fit plan works."""

from __future__ import annotations

import pytest

from loragate.core.errors import LoragateError
from loragate.vram import VramRequest, cheaper_changes, estimate_vram, make_request
from loragate.vram.published import check_published

pytestmark = pytest.mark.usefixtures("workspace")  # no calibration file from elsewhere leaks in


def est(**kw) -> float:
    base = {"model": "wan2.1-t2v-14b", "resolution": "832x480", "frames": 33, "rank": 32, "fp8_base": True}
    return estimate_vram(VramRequest.model_validate({**base, **kw}), use_correction=False).phases["training"]


@pytest.mark.parametrize("published", check_published(), ids=lambda r: r.id)
def test_published_figure_is_estimated_within_range(published) -> None:
    # the same check as benchmarks/bench_vram.py: 0.7 X < estimate <= X
    assert published.ok, f"{published.id}: {published.estimate_gb} GB for a {published.gpu_gb} GB figure"


@pytest.mark.parametrize(("gpu_gb", "batch"), [(24, 1), (32, 2)])
def test_musubi_gui_bf16_zimage_rows_fit_their_card(gpu_gb: int, batch: int) -> None:
    # musubi-tuner src/musubi_tuner/gui/config_manager.py, Z-Image-Turbo at 1024: the "24" and "32" rows
    # switch fp8 and block swap off, so they state headroom, not a limit (vram_published.toml); the
    # estimate must still let musubi's own recommendation through, in every phase.
    req = make_request(model="zimage", resolution="1024", batch=batch, rank=4, optimizer="AdamW8bit")
    assert estimate_vram(req, use_correction=False).estimate_gb <= gpu_gb


def test_edit_training_needs_more_than_plain_qwen_image() -> None:
    # musubi-tuner docs/qwen_image.md, under its VRAM table (1024, batch 1, fp8 scaled): "Qwen-Image-Edit
    # training requires additional memory for the control images"; the table itself has no Edit row.
    table = {"resolution": "1024", "rank": 16, "fp8_base": True, "fp8_scaled": True}
    plain = est(model="qwen-image", frames=1, **table)
    for edit in ("qwen-image-edit", "qwen-image-edit-2509", "qwen-image-edit-2511"):
        assert est(model=edit, frames=1, **table) > plain, edit


def test_more_work_needs_more_memory() -> None:
    assert est(resolution="1280x720") > est(resolution="832x480") > est(resolution="512x512")
    assert est(frames=81) > est(frames=33) > est(frames=1)
    assert est(batch=2) > est(batch=1)
    assert est(rank=64) > est(rank=32) > est(rank=8)
    assert est(optimizer="AdamW") > est(optimizer="AdamW8bit")


def test_memory_savers_save_memory() -> None:
    assert est(blocks_to_swap=20) < est(blocks_to_swap=10) < est(blocks_to_swap=0)
    assert est(fp8_base=True) < est(fp8_base=False)
    assert est(gradient_checkpointing=False) > est(gradient_checkpointing=True)


def test_wan_sequence_length_follows_the_trainer() -> None:
    # reference/musubi-tuner.md §2: 832x480x81 -> 32,760 tokens; 1280x720x81 -> 75,600
    r = estimate_vram(make_request(model="wan2.2-i2v-a14b", resolution="832x480", frames=81))
    assert r.tokens == 32760
    assert estimate_vram(make_request(model="wan2.1-t2v-1.3b", resolution="1280x720", frames=81)).tokens == 75600


def test_breakdown_adds_up_and_host_ram_grows_with_swap() -> None:
    r = estimate_vram(make_request(model="flux1-dev", resolution="1024", blocks_to_swap=20, fp8_base=True, fp8_text_encoder=True))
    assert abs(sum(r.breakdown.values()) - r.estimate_gb) < 0.05
    assert {"weights", "activations", "optimizer_state", "cuda_context"} <= set(r.breakdown)
    plain = estimate_vram(make_request(model="flux1-dev", resolution="1024", fp8_base=True))
    assert r.host_ram_gb > plain.host_ram_gb > 20
    assert any("main memory" in n for n in r.notes)


def test_uncached_text_encoder_and_vae_are_counted() -> None:
    cached = estimate_vram(make_request(model="sdxl", resolution="1024"))
    raw = estimate_vram(make_request(model="sdxl", resolution="1024", cache_text_encoder_outputs=False, cache_latents=False))
    assert "text_encoders" in raw.breakdown and "vae" in raw.breakdown
    assert raw.estimate_gb > cached.estimate_gb


def test_fit_plan_makes_wan14b_fit_24gb_and_explains_each_step() -> None:
    r = estimate_vram(make_request(model="wan2.2-t2v-a14b", resolution="960x544", frames=33, batch=2, rank=32, gpu_gb=24))
    assert r.fits is False
    steps = r.fit_plan
    assert steps and steps[-1].fits and not any(s.fits for s in steps[:-1])
    assert steps[0].change.startswith("batch")
    assert all(len(s.explanation) > 40 for s in steps)
    final = r.request.model_copy(update={k: v for s in steps for k, v in s.settings.items()})
    again = estimate_vram(final, use_correction=False)
    assert again.fits and again.estimate_gb == steps[-1].estimate_gb
    assert any("fp8" in s.change or "block" in s.explanation.lower() for s in steps)
    # each step says how much main memory it needs: swapped blocks wait in RAM
    assert all(s.host_ram_gb for s in steps)
    swapped = next(s for s in steps if s.settings.get("blocks_to_swap"))
    assert swapped.host_ram_gb > r.host_ram_gb


def test_each_phase_gets_its_own_cheapest_changes() -> None:
    """Wan 1.3B at 12 GB: text-encoder caching is the peak, where a smaller batch or block swap saves nothing."""
    req = make_request(model="wan2.1-t2v-1.3b", resolution="512", frames=21, batch=4, gpu_gb=12)
    assert estimate_vram(req).peak_phase == "text_encoder_caching"
    assert [c.lever for c in cheaper_changes(req, "text_encoder_caching")] == ["fp8_text_encoder"]
    training = cheaper_changes(req, "training")
    assert training[0].lever == "batch" and training[0].settings == {"batch": 2}  # one notch, not straight to 1
    swap = next(c for c in training if c.lever == "block_swap")
    assert swap.settings == {"blocks_to_swap": 10}  # one notch, not the whole model
    before = estimate_vram(req).phases["training"]
    assert all(c.phase_gb < before and len(c.explanation) > 40 for c in training)
    # the fit plan works on the peak phase first and never swaps the whole model to fix caching
    steps = estimate_vram(req).fit_plan
    assert steps[0].change == "fp8 text encoder" and steps[-1].fits
    assert all(s.settings.get("blocks_to_swap", 0) < 29 for s in steps)


def test_fits_uses_the_20_percent_margin() -> None:
    r = estimate_vram(make_request(model="sdxl", resolution="1024", rank=8))
    assert estimate_vram(make_request(model="sdxl", resolution="1024", rank=8, gpu_gb=r.estimate_gb * 1.21)).fits
    assert not estimate_vram(make_request(model="sdxl", resolution="1024", rank=8, gpu_gb=r.estimate_gb * 1.1)).fits


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "sdxl", "resolution": "1024", "blocks_to_swap": 4},
        {"model": "wan2.1-t2v-14b", "resolution": "832x480", "blocks_to_swap": 40},
        {"model": "wan2.1-t2v-14b", "resolution": "832x480", "frames": 32},
        {"model": "wan2.1-t2v-14b", "resolution": "832x480", "fp8_scaled": True},
        {"model": "sdxl", "resolution": "huge"},
        {"model": "sdxl", "resolution": "1024", "optimizer": "nope"},
    ],
)
def test_impossible_requests_are_refused_plainly(bad: dict) -> None:
    with pytest.raises(LoragateError):
        estimate_vram(make_request(**bad))
