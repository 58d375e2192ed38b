"""What a trainer does that the estimates, checks and plans depend on, as yes/no facts and numbers.

The values are data (`[trainer.<name>.traits]` in loragate/data/trainers.toml, each with its source),
so a stage asks `traits(family.trainer).bucket_step`, never whether the trainer is called 'musubi'.
Every trainer states every trait: a missing or misspelt one is an error when the file is read.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainerTraits(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    caches_in_steps: bool = Field(description="Latents and text-encoder outputs are always cached by their own "
                                  "commands before training.")
    trains_text_encoder: bool = Field(description="The LoRA covers the text encoder too, unless the plan trains the "
                                      "UNet/DiT only.")
    base_model_from_hub: bool = Field(description="The base model may be named by a Hugging Face id.")
    default_caption_extension: str = Field(description="The caption extension it reads when a dataset does not say "
                                           "one; '' for none.")
    weights_by_recipe: bool = Field(description="Which weight goes to which flag is the family's recipe in "
                                    "musubi_recipes.toml.")
    bucket_step: int = Field(ge=8, description="Pixels a bucket's sides are rounded to.")
    cache_dir_per_dataset: bool = Field(description="The dataset TOML names a cache folder for each dataset entry.")
    fp8_scaled: bool = Field(description="Offers scaled fp8 weights (--fp8_scaled) beside plain fp8.")
    fp8_text_encoder_switch: bool = Field(description="Reads the text encoder in fp8 with a switch, without another file.")
    swaps_whole_blocks: bool = Field(description="The block-swap number counts the model's blocks one for one.")
    sample_prompts_encoded_first: bool = Field(description="Sample prompts are encoded before the model loads, so the "
                                               "text encoders are not on the card while samples are made.")
    network_kinds_built_in: bool = Field(description="LoHa and LoKr are modules of the trainer itself (nothing to install).")
    bf16_recommended: bool = Field(description="Its docs recommend bf16 even where the weights were released in another "
                                   "precision.")
    resamples_clips_to_model_fps: bool = Field(description="Clips are resampled to the model's frame rate, so the "
                                               "dataset check counts seconds at that rate.")


def traits(backend: str) -> TrainerTraits:
    """The traits of the trainer called `backend` (a LoragateError for an unknown one)."""
    from loragate.environment.trainer import trainer_facts  # it reads trainers.toml through this module's schema

    return trainer_facts(backend).traits
