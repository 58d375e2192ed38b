"""estimate_vram and list_models: GPU memory for a training configuration, and the model catalog."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from pydantic import Field

from loragate.catalog.listing import ModelList
from loragate.vram.model import VramEstimate
from mcp_server.common import READ_ONLY, call_engine, lazy

list_models = lazy("loragate.catalog.listing:list_models")


def _estimate(**fields: object) -> VramEstimate:
    # VramRequest (make_request) checks every bound, as for `loragate vram`: the same sentence in both doors.
    from loragate.vram import estimate_vram, make_request

    return estimate_vram(make_request(**fields))


def register(mcp: MCPServer) -> None:
    @mcp.tool(name="estimate_vram", title="Estimate VRAM", annotations=READ_ONLY)
    async def estimate_vram_tool(
        model: Annotated[str, Field(description="Model family id from list_models, e.g. 'wan2.2-t2v-a14b' or 'sdxl'.")],
        resolution: Annotated[str, Field(description="Training resolution: one number (1024) or WxH (832x480).")],
        frames: Annotated[int, Field(description="Frames per clip for Wan video (4n+1); 1 for images (at most 1025).")] = 1,
        batch: Annotated[int, Field(description="Batch size (1-256).")] = 1,
        rank: Annotated[int, Field(description="LoRA rank (network_dim), 1-1024.")] = 16,
        optimizer: Annotated[str, Field(description="AdamW, AdamW8bit, Prodigy, Lion or Adafactor.")] = "AdamW8bit",
        precision: Annotated[Literal["bf16", "fp16"] | None, Field(description="Mixed precision; default: the model's.")] = None,
        fp8_base: Annotated[bool, Field(description="Store the frozen model in fp8.")] = False,
        fp8_scaled: Annotated[bool, Field(description="musubi's scaled fp8 (needs fp8_base).")] = False,
        fp8_text_encoder: Annotated[bool, Field(description="fp8 T5 while caching captions.")] = False,
        blocks_to_swap: Annotated[int, Field(description="Blocks kept in main memory (Wan, FLUX).")] = 0,
        gradient_checkpointing: Annotated[bool, Field(description="Recompute activations (on unless told).")] = True,
        cache_text_encoder_outputs: Annotated[bool, Field(description="Captions pre-computed before training.")] = True,
        cache_latents: Annotated[bool, Field(description="Images/clips pre-encoded before training.")] = True,
        train_text_encoder: Annotated[bool, Field(description="sd-scripts: also train the text encoder.")] = False,
        gpu_gb: Annotated[float | None, Field(description="GPU memory to fit, GB; enables `fits` and the fit plan.")] = None,
    ) -> VramEstimate:
        """Estimate the peak GPU memory and the main memory (RAM) a LoRA training configuration needs,
        with a breakdown (weights, LoRA, optimizer, activations, text encoders, VAE, CUDA context).
        Call it when choosing settings for a GPU, before generating a plan, or to explain an out-of-memory
        crash. With gpu_gb it says whether the run fits with a 20% margin and lists the cheapest changes
        that make it fit (batch, block swap, fp8, checkpointing, frames, resolution), each with what it
        costs the artist. When dry runs on this machine were recorded, their correction is applied on top of
        the estimate and the result says so (`correction`: factor and file, `uncorrected_gb`, first note)."""
        return await call_engine(
            None, _estimate, model=model, resolution=resolution, frames=frames, batch=batch, rank=rank,
            optimizer=optimizer, precision=precision, fp8_base=fp8_base, fp8_scaled=fp8_scaled,
            fp8_text_encoder=fp8_text_encoder, blocks_to_swap=blocks_to_swap,
            gradient_checkpointing=gradient_checkpointing, cache_text_encoder_outputs=cache_text_encoder_outputs,
            cache_latents=cache_latents, train_text_encoder=train_text_encoder, gpu_gb=gpu_gb,
        )

    @mcp.tool(name="list_models", title="List model families", annotations=READ_ONLY)
    async def list_models_tool() -> ModelList:
        """List the base models loragate can train (Wan 2.1/2.2, SD 1.5, SDXL, Pony, Illustrious, NoobAI-XL
        V-Pred, FLUX.1 dev, Chroma, SD 3.5 Large/Medium) with their trainer, task, typical resolutions, weight precision, Wan 2.2 experts, caption
        style (booru tags or sentences) and text-encoder token limit. Call it when the artist has not
        named a model id yet, or to check how captions should be written for a model."""
        return await call_engine(None, list_models)
