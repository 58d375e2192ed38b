"""Flags checked against each script's real argparse definition (loragate/data/flags/*.json).

On the command line argparse stops at an unknown flag or a bad value (exit 2); in a config TOML a
misspelt key is silently ignored and values are not converted (reference sd-scripts.md §2.1, §6.12,
§6.18). Both are blocks: one wastes a launch, the other a whole run.
"""

from __future__ import annotations

import ast
import difflib
import re
from typing import Iterator

from loragate.catalog.flags import FlagSpec, known_scripts, script_flags
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule

# Flags that have their own, more specific rule.
_OWN_RULE = {"--timestep_boundary"}
# Names written in upstream docs that never existed (reference sd-scripts.md §1.2, §6.12).
_KNOWN_MISTAKES = {"--text_encoder_lr1": "--text_encoder_lr", "--text_encoder_lr2": "--text_encoder_lr",
                   "--flash-attn": "--flash_attn", "--sage-attn": "--sage_attn"}
_TRAINER_SCRIPTS = {
    "musubi": ["wan_train_network.py", "wan_cache_latents.py", "wan_cache_text_encoder_outputs.py"],
    "sdscripts": ["train_network.py", "sdxl_train_network.py", "flux_train_network.py", "sd3_train_network.py"],
}
_UNRESOLVED = re.compile(r"\$\{?\w|%\w+%")


def _specs(inv: Invocation) -> dict[str, FlagSpec]:
    return script_flags(inv.script) if inv.script in known_scripts() else {}


def _how_it_fails(inv: Invocation, flag: str) -> str:
    if flag in inv.from_config:
        return "In a config TOML the trainer ignores it without a word, so the setting silently does nothing."
    return "argparse stops the script with 'unrecognized arguments'."


def _closest(flag: str, specs: dict[str, FlagSpec]) -> str | None:
    if flag in _KNOWN_MISTAKES and _KNOWN_MISTAKES[flag] in specs:
        return _KNOWN_MISTAKES[flag]
    normal = flag.replace("-", "_").lstrip("_")
    for name in specs:
        if name.lstrip("-") == normal:
            return name
    match = difflib.get_close_matches(flag, list(specs), n=1, cutoff=0.75)
    return match[0] if match else None


def _where_else(inv: Invocation, flag: str) -> tuple[str | None, str | None]:
    """(another script of the same trainer, a script of the other trainer) that takes the flag."""
    same = next((s for s in _TRAINER_SCRIPTS.get(inv.trainer or "", []) if s != inv.script and flag in script_flags(s)),
                None)
    other_trainer = "sdscripts" if inv.trainer == "musubi" else "musubi"
    other = next((s for s in _TRAINER_SCRIPTS[other_trainer] if flag in script_flags(s)), None)
    return same, other


def _unknown_flags(setup: Setup) -> Iterator[tuple[Invocation, str, dict[str, FlagSpec]]]:
    for inv in setup.invocations:
        specs = _specs(inv)
        if not specs:
            continue
        for flag in inv.args:
            if flag not in specs:
                yield inv, flag, specs


@rule("FLAG_UNKNOWN", "block", "A flag the script does not have.",
      "argparse definitions dumped in loragate/data/flags (reference sd-scripts.md §2.1, §6.12, §6.18)")
def unknown_flag(setup: Setup) -> Iterator[Hit]:
    for inv, flag, specs in _unknown_flags(setup):
        same, other = _where_else(inv, flag)
        if other and not same:
            continue  # FLAG_OTHER_TRAINER says it better
        closest = _closest(flag, specs)
        if same:
            fix = f"Move {flag} to the {same} command, or remove it here."
            what = f"{inv.script} has no {flag}; it belongs to {same}."
        else:
            fix = f"Did you mean {closest}?" if closest else f"Remove {flag}; {inv.script} has no such option."
            what = f"{inv.script} has no option {flag}."
        yield Hit(f"{what} {_how_it_fails(inv, flag)}", fix, inv.evidence(flag, with_value=False, suggestion=closest))


@rule("FLAG_OTHER_TRAINER", "block", "A flag from the other trainer.",
      "musubi-tuner and sd-scripts flag dumps (reference musubi-tuner.md §1.5, sd-scripts.md §2)")
def other_trainer_flag(setup: Setup) -> Iterator[Hit]:
    for inv, flag, specs in _unknown_flags(setup):
        same, other = _where_else(inv, flag)
        if not other or same:
            continue
        trainer = "sd-scripts" if inv.trainer == "musubi" else "musubi-tuner"
        closest = _closest(flag, specs)
        fix = f"Use {closest} instead." if closest else f"Remove {flag}; {inv.script} has no equivalent."
        yield Hit(f"{flag} is a {trainer} option ({other}); {inv.script} does not know it. {_how_it_fails(inv, flag)}",
                  fix, inv.evidence(flag, with_value=False, other_script=other))


@rule("FLAG_ABBREVIATED", "warn", "A flag written as a prefix of its real name.",
      "Python argparse allow_abbrev (default True in both trainers' parsers)")
def abbreviated_flag(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        for full, written in inv.abbreviated.items():
            yield Hit(f"{written} is read as {full} only because argparse accepts unambiguous prefixes; a trainer "
                      "update that adds a similar flag would break it.", f"Write {full} in full.",
                      inv.evidence(full, written=written))


@rule("FLAG_SWITCH_VALUE", "block", "A switch given a value.",
      "argparse store_true ('ignored explicit argument'); sd-scripts train_util.read_config_from_file keeps TOML strings")
def switch_value(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        specs = _specs(inv)
        for flag, values in inv.args.items():
            spec = specs.get(flag)
            if spec is None or not spec.is_switch:
                continue
            if flag in inv.config_raw:
                raw = inv.config_raw[flag]
                if not isinstance(raw, bool):
                    yield Hit(f"{flag[2:]} = {raw!r} in the config TOML is not true/false; any non-empty text, even "
                              "\"false\", switches it ON.", f"Write {flag[2:]} = true or {flag[2:]} = false, without quotes.",
                              inv.evidence(flag))
            elif values:
                yield Hit(f"{flag} is a switch and takes no value, but was given {values[-1]!r}; argparse stops with "
                          "'ignored explicit argument'.", f"Write {flag} alone to turn it on, or leave it out to keep it off.",
                          inv.evidence(flag))


@rule("FLAG_MISSING_VALUE", "block", "A flag that needs a value has none.", "argparse ('expected one argument')")
def missing_value(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        specs = _specs(inv)
        for flag, values in inv.args.items():
            spec = specs.get(flag)
            if spec is None or spec.is_switch or spec.takes_many or values or flag in inv.from_config:
                continue
            yield Hit(f"{flag} needs a value but none follows it; argparse stops with 'expected one argument'.",
                      f"Give {flag} its value, or remove it.", inv.evidence(flag))


def _type_ok(value: str, spec: FlagSpec) -> bool:
    kind = spec.value_type
    try:
        if kind == "int":
            int(value)
        elif kind == "float":
            float(value)
        elif kind == "int_or_float":
            if not value.endswith("%"):
                float(value)
            else:
                float(value[:-1])
    except ValueError:
        return False
    return True


def _choice_ok(value: str, spec: FlagSpec) -> bool:
    return not spec.choices or value in {str(c) for c in spec.choices if c is not None}


@rule("FLAG_BAD_VALUE", "block", "A value of the wrong type or outside the allowed choices.",
      "argparse type= and choices= in the flag dumps (e.g. --save_model_as diffusers, --max_token_length 75: "
      "reference sd-scripts.md §6.12)")
def bad_value(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        specs = _specs(inv)
        for flag, values in inv.args.items():
            spec = specs.get(flag)
            if spec is None or spec.is_switch or flag in _OWN_RULE or not values:
                continue
            raw = inv.config_raw.get(flag)
            if isinstance(raw, str) and _looks_numeric(raw) and spec.value_type in ("int", "float", "int_or_float"):
                continue  # TOML_QUOTED_NUMBER
            checked = values if spec.takes_many else values[-1:]
            for value in checked:
                if _UNRESOLVED.search(value):
                    continue
                if not _type_ok(value, spec) or (spec.value_type == "int" and isinstance(raw, float)):
                    yield Hit(f"{flag} takes {_type_words(spec)}, but was given {value!r}; the script stops with "
                              f"'invalid {spec.value_type} value'.", f"Give {flag} {_type_words(spec)}.",
                              inv.evidence(flag))
                elif not _choice_ok(value, spec):
                    allowed = ", ".join(str(c) for c in spec.choices or [] if c is not None)
                    yield Hit(f"{flag} does not accept {value!r}; it takes one of: {allowed}.",
                              f"Use one of: {allowed}.", inv.evidence(flag, allowed=allowed))


def _type_words(spec: FlagSpec) -> str:
    return {"int": "a whole number", "float": "a number", "int_or_float": "a step count or a fraction"}.get(
        spec.value_type, "a value")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@rule("TOML_QUOTED_NUMBER", "block", "A number written in quotes in a config TOML.",
      "reference sd-scripts.md §2.1: values from --config_file are not type-converted")
def quoted_number(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        specs = _specs(inv)
        for flag, raw in inv.config_raw.items():
            spec = specs.get(flag)
            if spec and isinstance(raw, str) and _looks_numeric(raw) and spec.value_type in ("int", "float", "int_or_float"):
                yield Hit(f"{flag[2:]} = \"{raw}\" is text, not a number: the trainer does not convert config values, "
                          "so the run fails or misbehaves when it uses it.", f"Write {flag[2:]} = {raw} without quotes.",
                          inv.evidence(flag))


@rule("FLAG_REPEATED", "warn", "The same flag written more than once.", "argparse: the last occurrence wins")
def repeated(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        for flag, count in inv.occurrences.items():
            if count > 1 and flag not in inv.from_config:
                kept = inv.value(flag)
                yield Hit(f"{flag} is written {count} times; only the last one counts"
                          + (f" ({kept})." if kept is not None else "."), f"Keep one {flag}.", inv.evidence(flag))


@rule("FLAG_STRAY_VALUE", "block", "A word no flag takes.", "argparse ('unrecognized arguments')")
def stray(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        specs = _specs(inv)
        for item in inv.stray:
            spec = specs.get(item.after)
            if spec is not None and spec.is_switch:
                message = (f"{item.after} is a switch and takes no value, so {item.value!r} after it is left over; "
                           "argparse stops with 'unrecognized arguments'.")
                fix = f"Remove {item.value!r}: writing {item.after} alone turns it on."
            else:
                message = f"{item.value!r} is not taken by any flag; argparse stops with 'unrecognized arguments'."
                fix = "Remove it, or put the flag it belongs to in front of it."
            file, _, line = item.where.rpartition(":")
            yield Hit(message, fix, {"file": file or item.where, "line": int(line) if line.isdigit() else None,
                                     "value": item.value, "after": item.after, "script": inv.script})


@rule("FLAG_LITERAL_ARGS", "block", "--optimizer_args / --lr_scheduler_args not written as key=python-literal.",
      "reference sd-scripts.md §2 / §6.19 (ast.literal_eval after split('=')); musubi-tuner.md §1.5")
def literal_args(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        for flag in ("--optimizer_args", "--lr_scheduler_args"):
            for item in inv.values(flag):
                key, eq, value = item.partition("=")
                problem = None
                if not eq or "=" in value or not key.strip():
                    problem = "is not written as key=value"
                else:
                    try:
                        ast.literal_eval(value)
                    except (ValueError, SyntaxError):
                        problem = f"has a value ({value}) that is not a Python literal; text needs quotes inside"
                if problem:
                    yield Hit(f"{flag} item {item!r} {problem}, and the trainer fails while building the "
                              "optimizer or scheduler.", "Write it as key=value, e.g. weight_decay=0.01 or "
                              "betas=(0.9,0.99); quote text like name='value'.", inv.evidence(flag, item=item))


_REQUIRED: dict[str, list[tuple[str, ...]]] = {
    # musubi-tuner.md §1.1-1.3: --dit (ValueError), --vae (assert), --t5 required=True, --dataset_config required
    "wan_train_network.py": [("--dit",), ("--dataset_config",)],
    "wan_cache_latents.py": [("--dataset_config",), ("--vae",)],
    "wan_cache_text_encoder_outputs.py": [("--dataset_config",), ("--t5",)],
    # sd-scripts.md §1.1-1.3, §3
    "train_network.py": [("--pretrained_model_name_or_path",), ("--dataset_config", "--train_data_dir", "--in_json")],
    "sdxl_train_network.py": [("--pretrained_model_name_or_path",), ("--dataset_config", "--train_data_dir", "--in_json")],
    "flux_train_network.py": [("--pretrained_model_name_or_path",), ("--dataset_config", "--train_data_dir", "--in_json"),
                              ("--ae",), ("--t5xxl",)],
    "sd3_train_network.py": [("--pretrained_model_name_or_path",), ("--dataset_config", "--train_data_dir", "--in_json")],
}


@rule("FLAG_REQUIRED", "block", "A flag the script cannot run without.",
      "reference musubi-tuner.md §1.1-1.3 (asserts and required=True), sd-scripts.md §1.1-1.3")
def required(setup: Setup) -> Iterator[Hit]:
    for inv in setup.invocations:
        for options in _REQUIRED.get(inv.script, []):
            if not any(inv.has(o) for o in options):
                names = " or ".join(options)
                yield Hit(f"{inv.script} needs {names}, and this command has none.", f"Add {options[0]} with its path.",
                          inv.evidence(options[0]))
        if inv.script == "flux_train_network.py" and inv.value("--model_type", "flux") != "chroma" and not inv.has("--clip_l"):
            yield Hit("flux_train_network.py needs --clip_l for FLUX.1 (only Chroma drops it).",
                      "Add --clip_l with the path of clip_l.safetensors.", inv.evidence("--clip_l"))
