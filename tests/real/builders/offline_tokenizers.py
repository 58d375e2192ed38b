"""Offline tokenizers in a Hugging Face cache (HF_HOME/hub), where the trainers look for them.

    python offline_tokenizers.py clip HF_HOME OPEN_CLIP_WHEEL   (any Python; verified with transformers if present)
    python offline_tokenizers.py umt5 HF_HOME                    (musubi's Python: needs sentencepiece)

CLIP: the open_clip_torch wheel ships the CLIP BPE table (open_clip/bpe_simple_vocab_16e6.txt.gz);
transformers' CLIPTokenizer files are derived from it for the two repositories sd-scripts loads
(openai/clip-vit-large-patch14, pad <|endoftext|>; laion/CLIP-ViT-bigG-14-laion2B-39B-b160k,
pad "!"). umT5: no package ships umT5's sentencepiece model, so a small one is trained here with
T5's special ids (pad 0, </s> 1, unk 2) under Wan-AI/Wan2.1-T2V-14B/google/umt5-xxl, the path
musubi's wan/modules/t5.py hard-codes. Ids stay far below umT5's 256,384-row embedding.
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

REVISION = "0000000000000000000000000000000000000000"
CLIP_REPOS = {"openai/clip-vit-large-patch14": "<|endoftext|>", "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k": "!"}
UMT5 = ("Wan-AI/Wan2.1-T2V-14B", "google/umt5-xxl")
EXPECTED = [49406, 320, 1125, 539, 320, 2368, 49407]  # "a photo of a cat", as the released tokenizer encodes it


def snapshot(home: Path, repo: str, subfolder: str = "") -> Path:
    """The snapshot folder of `repo`, with refs/main naming it, as a download leaves them."""
    base = home / "hub" / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(REVISION)
    folder = base / "snapshots" / REVISION / subfolder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each byte, in its table's order: printable bytes first (as
    themselves), then the others mapped to 256, 257, ..."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


def clip(home: Path, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        bpe = gzip.decompress(zf.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    merges = bpe.split("\n")[1 : 49152 - 256 - 2 + 1]
    symbols = byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    for repo, pad in CLIP_REPOS.items():
        folder = snapshot(home, repo)
        (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
        (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
        specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad}
        (folder / "special_tokens_map.json").write_text(json.dumps(specials))
        (folder / "tokenizer_config.json").write_text(json.dumps(
            {**specials, "model_max_length": 77, "do_lower_case": True, "tokenizer_class": "CLIPTokenizer"}))
    try:
        from transformers import CLIPTokenizer
    except ImportError:
        return
    for repo in CLIP_REPOS:
        ids = CLIPTokenizer.from_pretrained(str(snapshot(home, repo)))("a photo of a cat")["input_ids"]
        if ids != EXPECTED:
            raise SystemExit(f"the derived {repo} tokenizer encodes 'a photo of a cat' as {ids}, not {EXPECTED}")
    print(f"clip tokenizers: {len(vocab)} entries, {len(merges)} merges, 'a photo of a cat' -> {EXPECTED}")


def umt5(home: Path) -> None:
    import io

    import sentencepiece as spm

    words = ["a", "photo", "of", "the", "trigger", "word", "character", "standing", "in", "a", "garden", "with", "red", "hair", "and", "blue", "eyes", "wearing", "clothes", "looking", "at", "the", "camera", "portrait", "full", "body", "smiling", "outdoors", "indoors", "light", "dark", "cat", "dog"]
    corpus = [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=48, hard_vocab_limit=False,
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram",
                                   character_coverage=1.0, minloglevel=2)
    folder = snapshot(home, *UMT5)
    (folder / "spiece.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "T5Tokenizer", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>",
         "extra_ids": 0, "model_max_length": 512}))
    (folder / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}))
    print(f"umt5 tokenizer: {folder}")


if __name__ == "__main__":
    kind, home = sys.argv[1], Path(sys.argv[2])
    clip(home, Path(sys.argv[3])) if kind == "clip" else umt5(home)
