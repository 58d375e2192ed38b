"""A config TOML given on its own is judged as the script it is meant for, run by that script's trainer."""

from __future__ import annotations

from pathlib import Path

from loragate.validate import validate_files


def _judged(tmp_path: Path, text: str, model: str | None = None) -> tuple[str, str | None, list[str]]:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    report = validate_files([config], model=model, check_paths=False)
    [inv] = report.invocations
    return inv.script, inv.trainer, [f.code for f in report.findings]


def test_a_musubi_model_named_for_a_loose_config_is_trained_by_musubi(tmp_path: Path) -> None:
    # qwen_image_train_network.py is musubi-tuner's (models.toml); it used to be taken for sd-scripts,
    # which reported a model/trainer mismatch the artist had not made
    script, trainer, codes = _judged(tmp_path, '[model]\ndit = "/x/qwen_image_bf16.safetensors"\n', "qwen-image")
    assert (script, trainer) == ("qwen_image_train_network.py", "musubi")
    assert "MODEL_TRAINER_MISMATCH" not in codes


def test_the_keys_of_a_loose_config_pick_script_and_trainer(tmp_path: Path) -> None:
    assert _judged(tmp_path, 'dit = "/x/wan2.1_t2v_14B_bf16.safetensors"\n')[:2] == ("wan_train_network.py", "musubi")
    assert _judged(tmp_path, 'pretrained_model_name_or_path = "/x/sdxl_base.safetensors"\n')[:2] == (
        "sdxl_train_network.py", "sdscripts")
