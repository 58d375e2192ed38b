"""The training loop both trainers share: banner, epochs, tqdm steps, checkpoints, final save.

Formats: reference sd-scripts.md section 4.2 and musubi-tuner.md section 3 (`override steps.`,
the `running training / 学習開始` banner, `\\nepoch 1/10\\n`, `\\nsaving checkpoint: <path>`,
`model saved.`). `--max_train_epochs` overrides `--max_train_steps` as upstream does.
"""

from __future__ import annotations

import math
import time
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from . import gpu, outputs, render
from .console import Logger, Progress, out
from .faults import Faults, backward


@dataclass
class Run:
    args: Namespace
    log: Logger
    faults: Faults
    items: int  # training items including repeats
    batches_per_epoch: int
    batch_sizes: list[int]
    vram_gb: float
    banner_items_label: str
    extra_banner: list[str]
    epoch_loss_tag: str  # musubi: loss/epoch, sd-scripts: loss/epoch_average


def _loss(step: int, total: int, seed: int) -> float:
    import random

    rng = random.Random(seed * 100_003 + step)
    return 0.06 + 0.07 * math.exp(-step / (total / 4 + 1)) + abs(rng.gauss(0, 0.012))


def _save(run: Run, name: str, step: int, epoch: int) -> None:
    path = Path(run.args.output_dir) / name
    out(f"\nsaving checkpoint: {path}")
    outputs.save_lora(path, run.args.network_dim or 4, step, epoch, run.args.output_name)


def train(run: Run) -> None:
    args = run.args
    steps_per_epoch = math.ceil(run.batches_per_epoch / args.gradient_accumulation_steps)
    if args.max_train_epochs is not None:
        max_steps = args.max_train_epochs * steps_per_epoch
        out(f"override steps. steps for {args.max_train_epochs} epochs is / 指定エポックまでのステップ数: {max_steps}")
    else:
        max_steps = args.max_train_steps
    epochs = math.ceil(max_steps / steps_per_epoch) if steps_per_epoch else 0

    out("running training / 学習開始")
    out(f"  {run.banner_items_label}: {run.items}")
    for line in run.extra_banner:
        out(f"  {line}")
    out(f"  num batches per epoch / 1epochのバッチ数: {run.batches_per_epoch}")
    out(f"  num epochs / epoch数: {epochs}")
    out(f"  batch size per device / バッチサイズ: {', '.join(str(b) for b in run.batch_sizes)}")
    out(f"  gradient accumulation steps / 勾配を合計するステップ数 = {args.gradient_accumulation_steps}")
    out(f"  total optimization steps / 学習ステップ数: {max_steps}")

    gpu.register(run.vram_gb)  # the model is on the card from here to the end
    musubi = run.epoch_loss_tag == "loss/epoch"
    if getattr(args, "sample_at_first", False):
        render.write_samples(args, 0, musubi)
    scalars = outputs.Scalars(args)
    bar = Progress(max_steps)
    losses: list[float] = []
    step = 0
    seed = args.seed if args.seed is not None else 0
    for epoch in range(epochs):
        out(f"\nepoch {epoch + 1}/{epochs}\n")
        run.log.info(f"epoch is incremented. current_epoch: {epoch}, epoch: {epoch + 1}")
        for _ in range(steps_per_epoch):
            backward(run.vram_gb + gpu.others_gb(), run.faults, step + 1)
            time.sleep(run.faults.step_seconds)
            step += 1
            loss = float("nan") if run.faults.nan_after is not None and step > run.faults.nan_after else _loss(step, max_steps, seed)
            losses.append(loss)
            # avr_loss: running mean in the first epoch, then a window of one epoch (LossRecorder)
            window = losses if epoch == 0 else losses[-steps_per_epoch:]
            avr = sum(window) / len(window)
            bar.update(1, avr)
            scalars.log(step, {"loss/current": loss, "loss/average": avr, "lr/unet": args.learning_rate})
            if args.save_every_n_steps and step % args.save_every_n_steps == 0 and step < max_steps:
                _save(run, outputs.step_name(args.output_name, step), step, epoch + 1)
            run.faults.after_step(step)
            if step >= max_steps:
                break
        epoch_window = losses[-steps_per_epoch:]
        scalars.log(epoch + 1, {run.epoch_loss_tag: sum(epoch_window) / max(len(epoch_window), 1)})
        last = step >= max_steps or epoch + 1 == epochs
        if args.save_every_n_epochs and (epoch + 1) % args.save_every_n_epochs == 0 and not last:
            _save(run, outputs.epoch_name(args.output_name, epoch + 1), step, epoch + 1)
        every = getattr(args, "sample_every_n_epochs", None)
        if every and (epoch + 1) % every == 0:
            render.write_samples(args, epoch + 1, musubi)
        if step >= max_steps:
            break
    bar.close()
    scalars.close()
    _save(run, outputs.final_name(args.output_name), step, epochs)
    run.log.info("model saved.")
