"""The few facts about the target model that the dataset audit judges against.

They come from the model catalog (`loragate/data/models.toml`); without `--model` the audit uses
neutral values and says so.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from loragate.backends.traits import traits
from loragate.catalog.models import CaptionStyle, get_family

# Without a model: judge resolution against 1024 px, the native size of SDXL, Pony, Illustrious and FLUX.
NEUTRAL_RESOLUTION = (1024, 1024)
# Wan learns motion at 16 fps. # musubi-tuner.md §2: "It is recommended to use videos with a frame rate of … 16fps for Wan2.1".
WAN_FPS = 16.0


class DatasetRules(BaseModel):
    model: str | None = None
    display_name: str = "no model given"
    training_resolution: tuple[int, int] = NEUTRAL_RESOLUTION
    video: bool = False
    frame_rule: str | None = None
    target_frames: list[int] = Field(default_factory=list, description="Clip lengths (frames) the model trains on, >1 only.")
    train_fps: float | None = None
    caption_style: CaptionStyle | None = None
    token_limit: int | None = Field(default=None, description="Tokens the longest-reading text encoder takes.")
    token_encoder: str | None = None


def rules_for(model: str | None) -> DatasetRules:
    """Facts for `model` (a catalog family id); raises LoragateError for an unknown id."""
    if not model:
        return DatasetRules()
    family = get_family(model)
    encoder = max(family.text_encoders, key=lambda e: e.token_limit, default=None)
    w, h = family.default_resolution
    return DatasetRules(
        model=family.id,
        display_name=family.display_name,
        training_resolution=(int(w), int(h)),
        video=family.video,
        frame_rule=family.frame_rule,
        target_frames=sorted(f for f in family.default_frames if f > 1),
        train_fps=(family.train_fps or WAN_FPS) if family.video and traits(family.trainer).resamples_clips_to_model_fps else None,
        caption_style=family.caption_style,
        token_limit=encoder.token_limit if encoder else None,
        token_encoder=encoder.name if encoder else None,
    )
