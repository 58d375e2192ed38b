"""Each backend's failure knowledge (loragate/backends/failures.py), as the classifier reads it."""

from __future__ import annotations

import json
from importlib import resources
from typing import get_args

import pytest

from loragate.backends import BACKENDS, get_backend
from loragate.backends.failures import known_failures
from loragate.runs.classify import FailureKind, classify_failure


def _flags_of(prefix: str) -> set[str]:
    folder = resources.files("loragate.data").joinpath("flags")
    return {entry["name"] for item in folder.iterdir() if item.name.startswith(prefix) and item.name.endswith(".json")
            for entry in json.loads(item.read_text(encoding="utf-8"))}


@pytest.mark.parametrize(("name", "prefix"), [("musubi", "musubi-"), ("sdscripts", "sdscripts-")])
def test_every_flag_a_backend_names_is_its_trainers(name: str, prefix: str) -> None:
    failures = get_backend(name).failures
    named = {w.flag for w in failures.weights} | set(failures.main_weights) | set(failures.stage_weights.values())
    named |= {t.flag for t in failures.texts if t.flag}
    assert named <= _flags_of(prefix), named - _flags_of(prefix)
    assert {t.kind for t in failures.texts} <= set(get_args(FailureKind))


def test_joined_weight_flags_keep_each_trainers_order() -> None:
    joined = known_failures().weight_flags
    for name in BACKENDS:
        own = [w.flag for w in get_backend(name).failures.weights]
        assert [f for f in joined if f in own] == own
    # a trainer's own model flag is named before the LoRA to continue from, which both take
    sd = ["train_network.py", "--pretrained_model_name_or_path", "/m/x.safetensors", "--network_weights", "/m/x.safetensors"]
    failure = classify_failure("train", 1, "safetensors_rust.SafetensorError: Error while deserializing header: /m/x.safetensors", sd)
    assert failure is not None and failure.flag == "--pretrained_model_name_or_path"


def test_an_empty_cache_names_the_plans_caption_extension() -> None:
    log = "INFO:musubi_tuner.dataset.datasources:found 0 images\n"
    argv = ["python", "wan_cache_latents.py", "--vae", "/m/vae.safetensors"]
    failure = classify_failure("cache_latents", 0, log, argv, caption_extension=".caption")
    assert failure is not None and failure.kind == "no_samples" and "caption extension (.caption)" in failure.fix
    failure = classify_failure("cache_latents", 0, log, argv)
    assert failure is not None and "dataset.caption_extension in plan.json" in failure.fix
