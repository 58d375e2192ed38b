"""CLIP scores for `loragate eval`, run with the trainer's Python (it has torch and transformers);
loragate itself never imports this file, so its own install stays without torch.

    python clip_worker.py REQUEST.json      prints {"scores": [...]} as JSON on stdout

REQUEST: {"model": DIR, "items": [{"image": PNG, "text": PROMPT}], "references": [PNG, ...]}, where
DIR is a local CLIP model folder (transformers' CLIPModel and CLIPProcessor files). Each score is
`clip_score`, 100 x the cosine of the picture's and its prompt's embeddings, floored at 0 (as
torchmetrics' CLIPScore), and, with references, `reference_similarity`, the mean cosine of the
picture's embedding to each reference picture's (1 = the same picture to CLIP).
"""

from __future__ import annotations

import json
import sys
from typing import Any

BATCH = 16


def _unit(features: Any) -> Any:
    # get_image_features returns a tensor; some transformers versions wrap it in an output object
    tensor = features if hasattr(features, "norm") else features.pooler_output
    return tensor / tensor.norm(dim=-1, keepdim=True)


def main(request_file: str) -> int:
    with open(request_file, encoding="utf-8") as handle:
        request = json.load(handle)
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(request["model"]).eval()
    processor = CLIPProcessor.from_pretrained(request["model"])

    def images(paths: list[str]) -> Any:
        chunks = []
        for start in range(0, len(paths), BATCH):
            pictures = []
            for path in paths[start:start + BATCH]:
                with Image.open(path) as img:
                    pictures.append(img.convert("RGB"))
            chunks.append(_unit(model.get_image_features(**processor(images=pictures, return_tensors="pt"))))
        return torch.cat(chunks)

    def texts(prompts: list[str]) -> Any:
        chunks = []
        for start in range(0, len(prompts), BATCH):
            tokens = processor(text=prompts[start:start + BATCH], padding=True, truncation=True, return_tensors="pt")
            chunks.append(_unit(model.get_text_features(**tokens)))
        return torch.cat(chunks)

    items = request["items"]
    with torch.no_grad():
        pictures = images([item["image"] for item in items])
        prompts = texts([item["text"] for item in items])
        clip = (100 * (pictures * prompts).sum(dim=-1)).clamp(min=0)
        references = request.get("references") or []
        similar = (pictures @ images(references).T).mean(dim=-1) if references else None
    scores = []
    for n, item in enumerate(items):
        score = {"image": item["image"], "clip_score": round(float(clip[n]), 3)}
        if similar is not None:
            score["reference_similarity"] = round(float(similar[n]), 4)
        scores.append(score)
    json.dump({"scores": scores, "references": len(references)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
