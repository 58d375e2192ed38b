"""Anomalies on the smoothed loss: NaN, divergence, plateau — and silence on a healthy run."""

from __future__ import annotations

import math
import random

from loragate.runs.anomalies import loss_anomalies


def _noisy(values: list[float], seed: int = 1) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(i + 1, v * (1 + rng.uniform(-0.15, 0.15))) for i, v in enumerate(values)]


def test_healthy_falling_loss_has_no_anomaly() -> None:
    points = _noisy([0.06 + 0.08 * math.exp(-i / 150) for i in range(400)])
    assert loss_anomalies(points, total_steps=1000) == []


def test_nan_and_inf() -> None:
    points = _noisy([0.1] * 30) + [(31, float("nan"))]
    found = loss_anomalies(points)
    assert [a.code for a in found] == ["LOSS_NAN"] and "step 31" in found[0].message
    assert "infinite" in loss_anomalies([(1, 0.1), (2, float("inf"))])[0].message


def test_sustained_rise_is_divergence() -> None:
    values = [0.12 - 0.0003 * i for i in range(200)] + [0.06 + 0.002 * i for i in range(200)]
    found = loss_anomalies(_noisy(values), total_steps=1000)
    assert [a.code for a in found] == ["LOSS_DIVERGING"] and "risen" in found[0].message


def test_a_single_spike_is_not_divergence() -> None:
    values = [0.08] * 300
    values[150:155] = [0.3] * 5
    assert all(a.code != "LOSS_DIVERGING" for a in loss_anomalies(_noisy(values, 3), total_steps=400))


def test_long_flat_stretch_is_a_plateau_in_plain_words() -> None:
    values = [0.12 - 0.0004 * i for i in range(100)] + [0.08] * 400
    found = loss_anomalies(_noisy(values, 5), total_steps=600)
    assert [a.code for a in found] == ["LOSS_PLATEAU"]
    assert "not a failure by itself" in found[0].message


def test_too_early_to_judge() -> None:
    assert loss_anomalies(_noisy([0.1] * 10)) == []
    assert loss_anomalies(_noisy([0.08] * 200), total_steps=10_000) == []  # flat but only 2 % done
