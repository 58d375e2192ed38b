"""A tiny CLIP model with random weights, saved by transformers as a CLIP model folder is: the
folder an artist names with `loragate eval --clip-model DIR`.

Run with the trainer's Python: python tiny_clip.py OUT_DIR HF_HOME SEED. The tokenizer is the
offline CLIP tokenizer in HF_HOME (offline_tokenizers.py clip); the image processor resizes to the
model's 32 px input. Random weights make the scores meaningless, not the path that computes them.
"""

import os
import sys
from pathlib import Path

out, home, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
os.environ.update(HF_HOME=home, HF_HUB_OFFLINE="1")

import torch  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer  # noqa: E402

torch.manual_seed(seed)
config = CLIPConfig(
    text_config={"vocab_size": 49408, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 2, "max_position_embeddings": 77},
    vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                   "image_size": 32, "patch_size": 8},
    projection_dim=16,
)
CLIPModel(config).save_pretrained(out)
tokenizer = CLIPTokenizer.from_pretrained("openai/clip-vit-large-patch14")
images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
print(out)
