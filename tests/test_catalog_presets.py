"""Presets exist for every family, type and level, stay in the optimizer's safe range, and explain themselves."""

from __future__ import annotations

import pytest

from loragate.catalog.models import family_ids
from loragate.catalog.optimizers import get_optimizer, lr_range, optimizer_names
from loragate.catalog.presets import LEVELS, TRAINING_TYPES, get_preset, schedule_for
from loragate.core.errors import LoragateError


@pytest.mark.parametrize("family_id", family_ids())
def test_every_preset_exists_with_explanations(family_id: str) -> None:
    for kind in TRAINING_TYPES:
        for level in LEVELS:
            p = get_preset(family_id, kind, level)
            low, high = lr_range(p.optimizer, family_id)
            assert low <= p.learning_rate <= high, (family_id, kind, level)
            for key in ("rank", "alpha", "learning_rate", "optimizer", "lr_scheduler", "target_steps", "batch_size"):
                value = getattr(p, key)
                assert (f"{value:g}" if isinstance(value, float) else str(value)) in p.explanations[key]
                assert len(p.explanations[key]) > 30
            assert p.explanations["training_type"]


def test_levels_grow_and_types_differ() -> None:
    quick, standard, thorough = (get_preset("sdxl", "character", lvl) for lvl in LEVELS)
    assert quick.target_steps < standard.target_steps < thorough.target_steps
    style, obj = get_preset("sdxl", "style"), get_preset("sdxl", "object")
    assert style.rank > standard.rank > obj.rank
    assert style.alpha / style.rank == standard.alpha / standard.rank


def test_schedule_reaches_the_step_target() -> None:
    p = get_preset("wan2.2-t2v-a14b", "character", "standard")
    s = schedule_for(p, 25)
    assert s.total_steps >= p.target_steps > s.total_steps - s.steps_per_epoch
    assert 1 <= s.save_every_n_epochs <= s.max_train_epochs
    with pytest.raises(LoragateError):
        schedule_for(p, 0)


def test_bad_names_are_refused() -> None:
    with pytest.raises(LoragateError):
        get_preset("sdxl", "landscape")
    with pytest.raises(LoragateError):
        get_preset("sdxl", "character", "extreme")


def test_optimizers_know_both_trainers() -> None:
    assert set(optimizer_names()) == {"AdamW", "AdamW8bit", "Prodigy", "Lion", "Adafactor"}
    assert get_optimizer("adamw8bit").type_for("musubi") == "adamw8bit"
    assert get_optimizer("prodigyopt.Prodigy").type_for("sdscripts") == "Prodigy"
    assert "relative_step=False" in get_optimizer("Adafactor").args
    assert any(a.startswith("decouple=") for a in get_optimizer("Prodigy").args)
    assert lr_range("Prodigy", "flux1-dev")[0] <= 1.0 <= lr_range("Prodigy", "flux1-dev")[1]
    assert lr_range("Lion", "sdxl")[1] < lr_range("AdamW", "sdxl")[1]
    assert get_optimizer("AdamW").state_bytes_per_param > get_optimizer("AdamW8bit").state_bytes_per_param
    with pytest.raises(LoragateError):
        get_optimizer("sgd-magic")
