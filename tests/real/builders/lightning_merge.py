"""What musubi-tuner's --base_weights merge does with each naming of a Lightning-style LoRA.

Run with musubi-tuner's Python from its checkout: python lightning_merge.py OUT_DIR. It builds a
small WanModel (musubi's own class, two blocks), writes the same LoRA on blocks.0.self_attn.q in
musubi's naming and in the Lightning release's naming (diffusion_model.*.lora_A/lora_B + alpha),
then merges each the way training/trainer_base.py _build_network does for --base_weights: the Wan
trainer's convert_weight_keys, lora_wan.create_arch_network_from_weights(for_inference=True),
merge_to. Prints JSON: per naming, whether the weight changed and how many layers the merge made.
"""

import json
import logging
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))
if not torch.cuda.is_available():
    torch.cuda.current_device = lambda: 0  # wan/modules/t5.py evaluates it at import (see cpu_shims.py)
from musubi_tuner.networks import lora_wan
from musubi_tuner.wan.modules.model import WanModel
from musubi_tuner.wan_train_network import WanNetworkTrainer

logging.getLogger().addHandler(logging.StreamHandler(sys.stdout))  # musubi's own log lines, for the caller to read
logging.getLogger().setLevel(logging.INFO)
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
dim, rank = 64, 4
down, up = torch.randn(rank, dim), torch.randn(dim, rank)
files = {
    "musubi": {"lora_unet_blocks_0_self_attn_q.lora_down.weight": down, "lora_unet_blocks_0_self_attn_q.lora_up.weight": up,
               "lora_unet_blocks_0_self_attn_q.alpha": torch.tensor(float(rank))},
    "release": {"diffusion_model.blocks.0.self_attn.q.lora_A.weight": down, "diffusion_model.blocks.0.self_attn.q.lora_B.weight": up,
                "diffusion_model.blocks.0.self_attn.q.alpha": torch.tensor(float(rank))},
}
trainer = WanNetworkTrainer()
result = {}
for naming, tensors in files.items():
    path = out / f"{naming}_low_noise_model.safetensors"
    save_file(tensors, str(path))
    model = WanModel(model_type="t2v", model_version="2.1", dim=dim, eps=1e-6, ffn_dim=128, freq_dim=256, in_dim=16, num_heads=2,
                     num_layers=2, out_dim=16, text_len=512)
    before = model.blocks[0].self_attn.q.weight.detach().clone()
    weights_sd = trainer.convert_weight_keys(load_file(str(path)), lora_wan)
    network = lora_wan.create_arch_network_from_weights(1.0, weights_sd, unet=model, for_inference=True)
    network.merge_to(None, model, weights_sd, torch.float32, "cpu")
    changed = not torch.equal(before, model.blocks[0].self_attn.q.weight.detach())
    result[naming] = {"file": str(path), "changed": changed, "layers": len(network.unet_loras)}
print(json.dumps(result))
