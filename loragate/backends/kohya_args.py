"""Arguments both kohya trainers read the same way, which the validator engine follows to the files
they name: musubi-tuner copies sd-scripts' argparse setup for them (reference sd-scripts.md §2.1,
musubi-tuner.md §2)."""

from __future__ import annotations

CONFIG_FILE = "--config_file"  # a TOML of training arguments (train_util.read_config_from_file)
DATASET_CONFIG = "--dataset_config"  # the dataset TOML (config_util / dataset/config_utils.py)
