"""SD 1.5 as a single-file LDM checkpoint (the layout of v1-5-pruned.safetensors), random weights.

Run with sd-scripts' Python from its checkout: python sd15.py OUT.safetensors SEED. The U-Net,
VAE and text encoder are sd-scripts' own classes and configs (library/model_util.py), built on the
meta device; its own converters give the LDM key names it loads back.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, ".")
sys.path.insert(0, str(Path(__file__).parent))
from diffusers import AutoencoderKL
from library import model_util
from library.original_unet import UNet2DConditionModel
from random_weights import write_random
from transformers import CLIPTextConfig, CLIPTextModel

out, seed = Path(sys.argv[1]), int(sys.argv[2])
with torch.device("meta"):
    unet = UNet2DConditionModel(**model_util.create_unet_diffusers_config(False))
    vae = AutoencoderKL(**model_util.create_vae_diffusers_config())
    te = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                      num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                                      projection_dim=768))
state = {"model.diffusion_model." + k: v for k, v in model_util.convert_unet_state_dict_to_sd(False, unet.state_dict()).items()}
state.update({"first_stage_model." + k: v for k, v in model_util.convert_vae_state_dict(vae.state_dict()).items()})
state.update({"cond_stage_model.transformer." + k: v for k, v in te.state_dict().items()})
print(f"{len(state)} tensors, {write_random(state, out, torch.float16, seed)} bytes -> {out}")
