"""What a run leaves on disk: LoRA checkpoints with the real names and TensorBoard scalars.

Names (musubi-tuner.md section 3, sd-scripts.md section 4.3): `{name}-{epoch:06d}.safetensors`,
`{name}-step{step:08d}.safetensors`, final `{name}.safetensors`. TensorBoard run folder:
`{logging_dir}/{log_prefix}{YYYYmmddHHMMSS}/{log_tracker_name or network_train}/`.
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path


def epoch_name(name: str, epoch: int) -> str:
    return f"{name}-{epoch:06d}.safetensors"


def step_name(name: str, step: int) -> str:
    return f"{name}-step{step:08d}.safetensors"


def final_name(name: str) -> str:
    return f"{name}.safetensors"


def save_lora(path: Path, dim: int, step: int, epoch: int, output_name: str) -> None:
    """A small but real safetensors LoRA (sd-scripts-style keys, ss_* metadata)."""
    import numpy as np
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(step)
    tensors = {
        "lora_unet_blocks_0_cross_attn_k.lora_down.weight": rng.standard_normal((dim, 16)).astype(np.float32),
        "lora_unet_blocks_0_cross_attn_k.lora_up.weight": np.zeros((16, dim), np.float32),
        "lora_unet_blocks_0_cross_attn_k.alpha": np.array(float(dim), np.float32),
    }
    metadata = {"ss_output_name": output_name, "ss_steps": str(step), "ss_epoch": str(epoch), "ss_network_dim": str(dim)}
    save_file(tensors, str(path), metadata=metadata)


class Scalars:
    """TensorBoard event writer when logging is on and the `tensorboard` package is importable."""

    def __init__(self, args: Namespace) -> None:
        self.writer = None
        if not args.logging_dir or args.log_with == "wandb":
            return
        try:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            return
        run = Path(args.logging_dir) / f"{args.log_prefix or ''}{time.strftime('%Y%m%d%H%M%S')}"
        tracker = getattr(args, "log_tracker_name", None) or "network_train"
        (run / tracker).mkdir(parents=True, exist_ok=True)
        self.writer = EventFileWriter(str(run / tracker))

    def log(self, step: int, values: dict[str, float]) -> None:
        if self.writer is None:
            return
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()])
        self.writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
