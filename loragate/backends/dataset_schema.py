"""The dataset TOML schemas of both trainers, as data: which keys exist, where, and their type.

musubi-tuner: reference musubi-tuner.md §2 (src/musubi_tuner/dataset/config_utils.py, voluptuous).
sd-scripts: reference sd-scripts.md §3.1 (library/config_util.py ConfigSanitizer, voluptuous).
Types follow voluptuous: "float" rejects an int (source_fps = 30 -> 'expected float'), "number"
takes either.
"""

from __future__ import annotations

# type names: int, float, number, bool, str, res (int or [int, int]), int_list, float_pair, table, any
MUSUBI_GENERAL = {"resolution", "caption_extension", "batch_size", "num_repeats", "enable_bucket", "bucket_no_upscale"}
MUSUBI_DATASET: dict[str, str] = {
    "resolution": "res", "caption_extension": "str", "batch_size": "int", "num_repeats": "int",
    "enable_bucket": "bool", "bucket_no_upscale": "bool", "cache_directory": "str",
    "image_directory": "str", "image_jsonl_file": "str", "video_directory": "str", "video_jsonl_file": "str",
    "control_directory": "str", "target_frames": "int_list", "frame_extraction": "str", "frame_stride": "int",
    "frame_sample": "int", "max_frames": "int", "source_fps": "float", "multiple_target": "any",
    "no_resize_control": "any", "control_resolution": "any", "fp_latent_window_size": "any",
    "fp_1f_clean_indices": "any", "fp_1f_target_index": "any", "fp_1f_no_post": "any",
}
MUSUBI_CHOICES = {"frame_extraction": {"head", "chunk", "slide", "uniform", "full"}}

SDS_DATASET_LEVEL: dict[str, str] = {
    "resolution": "res", "batch_size": "int", "enable_bucket": "bool", "min_bucket_reso": "int",
    "max_bucket_reso": "int", "bucket_reso_steps": "int", "bucket_no_upscale": "bool", "validation_split": "float",
    "validation_seed": "int", "network_multiplier": "float",
}
SDS_ASCENDABLE: dict[str, str] = {
    "num_repeats": "int", "shuffle_caption": "bool", "keep_tokens": "int", "keep_tokens_separator": "str",
    "secondary_separator": "str", "caption_separator": "str", "enable_wildcard": "bool", "caption_prefix": "str",
    "caption_suffix": "str", "color_aug": "bool", "flip_aug": "bool", "random_crop": "bool",
    "face_crop_aug_range": "float_pair", "token_warmup_min": "int", "token_warmup_step": "number",
    "custom_attributes": "table", "caption_dropout_rate": "number", "caption_dropout_every_n_epochs": "int",
    "caption_tag_dropout_rate": "number", "caption_extension": "str", "class_tokens": "str", "cache_info": "bool",
    "resize_interpolation": "str",
}
SDS_SUBSET_ONLY: dict[str, str] = {
    "image_dir": "str", "is_reg": "bool", "alpha_mask": "bool", "metadata_file": "str", "conditioning_data_dir": "str",
}
SDS_CHOICES = {"resize_interpolation": {"lanczos", "nearest", "bilinear", "linear", "bicubic", "cubic", "area", "box"}}
# keys people write that never existed, with the real one (reference sd-scripts.md §3.3)
RENAMED = {"interpolation_type": "resize_interpolation", "image_directory": "image_dir", "image_dir": "image_directory",
           "repeats": "num_repeats", "train_batch_size": "batch_size"}
TOP_LEVEL = {"general", "datasets"}
# musubi-tuner dataset/config_utils.py deprecated_key_map: older keys it still reads, renamed on load
# (the new key wins when both are set).
MUSUBI_DEPRECATED = {"flux_kontext_no_resize_control": "no_resize_control",
                     "qwen_image_edit_no_resize_control": "no_resize_control",
                     "qwen_image_edit_control_resolution": "control_resolution"}


def type_ok(value: object, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, float)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "res":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if kind == "int_list":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if kind == "float_pair":
        return isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    if kind == "table":
        return isinstance(value, dict)
    return True


TYPE_WORDS = {"int": "a whole number", "float": "a decimal number (write 30.0, not 30)", "number": "a number",
              "bool": "true or false (no quotes)", "str": "text in quotes",
              "res": "one whole number or [width, height]", "int_list": "a list of whole numbers, e.g. [1, 33, 81]",
              "float_pair": "two numbers, e.g. [0.4, 1.0]", "table": "a table"}
