"""Wan 2.1 t2v-1.3B: the DiT (fp32, which CPU training needs), the VAE, and the umT5-XXL encoder.

Run with musubi-tuner's Python from its checkout: python wan.py OUT_DIR SEED. The models are
musubi's own classes with its t2v-1.3B config, built on the meta device. Writes dit.safetensors,
vae.safetensors and t5.safetensors (bf16, keys with the `encoder.` prefix musubi strips).
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
if not torch.cuda.is_available():
    torch.cuda.current_device = lambda: 0  # wan/modules/t5.py evaluates it at import (see cpu_shims.py)
from musubi_tuner.wan.configs import WAN_CONFIGS
from musubi_tuner.wan.modules.model import WanModel
from musubi_tuner.wan.modules.t5 import umt5_xxl
from musubi_tuner.wan.modules.vae import WanVAE_
from random_weights import write_random

out, seed = Path(sys.argv[1]), int(sys.argv[2])
which = sys.argv[3:] or ["dit", "vae", "t5"]
c = WAN_CONFIGS["t2v-1.3B"]
with torch.device("meta"):
    if "dit" in which:
        dit = WanModel(model_type="t2v", model_version="2.1", dim=c.dim, eps=c.eps, ffn_dim=c.ffn_dim, freq_dim=c.freq_dim,
                       in_dim=c.in_dim, num_heads=c.num_heads, num_layers=c.num_layers, out_dim=c.out_dim, text_len=c.text_len)
        print("dit", write_random(dit.state_dict(), out / "dit.safetensors", torch.float32, seed))
    if "vae" in which:
        vae = WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                      temperal_downsample=[False, True, True], dropout=0.0)
        print("vae", write_random(vae.state_dict(), out / "vae.safetensors", torch.float32, seed))
    if "t5" in which:
        t5 = umt5_xxl(encoder_only=True, return_tokenizer=False)
        state = {"encoder." + k: v for k, v in t5.state_dict().items()}
        print("t5", write_random(state, out / "t5.safetensors", torch.bfloat16, seed))
