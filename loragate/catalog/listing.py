"""The catalog as a list people and tools can read: `loragate models`, MCP `list_models`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loragate.catalog.models import load_catalog


class ModelSummary(BaseModel):
    id: str
    display_name: str
    trainer: str
    variant_of: str | None
    task: str | None = Field(description="musubi model selector: --task (Wan), --model_version (Qwen-Image).")
    train_script: str
    video: bool
    i2v: bool
    resolutions: list[str] = Field(description="Typical training resolutions, WxH.")
    frame_rule: str | None
    weights_precision: str
    mixed_precision: str
    experts: list[str] = Field(description="Wan 2.2 experts with their timestep ranges.")
    caption_style: str
    token_limit: int = Field(description="Smallest text-encoder token limit: captions longer than this are cut.")
    token_limits: dict[str, int] = Field(default_factory=dict, description="Each text encoder's token limit "
                                         "(FLUX: CLIP-L cuts at 77 while T5-XXL reads 512).")
    block_swap_max: int


class ModelList(BaseModel):
    models: list[ModelSummary]


def list_models() -> ModelList:
    rows = []
    for fam in sorted(load_catalog().families.values(), key=lambda f: (f.trainer, f.id)):
        rows.append(
            ModelSummary(
                id=fam.id,
                display_name=fam.display_name,
                trainer=fam.trainer,
                variant_of=fam.variant_of,
                task=fam.task,
                train_script=fam.scripts.get("train", ""),
                video=fam.video,
                i2v=fam.i2v,
                resolutions=[f"{w}x{h}" for w, h in fam.resolutions],
                frame_rule=fam.frame_rule,
                weights_precision=fam.weights_precision,
                mixed_precision=fam.mixed_precision,
                experts=[f"{e.name} {e.min_timestep}-{e.max_timestep}" for e in fam.experts],
                caption_style=fam.caption_style,
                token_limit=min((te.token_limit for te in fam.text_encoders), default=0),
                token_limits={te.name: te.token_limit for te in fam.text_encoders},
                block_swap_max=fam.block_swap_max,
            )
        )
    return ModelList(models=rows)
