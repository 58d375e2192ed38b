"""What Claude is told when it captions: the rules, the artist's eye, and the approved examples.

The approved samples go in as earlier turns of the conversation (picture, then the approved
answer), so every new caption follows the artist's choices: which content is named, how much of
the technique is described, the vocabulary, the length.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from loragate.captions.model import ApprovedSample

GUIDE = Path(__file__).resolve().parents[2] / "resources" / "dataset" / "captioning-guide.md"
MAX_DOC_CHARS = 12_000

STYLE_RULES = {
    "booru": (
        "Write the caption as booru tags: short lowercase tags separated by commas, most important "
        "first (subject and count, then features, clothing, pose, setting, then medium and technique). "
        "No sentences."
    ),
    "natural": (
        "Write the caption as one or two plain English sentences on one line: the subject first, then "
        "what it is doing, the setting, then the medium and technique. No tag lists."
    ),
    "mixed": "Write the caption in the same form as the approved examples (tags or sentences).",
}

SEPARATION = (
    "Look at each picture twice. First the content: what is depicted (subject, setting, action, "
    "objects, clothing, expression, framing). Then the style: how it is made (medium, brushwork or "
    "line, palette, lighting, edges, texture, composition). List them separately. The trigger word "
    "stands for what the LoRA is meant to learn, so whatever the approved examples leave out of "
    "their captions must stay out of yours too (it is absorbed by the trigger word), and whatever "
    "varies between pictures must be named so the model does not tie it to the trigger."
)


# Which side the trigger carries decides what the captions leave out (resources/dataset/captioning-guide.md §procedure 2).
TRIGGER_CARRIES = {
    "style": "This is a style LoRA: the trigger word carries the style, so name the content fully and the style only in general words (or not at all, if the approved examples leave it out).",
    "character": "This is a character LoRA: the trigger word carries the character's identity (face, hair, build, fixed marks), so do not describe those; describe everything that may change: clothing, pose, setting, light, framing.",
    "object": "This is an object LoRA: the trigger word carries the object's look, so do not describe its shape or markings; describe everything around it: setting, angle, light, other things in view.",
}


def system_prompt(trigger: str, style: str, model_name: str | None, eye_text: str | None, guide_text: str | None,
                  training_type: str | None = None) -> str:
    parts = [
        "You write training captions for a LoRA (a small add-on that teaches an image or video model "
        "one character, style or object). Each caption will be saved as a text file beside its picture.",
        f"Every caption starts with the trigger word `{trigger}` followed by a comma.",
        STYLE_RULES.get(style, STYLE_RULES["mixed"]) + (f" The model is {model_name}." if model_name else ""),
        SEPARATION,
        *([TRIGGER_CARRIES[training_type]] if training_type in TRIGGER_CARRIES else []),
        "Follow the approved examples closely: the same kind of words, the same level of detail, "
        "the same length. Describe only what you can see.",
        'Answer with one JSON object and nothing else: {"content": [...], "style": [...], "caption": "..."}.',
    ]
    if eye_text:
        parts.append("The artist's own notes on what matters to them (grimoire/eye.md):\n" + eye_text)
    if guide_text:
        parts.append("The captioning guide this project follows:\n" + guide_text)
    return "\n\n".join(parts)


def read_doc(path: Path | None) -> str | None:
    """A markdown file's text without HTML comments (template hints), or None if absent or empty."""
    if path is None or not path.is_file():
        return None
    text = re.sub(r"<!--.*?-->", "", path.read_text(encoding="utf-8", errors="replace"), flags=re.DOTALL)
    lines = [line for line in text.splitlines() if line.strip()]
    if not any(not line.lstrip().startswith("#") for line in lines):
        return None  # headings only: an untouched template says nothing
    return "\n".join(lines)[:MAX_DOC_CHARS]


def image_block(jpeg: bytes) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(jpeg).decode("ascii")}}


def answer_json(sample: ApprovedSample) -> str:
    return json.dumps({"content": sample.content, "style": sample.style, "caption": sample.caption}, ensure_ascii=False)


ASK = "Caption this picture."


def example_turns(examples: list[tuple[ApprovedSample, bytes]]) -> list[dict]:
    """The approved samples as finished exchanges; the last one marks the end of the cached prefix."""
    turns: list[dict] = []
    for sample, jpeg in examples:
        turns.append({"role": "user", "content": [image_block(jpeg), {"type": "text", "text": ASK}]})
        turns.append({"role": "assistant", "content": [{"type": "text", "text": answer_json(sample)}]})
    if turns:
        # The same system prompt and examples open every request; caching them cuts their cost.
        turns[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return turns


def request_messages(examples: list[dict], jpeg: bytes) -> list[dict]:
    return [*examples, {"role": "user", "content": [image_block(jpeg), {"type": "text", "text": ASK}]}]


def parse_answer(text: str) -> tuple[str, list[str], list[str]]:
    """(caption, content, style) from the model's reply; a bare caption line is accepted too."""
    match = re.search(r"\{.*\}", text, flags=re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("caption"), str) and data["caption"].strip():
            content = [str(x) for x in data.get("content", []) if str(x).strip()] if isinstance(data.get("content"), list) else []
            style = [str(x) for x in data.get("style", []) if str(x).strip()] if isinstance(data.get("style"), list) else []
            return data["caption"].strip(), content, style
    line = text.strip()
    if line and "{" not in line and "\n" not in line:
        return line, [], []
    raise ValueError("the reply did not contain a caption")
