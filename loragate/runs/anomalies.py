"""Warnings read from the smoothed loss: NaN/inf, a sustained rise (divergence), a long plateau.

The loss of a diffusion LoRA is noisy and says little about quality (typical Wan `avr_loss` is
0.05–0.09, reference musubi-tuner.md §5.21), so only clear patterns are reported, on an
exponential moving average, and the messages say what they do and do not mean.
"""

from __future__ import annotations

import math

from loragate.runs.results import Anomaly  # noqa: F401 - also imported from here

EMA_ALPHA = 0.1
MIN_POINTS = 20  # fewer points than this: too early to judge a trend
DIVERGE_RATIO = 1.5  # the smoothed loss this far above its lowest point...
DIVERGE_SPAN = 0.15  # ...for at least this share of the observed steps
PLATEAU_SPAN = 0.4  # the last 40 % of the observed steps...
PLATEAU_CHANGE = 0.05  # ...show a trend of less than 5 % of the loss (per-step noise alone gives ~2 %)


def ema(values: list[float], alpha: float = EMA_ALPHA) -> list[float]:
    out: list[float] = []
    current: float | None = None
    for value in values:
        current = value if current is None else alpha * value + (1 - alpha) * current
        out.append(current)
    return out


def loss_anomalies(points: list[tuple[int, float]], total_steps: int | None = None) -> list[Anomaly]:
    """Anomalies of a (step, loss) series; non-finite values are reported first and end the check."""
    bad = next(((s, v) for s, v in points if not math.isfinite(v)), None)
    if bad is not None:
        return [
            Anomaly(
                code="LOSS_NAN",
                message=(
                    f"The loss became {'NaN' if math.isnan(bad[1]) else 'infinite'} at step {bad[0]}: the training has "
                    "broken down and further steps only waste GPU time. Stop it, then lower the learning rate or train "
                    "in bf16 instead of fp16, and start again from the last good checkpoint."
                ),
            )
        ]
    if len(points) < MIN_POINTS:
        return []
    steps = [s for s, _ in points]
    smooth = ema([v for _, v in points])
    found: list[Anomaly] = []
    span = steps[-1] - steps[0]

    low_index = min(range(len(smooth)), key=smooth.__getitem__)
    low = smooth[low_index]
    above = [i for i in range(low_index, len(smooth)) if smooth[i] > low * DIVERGE_RATIO]
    if low > 0 and above and len(above) >= 3 and above[0] < len(smooth) - 1:
        sustained = all(smooth[i] > low * DIVERGE_RATIO for i in range(above[0], len(smooth)))
        if sustained and steps[-1] - steps[above[0]] >= DIVERGE_SPAN * span:
            found.append(
                Anomaly(
                    code="LOSS_DIVERGING",
                    message=(
                        f"The smoothed loss has risen from {low:.4f} (step {steps[low_index]}) to {smooth[-1]:.4f} and kept "
                        "rising: the training is drifting away instead of learning. Compare the recent checkpoints; if they "
                        "look worse, stop and lower the learning rate."
                    ),
                )
            )
            return found

    progressed = total_steps is None or steps[-1] >= 0.3 * total_steps
    tail_start = steps[-1] - PLATEAU_SPAN * span
    tail = [(s, v) for s, v in points if s >= tail_start]
    if progressed and len(tail) >= MIN_POINTS:
        # the trend of a least-squares line over the tail: noise averages out, a slow fall does not
        mean_s = sum(s for s, _ in tail) / len(tail)
        mean_v = sum(v for _, v in tail) / len(tail)
        var = sum((s - mean_s) ** 2 for s, _ in tail)
        slope = sum((s - mean_s) * (v - mean_v) for s, v in tail) / var if var else 0.0
        change = abs(slope * (tail[-1][0] - tail[0][0])) / mean_v if mean_v > 0 else 1.0
        if change < PLATEAU_CHANGE:
            found.append(
                Anomaly(
                    code="LOSS_PLATEAU",
                    message=(
                        f"The smoothed loss has stayed near {smooth[-1]:.4f} for the last {steps[-1] - int(tail_start)} steps. "
                        "For a LoRA this is common and not a failure by itself: judge by the checkpoints' images. If they "
                        "stopped improving too, the remaining steps add little."
                    ),
                )
            )
    return found
