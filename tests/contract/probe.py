"""Ask a trainer checkout's own code what it makes of loragate's commands and dataset TOMLs.

Run as a separate process (`python tests/contract/probe.py TRAINER CHECKOUT < requests.json`),
so the stubbed heavy libraries (tests/contract/stubs.py) never reach pytest's interpreter. It
imports the real scripts and calls their own parser builders and dataset-config sanitizers; it
holds no trainer logic of its own. Requests on stdin, one JSON list; answers on stdout, one JSON list:

  {"op": "dump", "script": S}                      -> {"flags": [action, ...]}
  {"op": "parse", "script": S, "argv": [...]}      -> {"args": {...}} or {"error": "..."}
  {"op": "dataset", "script": S, "argv": [...], "toml": PATH}
                                                   -> {"datasets": [{"params": {...}, "subsets": [...]}]} or {"error": "..."}
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stubs  # type: ignore[import-not-found]  # beside this file; run as a script

MUSUBI_SCRIPTS = {  # script -> (module, common parser builder module, specific setup function)
    "wan_train_network.py": ("musubi_tuner.wan_train_network", "musubi_tuner.training.parser_common", "wan_setup_parser"),
    "wan_cache_latents.py": ("musubi_tuner.wan_cache_latents", "musubi_tuner.cache_latents", "wan_setup_parser"),
    "wan_cache_text_encoder_outputs.py": ("musubi_tuner.wan_cache_text_encoder_outputs", "musubi_tuner.cache_text_encoder_outputs", "wan_setup_parser"),
}
SDSCRIPTS = ("train_network.py", "sdxl_train_network.py", "flux_train_network.py", "sd3_train_network.py", "gen_img.py", "sdxl_gen_img.py")
# Scripts that build their parser and parse in one step: the parser is caught at its parse_args().
PARSE_AT_ONCE = {  # script -> (module to run, function to call; None runs the module as __main__)
    "flux_minimal_inference.py": ("flux_minimal_inference", None),
    "wan_generate_video.py": ("musubi_tuner.wan_generate_video", "parse_args"),
    "sd3_minimal_inference.py": ("sd3_minimal_inference", None),
    **{f"{name}.py": (f"musubi_tuner.{name}", "parse_args") for name in (
        "qwen_image_generate_image", "zimage_generate_image", "flux_2_generate_image", "flux_kontext_generate_image",
        "hv_1_5_generate_video",
    )},
    **{f"{name}.py": (f"musubi_tuner.{name}", "main") for name in (
        "qwen_image_train_network", "qwen_image_cache_latents", "qwen_image_cache_text_encoder_outputs",
        "zimage_train_network", "zimage_cache_latents", "zimage_cache_text_encoder_outputs",
        "flux_2_train_network", "flux_2_cache_latents", "flux_2_cache_text_encoder_outputs",
        "flux_kontext_train_network", "flux_kontext_cache_latents", "flux_kontext_cache_text_encoder_outputs",
        "hv_1_5_train_network", "hv_1_5_cache_latents", "hv_1_5_cache_text_encoder_outputs",
    )},
}


def _qwen_architecture(args: argparse.Namespace) -> str:
    """qwen_image_train_network.py main(): the model version decides the dataset's architecture."""
    arch = _import("musubi_tuner.dataset.architectures")
    _import("musubi_tuner.qwen_image.qwen_image_utils").resolve_model_version_args(args)
    if args.is_edit:
        return str(arch.ARCHITECTURE_QWEN_IMAGE_EDIT)
    return str(arch.ARCHITECTURE_QWEN_IMAGE_LAYERED if args.is_layered else arch.ARCHITECTURE_QWEN_IMAGE)


# training script -> the architecture its main() hands the dataset blueprint (Wan when absent)
DATASET_ARCHITECTURE: dict[str, Callable[[argparse.Namespace], str]] = {
    "qwen_image_train_network.py": _qwen_architecture,
    "zimage_train_network.py": lambda args: str(_import("musubi_tuner.dataset.architectures").ARCHITECTURE_Z_IMAGE),
    # flux_2_train_network.py: the trainer's architecture is its model version's (flux2_utils.FLUX2_MODEL_INFO)
    "hv_1_5_train_network.py": lambda args: str(_import("musubi_tuner.dataset.architectures").ARCHITECTURE_HUNYUAN_VIDEO_1_5),
    "flux_kontext_train_network.py": lambda args: str(_import("musubi_tuner.dataset.architectures").ARCHITECTURE_FLUX_KONTEXT),
    "flux_2_train_network.py": lambda args: str(_import("musubi_tuner.flux_2.flux2_utils").FLUX2_MODEL_INFO[args.model_version].architecture),
}


class _Caught(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser caught")
        self.parser = parser


def _catch_parser(module: str, function: str | None) -> argparse.ArgumentParser:
    """Run the script's own parser-building code up to its parse_args() call, and keep the parser."""
    import runpy

    def caught(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        raise _Caught(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = caught  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if function is None:
                runpy.run_module(module, run_name="__main__")
            else:
                getattr(_import(module), function)()
    except _Caught as found:
        return found.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{module} never parsed its arguments")


def _import(name: str) -> Any:
    import importlib

    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(name)


def parser_for(trainer: str, script: str) -> argparse.ArgumentParser:
    """The script's parser, built by the script's own functions as its main() does."""
    if script in PARSE_AT_ONCE:
        return _catch_parser(*PARSE_AT_ONCE[script])
    if trainer == "sdscripts":
        if script not in SDSCRIPTS:
            raise KeyError(script)
        return _import(script[: -len(".py")]).setup_parser()
    module, common, setup = MUSUBI_SCRIPTS[script]
    build: Callable[[argparse.ArgumentParser], argparse.ArgumentParser] = getattr(_import(module), setup)
    return build(_import(common).setup_parser_common())


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def _type_name(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "store_true"
    if isinstance(action, argparse._StoreFalseAction):
        return "store_false"
    if action.type is None:
        return "str"
    return getattr(action.type, "__name__", str(action.type))


def dump(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    flags = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        choices = _plain(list(action.choices)) if action.choices is not None else None
        flags.append({
            "name": max(action.option_strings, key=len), "aliases": sorted(action.option_strings), "dest": action.dest,
            "type": _type_name(action), "nargs": action.nargs, "default": _plain(action.default),
            # an empty list means the choices come from a stubbed library (accelerate's DynamoBackend)
            "choices": choices or None, "choices_unknown": choices == [],
            "required": bool(action.required),
        })
    return sorted(flags, key=lambda f: f["name"])


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace | None, str]:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv), ""
    except SystemExit:
        return None, err.getvalue().strip().splitlines()[-1]  # argparse's "PROG: error: ..." line


def dataset(trainer: str, script: str, args: argparse.Namespace, toml_path: str) -> dict[str, Any]:
    """The trainer's own reading of a dataset TOML: sanitized, merged with the command's flags."""
    if trainer == "sdscripts":
        config_util = _import("library.config_util")
        sanitizer = config_util.ConfigSanitizer(True, True, args.masked_loss, True)  # train_network.py:517
        user_config = config_util.load_user_config(toml_path)
        blueprint = config_util.BlueprintGenerator(sanitizer).generate(user_config, args)
        return {"datasets": [{"params": _plain(d.params), "subsets": [_plain(s.params) for s in d.subsets]}
                             for d in blueprint.dataset_group.datasets]}
    config_utils = _import("musubi_tuner.dataset.config_utils")
    pick = DATASET_ARCHITECTURE.get(script)
    architecture = pick(args) if pick else _import("musubi_tuner.dataset.image_video_dataset").ARCHITECTURE_WAN
    user_config = config_utils.load_user_config(toml_path)
    blueprint = config_utils.BlueprintGenerator(config_utils.ConfigSanitizer()).generate(user_config, args, architecture=architecture)
    return {"datasets": [{"params": _plain(d.params), "is_image": d.is_image_dataset, "subsets": []}
                         for d in blueprint.dataset_group.datasets]}


def answer(trainer: str, request: dict[str, Any], parsers: dict[str, argparse.ArgumentParser]) -> dict[str, Any]:
    script = request["script"]
    if script not in parsers:
        parsers[script] = parser_for(trainer, script)
    parser = parsers[script]
    if request["op"] == "dump":
        return {"flags": dump(parser)}
    args, error = parse(parser, request["argv"])
    if args is None:
        return {"error": error}
    if request["op"] == "parse":
        return {"args": _plain(vars(args))}
    try:
        return dataset(trainer, script, args, request["toml"])
    except Exception as exc:  # noqa: BLE001 (the trainer's own validation error, reported as the trainer would)
        return {"error": f"{type(exc).__name__}: {exc}"}


def main() -> int:
    trainer, checkout = sys.argv[1], Path(sys.argv[2])
    stubs.install()
    logging.disable(logging.CRITICAL)
    os.chdir(checkout)
    sys.path.insert(0, str(checkout / "src" if trainer == "musubi" else checkout))
    sys.argv = ["probe"]
    parsers: dict[str, argparse.ArgumentParser] = {}
    answers = [answer(trainer, request, parsers) for request in json.load(sys.stdin)]
    sys.stdout.write(json.dumps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
