"""The LoRAs section of `grimoire/studio.md`: entries in the skill's fields, read and written.

An entry is `### LoRA: NAME` followed by `- **Field**: value` lines. loragate owns the fields in
FIELDS; any other line in an entry, and a non-placeholder "Good for", are the artist's and are kept
when the entry is written again. Writing the same registration twice gives the same file.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

SECTION = "## LoRAs"
ENTRY = re.compile(r"^###\s+LoRA:\s*(?P<name>\S.*?)\s*$")
FIELD = re.compile(r"^\s*-\s*\*\*(?P<key>[^*]+)\*\*:\s*(?P<value>.*?)\s*$")
GOOD_FOR_PLACEHOLDER = "(what it does well: fill in from the evaluation)"


class RegisteredLora(BaseModel):
    name: str
    file: str
    high_noise_file: str | None = Field(default=None, description="Wan 2.2: the high-noise expert's LoRA, loaded beside `file`.")
    type: str
    trigger: str
    weight: float = Field(description="Recommended weight.")
    base_model: str
    good_for: str = GOOD_FOR_PLACEHOLDER
    date: str = Field(description="Training date, YYYY-MM-DD.")
    preset: str
    epochs: int | None = None
    rank: int
    checkpoint: str = Field(default="", description="Which checkpoint of the run this is (e.g. 'epoch 8 (middle)').")
    checked_with: str | None = Field(default=None, description="Wan 2.2: the Lightning LoRAs the evaluation stacked, and how it was trained.")


# field title -> attribute, in the skill's order
FIELDS: list[tuple[str, str]] = [
    ("File", "file"), ("File (high-noise expert)", "high_noise_file"), ("Type", "type"), ("Trigger word", "trigger"),
    ("Recommended weight", "weight"), ("Base model", "base_model"), ("Good for", "good_for"), ("Training date", "date"),
    ("Training params", "params"), ("Checkpoint", "checkpoint"), ("Checked with", "checked_with"),
]


def _params(lora: RegisteredLora) -> str:
    epochs = f"{lora.epochs} epochs" if lora.epochs is not None else "epochs unknown"
    return f"{lora.preset}, {epochs}, rank {lora.rank}"


def render_entry(lora: RegisteredLora, kept: list[str]) -> list[str]:
    lines = [f"### LoRA: {lora.name}"]
    for title, attr in FIELDS:
        value = _params(lora) if attr == "params" else getattr(lora, attr)
        if value in (None, ""):
            continue
        lines.append(f"- **{title}**: {value:g}" if isinstance(value, float) else f"- **{title}**: {value}")
    return lines + kept


def _in_comment(lines: list[str]) -> list[bool]:
    """Lines inside an HTML comment (the template's example entry is one)."""
    inside, marks = False, []
    for line in lines:
        opens = "<!--" in line
        marks.append(inside or opens)
        if opens:
            inside = "-->" not in line.split("<!--", 1)[1]
        elif inside and "-->" in line:
            inside = False
    return marks


def _entries(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first line, end line, name) of each entry outside comments."""
    hidden = _in_comment(lines)
    starts = [(i, m["name"]) for i, line in enumerate(lines) if not hidden[i] and (m := ENTRY.match(line))]
    spans = []
    for n, (start, name) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        for j in range(start + 1, end):
            if lines[j].startswith("## ") or lines[j].startswith("<!--"):
                end = j
                break
        spans.append((start, end, name))
    return spans


def _fields(block: list[str]) -> tuple[dict[str, str], list[str]]:
    """loragate's fields, and every other line (the artist's) in order."""
    ours = {title for title, _ in FIELDS} | {"Training params"}
    values: dict[str, str] = {}
    kept: list[str] = []
    for line in block:
        m = FIELD.match(line)
        if m and m["key"].strip() in ours:
            values[m["key"].strip()] = m["value"]
        elif line.strip():
            kept.append(line)
    return values, kept


def upsert(text: str, lora: RegisteredLora) -> str:
    """studio.md with the entry for `lora.name` added or updated; everything else unchanged."""
    lines = text.splitlines()
    for start, end, name in _entries(lines):
        if name == lora.name:
            values, kept = _fields(lines[start + 1:end])
            good_for = values.get("Good for", "")
            if good_for and good_for != GOOD_FOR_PLACEHOLDER and lora.good_for == GOOD_FOR_PLACEHOLDER:
                lora = lora.model_copy(update={"good_for": good_for})
            block = render_entry(lora, kept)
            new = lines[:start] + block + [""] + [line for line in lines[end:]]
            return _tidy(new)
    block = render_entry(lora, [])
    section = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if section is None:
        return _tidy(lines + ["", SECTION, ""] + block)
    end = next((i for i in range(section + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return _tidy(lines[:end] + [""] + block + [""] + lines[end:])


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def read_entries(text: str) -> list[RegisteredLora]:
    lines = text.splitlines()
    found = []
    for start, end, name in _entries(lines):
        values, _ = _fields(lines[start + 1:end])
        params = re.match(r"(?P<preset>[^,]+),\s*(?:(?P<epochs>\d+) epochs|epochs unknown),\s*rank (?P<rank>\d+)", values.get("Training params", ""))
        try:
            weight = float(re.match(r"[\d.]+", values.get("Recommended weight", "")).group(0))  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            continue  # an entry written by hand without a weight is not one /art can use
        found.append(RegisteredLora(
            name=name, file=values.get("File", ""), high_noise_file=values.get("File (high-noise expert)"),
            type=values.get("Type", ""), trigger=values.get("Trigger word", ""), weight=weight,
            base_model=values.get("Base model", ""), good_for=values.get("Good for", GOOD_FOR_PLACEHOLDER),
            date=values.get("Training date", ""), preset=params["preset"] if params else "",
            epochs=int(params["epochs"]) if params and params["epochs"] else None, rank=int(params["rank"]) if params else 0,
            checkpoint=values.get("Checkpoint", ""),
        ))
    return found
