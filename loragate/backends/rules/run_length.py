"""How long the run really is: steps from the command, pictures from the folders it reads."""

from __future__ import annotations

from typing import Iterator

from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule
from loragate.backends.rules.captions_read import captions_read, repeat_folders
from loragate.backends.rules.dataset_folders import dataset_images

# LoRAs of every family here settle within a few thousand steps (resources/training/); far beyond it a
# run mostly memorises its pictures and spends days of GPU time.
STEPS_CEILING = 20_000


def _pictures(setup: Setup, inv: Invocation) -> tuple[int, int] | None:
    """(distinct pictures, pictures per epoch with repeats) from the folders the command reads."""
    config = setup.dataset_for(inv)
    if config is not None and not config.error and config.schema:
        pairs = [pair for i in range(len(config.datasets)) for pair in dataset_images(setup, config, i)]
        return (len(pairs), sum(r for _, r in pairs)) if pairs else None
    value = inv.value("--train_data_dir")
    folder = setup.resolve(value, setup.base_dir(inv)) if value else None
    if folder is None or not setup.may_look(folder, value) or not folder.is_dir():
        return None
    distinct = per_epoch = 0
    for sub, _ in repeat_folders(folder):
        count = len(captions_read(sub, ".caption").media)
        distinct += count
        per_epoch += count * int(sub.name.split("_", 1)[0])
    return (distinct, per_epoch) if distinct else None


@rule("SCHED_TOO_LONG", "warn", "A run far longer than a LoRA needs.",
      "resources/training (LoRAs settle within a few thousand steps); trainers' --max_train_steps / epochs")
def too_long(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains():
        batch = int(inv.number("--train_batch_size", 1) or 1)
        pictures = _pictures(setup, inv)
        epochs = inv.number("--max_train_epochs")
        steps = inv.number("--max_train_steps")
        flag = "--max_train_steps"
        if epochs is not None:
            if pictures is None:
                continue
            steps, flag = epochs * -(-pictures[1] // batch), "--max_train_epochs"
        if steps is None or steps <= STEPS_CEILING:
            continue
        seen = f" Each of your {pictures[0]} pictures would be trained on about {steps * batch / pictures[0]:,.0f} " \
               "times." if pictures else ""
        yield Hit(f"This run is {steps:,.0f} steps long; a LoRA usually learns within 1,000-6,000, and "
                  f"far beyond that it copies its pictures instead of learning from them, for days of GPU time.{seen}",
                  "Lower the length: aim for 1,500-4,000 steps (with --save_every_n_epochs to compare checkpoints).",
                  inv.evidence(flag, steps=int(steps), pictures=pictures[0] if pictures else None))
