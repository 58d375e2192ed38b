"""Dataset TOMLs against their trainer's schema (voluptuous rejects what these rules block)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterator

from loragate.backends.command_family import is_wan
from loragate.catalog.models import ModelFamily
from loragate.backends import dataset_schema as S
from loragate.validate.invocation import Invocation
from loragate.validate.parse_toml import DatasetConfig
from loragate.validate.rules.base import Hit, Setup, rule

Table = tuple[tuple[Any, ...], dict[str, Any]]


def users(setup: Setup, config: DatasetConfig) -> list[Invocation]:
    return [i for i in setup.invocations if setup.dataset_for(i) is config]


def _tables(config: DatasetConfig) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """(level, where, table) with level general | dataset | subset."""
    yield "general", ("general",), config.general
    for i, ds in enumerate(config.datasets):
        yield "dataset", ("datasets", i), ds
        for j, sub in enumerate(ds.get("subsets", []) or []):
            if isinstance(sub, dict):
                yield "subset", ("datasets", i, "subsets", j), sub


def _allowed(schema: str, level: str) -> dict[str, str]:
    if schema == "musubi":
        if level == "general":
            return {k: v for k, v in S.MUSUBI_DATASET.items() if k in S.MUSUBI_GENERAL}
        return S.MUSUBI_DATASET
    if level == "subset":
        return {**S.SDS_ASCENDABLE, **S.SDS_SUBSET_ONLY}
    return {**S.SDS_DATASET_LEVEL, **S.SDS_ASCENDABLE, **({"subsets": "any"} if level == "dataset" else {})}


def _all_keys(schema: str) -> set[str]:
    if schema == "musubi":
        return set(S.MUSUBI_DATASET) | set(S.MUSUBI_DEPRECATED)
    return set(S.SDS_DATASET_LEVEL) | set(S.SDS_ASCENDABLE) | set(S.SDS_SUBSET_ONLY) | {"subsets"}


def _musubi_has(table: dict[str, object], key: str) -> bool:
    """Whether musubi reads `key` from this table, under its name or an older one it renames on load."""
    return key in table or any(old in table for old, new in S.MUSUBI_DEPRECATED.items() if new == key)


def _schemas(setup: Setup) -> Iterator[DatasetConfig]:
    return (c for c in setup.datasets.values() if c.error is None and c.schema)


@rule("TOML_PARSE", "block", "A TOML file that is not valid TOML.", "toml 0.10.2 / tomllib (both trainers load with toml)")
def parse_error(setup: Setup) -> Iterator[Hit]:
    for config in setup.datasets.values():
        if config.error is not None:
            yield Hit(f"{config.file} is not valid TOML: {config.error}.", "Fix the syntax at the line named.",
                      {"file": config.file, "line": config.error.line})
    for file, problem in setup.toml_errors:
        yield Hit(f"{file} is not valid TOML: {problem}.", "Fix the syntax at the line named.",
                  {"file": file, "line": problem.line})


def _trainer_words(schema: str | None) -> str:
    from loragate.environment.trainer import trainer_facts

    return trainer_facts(schema).display_name if schema else "the trainer"


@rule("TOML_NOT_CHECKED", "info", "A --dataset_config that was not found, so its settings were not checked.",
      "loragate: dataset TOMLs are read from disk or given alongside (PATH_MISSING reports them when paths are checked)")
def dataset_not_checked(setup: Setup) -> Iterator[Hit]:
    seen: set[str] = set()
    for inv in setup.invocations:
        value = inv.value("--dataset_config")
        if not value or value in seen or setup.dataset_for(inv) is not None or setup.check_paths:
            continue
        seen.add(value)
        yield Hit(f"The dataset config {value} was not found here, so its settings (folders, caption extension, "
                  "frame counts, resolution) were not checked.", f"Give {value} to the check as well "
                  "(for example `loragate validate train.sh path/to/" + Path(value).name + "`).",
                  inv.evidence("--dataset_config"))


@rule("TOML_UNKNOWN_KEY", "block", "A dataset TOML key the trainer does not know.",
      "reference musubi-tuner.md §2 / sd-scripts.md §3.2-3.3 ('extra keys not allowed')")
def unknown_key(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        known = _all_keys(config.schema or "")
        for key in config.data:
            if key not in S.TOP_LEVEL:
                fix = (f"Move {key} into [general] (or into a [[datasets]] table for one dataset only)." if key in known
                       else f"Remove {key}: {_trainer_words(config.schema)} has no such dataset setting.")
                yield Hit(f"{key} sits at the top of {config.file}, outside [general] and [[datasets]]; the trainer "
                          f"stops with 'extra keys not allowed'.", fix, config.evidence(key))
        for _level, where, table in _tables(config):
            for key in table:
                if key in known:
                    continue
                suggestion = S.RENAMED.get(key) if S.RENAMED.get(key) in known else None
                suggestion = suggestion or next(iter(difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)), None)
                yield Hit(f"{key} is not a {_trainer_words(config.schema)} dataset setting; the trainer stops with 'extra keys not "
                          "allowed'.", f"Did you mean {suggestion}?" if suggestion else f"Remove {key}.",
                          config.evidence(*where, key, suggestion=suggestion))


@rule("TOML_DEPRECATED_KEY", "warn", "A dataset TOML key musubi-tuner still reads under its newer name.",
      "musubi-tuner 30c658c dataset/config_utils.py deprecated_key_map (the old key is renamed on load, and ignored "
      "when the new one is also set)")
def deprecated_key(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "musubi":
            continue
        for _level, where, table in _tables(config):
            for key in table:
                new = S.MUSUBI_DEPRECATED.get(key)
                if new is None:
                    continue
                ignored = " musubi-tuner ignores it here, because " + new + " is also set." if new in table else ""
                yield Hit(f"{key} is the older name of {new}; musubi-tuner still reads it and says it is deprecated.{ignored}",
                          f"Rename {key} to {new}" + (" (or remove it)" if ignored else "") + ".",
                          config.evidence(*where, key, renamed=new))


@rule("TOML_GENERAL_KEY", "block", "A key that [general] does not accept.",
      "reference musubi-tuner.md §2 ([general] takes only resolution, caption_extension, batch_size, num_repeats, "
      "enable_bucket, bucket_no_upscale); sd-scripts.md §3.1 (subset-only keys)")
def general_key(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        allowed = _allowed(config.schema or "", "general")
        known = _all_keys(config.schema or "")
        for key in config.general:
            if key in known and key not in allowed:
                yield Hit(f"{key} is not allowed in [general]; the trainer stops with 'extra keys not allowed @ "
                          f"data['general']['{key}']'.", f"Move {key} into each [[datasets]]"
                          + (" [[datasets.subsets]]" if config.schema == "sdscripts" else "") + " table.",
                          config.evidence("general", key))


@rule("TOML_KEY_LEVEL", "block", "An sd-scripts dataset key at the wrong level (dataset vs subset).",
      "reference sd-scripts.md §3.1 / §3.3 (e.g. validation_split inside [[datasets.subsets]])")
def key_level(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "sdscripts":
            continue
        for level, where, table in _tables(config):
            if level == "general":
                continue
            allowed = _allowed("sdscripts", level)
            for key in table:
                if key in allowed or key not in _all_keys("sdscripts"):
                    continue
                home = "[[datasets]]" if level == "subset" else "[[datasets.subsets]]"
                yield Hit(f"{key} belongs in {home}, not here; the trainer stops with 'extra keys not allowed'.",
                          f"Move {key} into {home}.", config.evidence(*where, key))


@rule("TOML_VALUE_TYPE", "block", "A dataset value of the wrong type (e.g. source_fps = 30).",
      "reference musubi-tuner.md §2 (source_fps float: 'expected float'), sd-scripts.md §3.1 / §6.3")
def value_type(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        choices = S.MUSUBI_CHOICES if config.schema == "musubi" else S.SDS_CHOICES
        for level, where, table in _tables(config):
            allowed = _allowed(config.schema or "", level)
            for key, value in table.items():
                kind = allowed.get(key)
                if kind is None or kind == "any":
                    continue
                if not S.type_ok(value, kind):
                    yield Hit(f"{key} = {value!r} has the wrong type: it must be {S.TYPE_WORDS[kind]}; the trainer "
                              "stops while reading the dataset config.",
                              f"Write {key} = {float(value)!r}." if kind == "float" and isinstance(value, int)
                              and not isinstance(value, bool) else f"Write {key} as {S.TYPE_WORDS[kind]}.",
                              config.evidence(*where, key, value=value))
                elif key in choices and value not in choices[key]:
                    yield Hit(f"{key} = {value!r} is not one of {', '.join(sorted(choices[key]))}.",
                              f"Use one of: {', '.join(sorted(choices[key]))}.", config.evidence(*where, key))


def _video_datasets(config: DatasetConfig) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, ds in enumerate(config.datasets):
        if "video_directory" in ds or "video_jsonl_file" in ds:
            yield i, ds


@rule("TOML_TARGET_FRAMES", "warn", "target_frames that are not 4n+1 (or 1 with chunk).",
      "reference musubi-tuner.md §2 ('each element must be N*4+1'; values are rounded down)")
def target_frames(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "musubi":
            continue
        for i, ds in _video_datasets(config):
            frames = ds.get("target_frames")
            if not isinstance(frames, list):
                continue
            bad = [f for f in frames if isinstance(f, int) and (f - 1) % 4 != 0]
            if bad:
                fixed = sorted({f - ((f - 1) % 4) for f in frames if isinstance(f, int) and f >= 1})
                yield Hit(f"target_frames {bad} are not 4n+1 (1, 5, 9, ... 81); the trainer rounds them down, so the "
                          "clips are shorter than you asked.", f"Use target_frames = {fixed}.",
                          config.evidence("datasets", i, "target_frames", value=frames))
            if 1 in frames and ds.get("frame_extraction") == "chunk":
                yield Hit("target_frames includes 1 with frame_extraction = \"chunk\", which cuts every frame into "
                          "its own one-frame clip.", "Remove 1 from target_frames, or use another frame_extraction.",
                          config.evidence("datasets", i, "target_frames"))


@rule("TOML_TARGET_FRAMES_MISSING", "block", "A video dataset without target_frames: 1-frame clips.",
      "reference musubi-tuner.md §2 / §5.16 (omitting target_frames silently gives 1-frame clips)")
def target_frames_missing(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "musubi":
            continue
        for i, ds in _video_datasets(config):
            if "target_frames" not in ds and ds.get("frame_extraction") != "full":
                yield Hit("This video dataset has no target_frames, so every clip is cut to a single frame and the "
                          "LoRA learns no motion.", "Add target_frames, e.g. [1, 33, 81] (each 4n+1).",
                          config.evidence("datasets", i))


@rule("TOML_CACHE_DIR_UNIQUE", "block", "Two musubi datasets share a cache_directory, or a jsonl dataset has none.",
      "reference musubi-tuner.md §2 ('cache directory should be unique for each dataset'; required for jsonl)")
def cache_dir_unique(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "musubi":
            continue
        seen: dict[str, int] = {}
        for i, ds in enumerate(config.datasets):
            directory = ds.get("cache_directory") or ds.get("image_directory") or ds.get("video_directory")
            if ("image_jsonl_file" in ds or "video_jsonl_file" in ds) and "cache_directory" not in ds:
                yield Hit("A jsonl dataset needs a cache_directory.", "Add cache_directory = \"...\" to it.",
                          config.evidence("datasets", i))
            if isinstance(directory, str):
                if directory in seen:
                    yield Hit(f"Datasets {seen[directory] + 1} and {i + 1} both cache into {directory}; the trainer "
                              "stops with 'cache directory should be unique for each dataset'.",
                              "Give each [[datasets]] its own cache_directory.",
                              config.evidence("datasets", i, "cache_directory", value=directory))
                seen.setdefault(directory, i)


@rule("TOML_REQUIRED", "block", "A dataset with nothing to read.",
      "reference musubi-tuner.md §2, sd-scripts.md §3.1 (image_dir / metadata_file required; 'required key not provided')")
def required_keys(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if not config.datasets:
            yield Hit(f"{config.file} has no [[datasets]] table, so there is nothing to train on.",
                      "Add a [[datasets]] table with the image or video folder.", config.evidence())
        for i, ds in enumerate(config.datasets):
            if config.schema == "musubi":
                if not any(k in ds for k in ("image_directory", "image_jsonl_file", "video_directory", "video_jsonl_file")):
                    yield Hit(f"Dataset {i + 1} names no image_directory, video_directory or jsonl file.",
                              "Add image_directory = \"...\" or video_directory = \"...\".", config.evidence("datasets", i))
                continue
            subsets = [s for s in ds.get("subsets", []) or [] if isinstance(s, dict)]
            if not subsets:
                yield Hit(f"Dataset {i + 1} has no [[datasets.subsets]] with an image_dir.",
                          "Add [[datasets.subsets]] with image_dir = \"...\".", config.evidence("datasets", i))
            for j, sub in enumerate(subsets):
                if "image_dir" not in sub and "metadata_file" not in sub:
                    yield Hit(f"Subset {j + 1} of dataset {i + 1} has no image_dir; sd-scripts stops with 'required "
                              "key not provided'.", "Add image_dir = \"...\".",
                              config.evidence("datasets", i, "subsets", j))
            kinds = {"finetune" if "metadata_file" in s else "dreambooth" for s in subsets}
            if len(kinds) > 1:
                yield Hit(f"Dataset {i + 1} mixes image_dir subsets with metadata_file subsets; sd-scripts stops with "
                          "'DreamBooth subset and fine tuning subset cannot be mixed in the same dataset'.",
                          "Put them in separate [[datasets]].", config.evidence("datasets", i))


def sds_value(setup: Setup, config: DatasetConfig, i: int, key: str, flag: str | None = None) -> Any:
    """sd-scripts lookup order: dataset -> [general] -> command line (reference sd-scripts.md §3)."""
    ds = config.datasets[i]
    if key in ds:
        return ds[key]
    if key in config.general:
        return config.general[key]
    for inv in users(setup, config):
        name = flag or "--" + key
        if inv.has(name):
            values = inv.values(name)
            return values[-1] if values else True  # a switch on the command line
    return None


def _resolution(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").split(",") if p.strip()]
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            return None
        return (nums[0], nums[0]) if len(nums) == 1 else (nums[0], nums[1]) if len(nums) == 2 else None
    return None


@rule("TOML_RESOLUTION_MISSING", "block", "An sd-scripts dataset without a resolution.",
      "reference sd-scripts.md §3.1 ('resolution is required')")
def resolution_missing(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "sdscripts":
            continue
        for i, _ in enumerate(config.datasets):
            if sds_value(setup, config, i, "resolution") is None:
                yield Hit(f"Dataset {i + 1} has no resolution (in the TOML or as --resolution); sd-scripts stops with "
                          "'resolution is required'.", "Add resolution = 1024 (SDXL/FLUX) or 512 (SD1.5).",
                          config.evidence("datasets", i))


def _family_step(setup: Setup, config: DatasetConfig) -> int:
    for inv in users(setup, config):
        if inv.script in ("sdxl_train_network.py", "flux_train_network.py"):
            return 32
        if inv.script == "train_network.py":
            return 64
    return 32


@rule("TOML_BUCKET_STEPS", "block", "bucket_reso_steps not divisible by 64 (SD1.5) or 32 (SDXL/FLUX).",
      "reference sd-scripts.md §1.2 / §6.4 (sdxl_train_network.py:43; train_util.py:747-772)")
def bucket_steps(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "sdscripts":
            continue
        step = _family_step(setup, config)
        for i, _ in enumerate(config.datasets):
            value = sds_value(setup, config, i, "bucket_reso_steps")
            try:
                number = int(value) if value is not None else None
            except (TypeError, ValueError):
                continue
            if number and number % step:
                yield Hit(f"bucket_reso_steps is {number}; for this model it must be divisible by {step}, and the "
                          f"trainer stops with 'it must be divisible by {step}'.", f"Use bucket_reso_steps = {step * 2}"
                          f" (or {step}).", config.evidence("datasets", i, "bucket_reso_steps", value=number))


@rule("TOML_BUCKET_RESO", "block", "min/max_bucket_reso that do not contain the resolution.",
      "reference sd-scripts.md §6.4 ('max_bucket_reso must be equal or greater than resolution')")
def bucket_reso(setup: Setup) -> Iterator[Hit]:
    for config in _schemas(setup):
        if config.schema != "sdscripts":
            continue
        for i, _ in enumerate(config.datasets):
            res = _resolution(sds_value(setup, config, i, "resolution"))
            enabled = sds_value(setup, config, i, "enable_bucket") in (True, "True", [])
            no_upscale = sds_value(setup, config, i, "bucket_no_upscale") in (True, "True", [])
            if res is None or not enabled or no_upscale:
                continue
            low = sds_value(setup, config, i, "min_bucket_reso")
            high = sds_value(setup, config, i, "max_bucket_reso")
            low = int(low) if low is not None else 256
            high = int(high) if high is not None else 1024
            if high < max(res):
                yield Hit(f"max_bucket_reso is {high} but the resolution reaches {max(res)}; sd-scripts stops with "
                          "'max_bucket_reso must be equal or greater than resolution'.",
                          f"Set max_bucket_reso = {max(res) * 2 if max(res) <= 1024 else max(res)}.",
                          config.evidence("datasets", i, "max_bucket_reso", value=high))
            if low > min(res):
                yield Hit(f"min_bucket_reso is {low} but the resolution is only {min(res)}; sd-scripts stops with "
                          "'min_bucket_reso must be equal or less than resolution'.",
                          f"Set min_bucket_reso = {min(res) // 2}.", config.evidence("datasets", i, "min_bucket_reso"))


def _musubi_trains(setup: Setup) -> Iterator[tuple[Invocation, ModelFamily, DatasetConfig]]:
    """Each musubi training command whose model and dataset config are known."""
    for inv in setup.trains("musubi"):
        family, config = setup.family(inv), setup.dataset_for(inv)
        if family is not None and config is not None:
            yield inv, family, config


@rule("MUSUBI_IMAGE_MODEL_VIDEO", "block", "Video folders in the dataset of an image model.",
      "musubi-tuner 30c658c docs/zimage.md ('The dataset should be an image dataset'); models.toml video = false")
def image_model_video(setup: Setup) -> Iterator[Hit]:
    for inv, family, config in _musubi_trains(setup):
        if family.video or is_wan(inv):
            continue  # Wan's t2i task reads clips like its t2v model; the image models' scripts do not
        for i, _ in _video_datasets(config):
            yield Hit(f"Dataset {i + 1} is a video folder, but {family.display_name} is an image model: its scripts "
                      "cache and train pictures only.",
                      "Train on the stills (an image_directory), or pick a video model such as Wan.",
                      config.evidence("datasets", i))


@rule("MUSUBI_CONTROL_MISSING", "block", "An edit model's dataset without its control images.",
      "musubi-tuner 30c658c docs/dataset_config.md 'Image Dataset with Control Images' (FLUX.1 Kontext, Qwen-Image-Edit), "
      "docs/flux_kontext.md ('The control_images in the dataset config is used as the reference image')")
def control_missing(setup: Setup) -> Iterator[Hit]:
    for _, family, config in _musubi_trains(setup):
        if not family.control_images:
            continue
        for i, ds in enumerate(config.datasets):
            if not any(k in ds for k in ("control_directory", "video_directory", "video_jsonl_file")) \
                    and not str(ds.get("image_jsonl_file", "")):
                yield Hit(f"Dataset {i + 1} has no control_directory: {family.display_name} learns an edit from pairs, "
                          "so every picture needs its starting image.",
                          "Add control_directory = \"...\" naming the folder of starting images (same file names as the results).",
                          config.evidence("datasets", i))


@rule("MUSUBI_CONTROL_RESOLUTION", "warn", "Control images without the control_resolution the model's docs strongly recommend.",
      "musubi-tuner 30c658c docs/dataset_config.md 'Qwen-Image-Edit and Qwen-Image-Edit-2509/2511' ('If you want to resize "
      "the control images the same as the official code, specify [1024,1024]. We strongly recommend specifying this value.')")
def control_resolution(setup: Setup) -> Iterator[Hit]:
    for _, family, config in _musubi_trains(setup):
        if not family.control_resolution:
            continue
        want = list(family.control_resolution)
        for i, ds in enumerate(config.datasets):
            if "control_directory" in ds and not _musubi_has(ds, "control_resolution"):
                yield Hit(f"Dataset {i + 1} leaves control_resolution out, so each control image is resized to its picture's "
                          f"size, unlike {family.display_name}'s own code; musubi's docs strongly recommend {want}.",
                          f"Add control_resolution = {want} to the dataset.", config.evidence("datasets", i))
