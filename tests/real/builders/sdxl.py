"""SDXL base as a single-file SGM checkpoint (the layout of sd_xl_base_1.0.safetensors), random bf16.

Run with sd-scripts' Python from its checkout: python sdxl.py OUT.safetensors SEED. The models are
sd-scripts' own SDXL classes with the configs of library/sdxl_model_util.py, built on the meta
device and converted with its own functions; written tensor by tensor.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, ".")
sys.path.insert(0, str(Path(__file__).parent))
from diffusers import AutoencoderKL
from library import model_util, sdxl_model_util, sdxl_original_unet
from random_weights import write_random
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection


def clip(hidden: int, inter: int, layers: int, heads: int, act: str) -> CLIPTextConfig:
    return CLIPTextConfig(vocab_size=49408, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                          num_attention_heads=heads, max_position_embeddings=77, hidden_act=act, projection_dim=hidden,
                          pad_token_id=1, bos_token_id=0, eos_token_id=2)


out, seed = Path(sys.argv[1]), int(sys.argv[2])
with torch.device("meta"):
    unet = sdxl_original_unet.SdxlUNet2DConditionModel()
    te1 = CLIPTextModel(clip(768, 3072, 12, 12, "quick_gelu"))
    te2 = CLIPTextModelWithProjection(clip(1280, 5120, 32, 20, "gelu"))
    vae = AutoencoderKL(**model_util.create_vae_diffusers_config())
    logit_scale = torch.empty(())
state = {"model.diffusion_model." + k: v for k, v in unet.state_dict().items()}
state.update({"conditioner.embedders.0.transformer." + k: v for k, v in te1.state_dict().items()})
te2_sd = sdxl_model_util.convert_text_encoder_2_state_dict_to_sdxl(te2.state_dict(), logit_scale)
state.update({"conditioner.embedders.1.model." + k: v for k, v in te2_sd.items()})
state.update({"first_stage_model." + k: v for k, v in model_util.convert_vae_state_dict(vae.state_dict()).items()})
print(f"{len(state)} tensors, {write_random(state, out, torch.bfloat16, seed)} bytes -> {out}")
