"""Disk, host RAM and the tokenizers musubi downloads at caching time."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from loragate.catalog.models import get_family
from loragate.environment import resources
from loragate.environment.trainer import trainer_facts
from tests.envkit import wan_plan

GIB = 1024**3


def test_disk_shortfall_blocks_and_names_the_folder(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(tmp_path)
    family = get_family(plan.model)
    needs = resources.disk_needs(plan, family)
    assert {n.folder for n in needs} == {plan.dataset.cache_dir, plan.output_dir}  # neither exists yet: measured on the parent
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=100 * GIB, used=99.5 * GIB, free=0.5 * GIB))
    findings = resources.disk_findings(resources.check_disk(needs))
    assert [(f.code, f.severity) for f in findings] == [("ENV_DISK_FULL", "block")]
    assert "checkpoints" in findings[0].message and str(tmp_path) in findings[0].message
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=2000 * GIB, used=0, free=2000 * GIB))
    assert resources.disk_findings(resources.check_disk(needs)) == []


def test_checkpoints_scale_with_rank_saves_and_experts(workspace: Path, tmp_path: Path) -> None:
    plan = wan_plan(tmp_path)
    family = get_family(plan.model)
    one, count = resources.checkpoint_bytes(plan, family)
    assert one == family.lora_params_per_rank * 16 * 4  # rank 16, fp32
    assert count == plan.schedule.max_train_epochs + 1
    bigger = plan.model_copy(update={"network": plan.network.model_copy(update={"dim": 32})})
    assert resources.checkpoint_bytes(bigger, family)[0] == 2 * one


def test_meminfo_and_block_swap_ram(workspace: Path, tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       65843200 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n")
    available, total = resources.read_meminfo(meminfo)
    assert available == pytest.approx(20.48, abs=0.01) and total == pytest.approx(67.42, abs=0.01)
    plan = wan_plan(tmp_path, blocks_to_swap=30)
    need = resources.ram_need(plan, get_family(plan.model))
    assert need is not None and need[0] > 20 and "30 swapped blocks" in need[1]
    section = resources.ResourcesSection(ram_available_gb=available, ram_total_gb=total, ram_need_gb=need[0], ram_reason=need[1])
    findings = resources.ram_findings(section)
    assert [(f.code, f.severity) for f in findings] == [("ENV_RAM_SHORT", "block")]
    assert "stops the training at once, with no message of its own" in findings[0].message
    offload = wan_plan(tmp_path, offload_inactive_dit=True)
    assert resources.ram_need(offload, get_family(offload.model))[0] > resources.ram_need(wan_plan(tmp_path), get_family(offload.model))[0]  # type: ignore[index]


def _cache_tokenizer(cache: Path, repo: str, subfolder: str) -> None:
    folder = cache / f"models--{repo.replace('/', '--')}"
    blob = folder / "blobs" / "abc123"
    blob.parent.mkdir(parents=True)
    blob.write_text("{}")
    target = folder / "snapshots" / "0123abcd" / subfolder / "tokenizer.json"
    target.parent.mkdir(parents=True)
    target.symlink_to(blob)


def test_tokenizers_offline(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = wan_plan(tmp_path)
    family = get_family(plan.model)
    needed = resources.needed_tokenizers(trainer_facts("musubi").tokenizers, plan, family)
    assert [(t.repo, t.subfolder) for t in needed] == [("Wan-AI/Wan2.1-T2V-14B", "google/umt5-xxl")]  # no CLIP without a clip weight
    section = resources.ResourcesSection(hf_cache=str(resources.hf_hub_cache()), hf_offline=resources.hf_offline(), tokenizers=resources.check_tokenizers(needed))
    findings = resources.tokenizer_findings(section, "/venv/bin/python")
    assert [(f.code, f.severity) for f in findings] == [("ENV_TOKENIZER_MISSING", "block")]
    assert "allow_patterns" in findings[0].fix and "google/umt5-xxl/*.json" in findings[0].fix
    _cache_tokenizer(cache, "Wan-AI/Wan2.1-T2V-14B", "google/umt5-xxl")
    section.tokenizers = resources.check_tokenizers(needed)
    assert section.tokenizers[0].cached and resources.tokenizer_findings(section, "python") == []


def test_missing_tokenizer_online_is_a_warning_and_hf_home_is_honoured(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert resources.hf_hub_cache() == tmp_path / "hf" / "hub"
    plan = wan_plan(tmp_path, weights={"clip": str(tmp_path / "clip.pth")})
    needed = resources.needed_tokenizers(trainer_facts("musubi").tokenizers, plan, get_family(plan.model))
    assert len(needed) == 2  # a clip weight brings the xlm-roberta tokenizer of Wan 2.1 I2V
    section = resources.ResourcesSection(hf_cache=str(resources.hf_hub_cache()), tokenizers=resources.check_tokenizers(needed))
    assert {(f.code, f.severity) for f in resources.tokenizer_findings(section, "python")} == {("ENV_TOKENIZER_NOT_CACHED", "warn")}
