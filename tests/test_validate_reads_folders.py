"""The validator judges what the trainer will do with the files its command and TOMLs point at."""

from __future__ import annotations

from pathlib import Path

from loragate.validate import validate_files
from tests.media import write_caption, write_image
from tests.validate_helpers import codes

SDS = ("accelerate launch sdxl_train_network.py --pretrained_model_name_or_path sd_xl_base_1.0.safetensors "
       "--train_data_dir {data} --resolution 1024 --output_dir out --output_name mira --save_model_as safetensors "
       "--network_module networks.lora --network_dim 16 --network_alpha 16 --learning_rate 1e-4 "
       "--mixed_precision bf16 {extra}\n")


def _dreambooth(root: Path, ext: str, count: int = 4, captioned: int | None = None) -> Path:
    folder = root / "train" / "10_mira"
    for k in range(count):
        write_image(folder / f"mira_{k:02d}.png", 64, 64, seed=k)
        if captioned is None or k < captioned:
            write_caption(folder / f"mira_{k:02d}{ext}", "mira, a woman in a red coat")
    return root / "train"


def _script(root: Path, extra: str) -> Path:
    path = root / "train.sh"
    path.write_text(SDS.format(data="train", extra=extra))
    return path


def test_txt_captions_with_the_default_extension_block_and_name_the_files(tmp_path: Path) -> None:
    _dreambooth(tmp_path, ".txt")
    report = validate_files([_script(tmp_path, "--max_train_steps 2000 --sdpa")], check_paths=False)
    assert report.verdict == "NO-GO"
    hit = next(f for f in report.findings if f.code == "SDS_CAPTION_EXTENSION")
    assert hit.severity == "block"
    assert ".caption" in hit.message and "mira_00.txt" in hit.message and "10_mira" in hit.message
    assert "\"mira\"" in hit.message  # what it trains on instead: the folder's words
    assert hit.fix == "Add --caption_extension .txt to the command."
    fixed = validate_files([_script(tmp_path, "--caption_extension .txt --max_train_steps 2000 --sdpa")],
                           check_paths=False)
    assert "SDS_CAPTION_EXTENSION" not in codes(fixed)
    assert fixed.verdict == "GO", [f.message for f in fixed.findings if f.severity == "block"]


def test_pictures_without_a_caption_are_named(tmp_path: Path) -> None:
    _dreambooth(tmp_path, ".txt", count=5, captioned=3)
    report = validate_files([_script(tmp_path, "--caption_extension txt --max_train_steps 2000 --sdpa")],
                            check_paths=False)
    hit = next(f for f in report.findings if f.code == "SDS_CAPTION_EXTENSION")
    assert hit.severity == "warn" and "2 of 5" in hit.message
    assert "mira_03.png, mira_04.png" in hit.message


def test_a_hundred_thousand_steps_warns_with_the_count_per_picture(tmp_path: Path) -> None:
    _dreambooth(tmp_path, ".txt")
    report = validate_files([_script(tmp_path, "--caption_extension .txt --max_train_steps 100000 --sdpa")],
                            check_paths=False)
    hit = next(f for f in report.findings if f.code == "SCHED_TOO_LONG")
    assert "100,000 steps" in hit.message and "4 pictures" in hit.message and "25,000 times" in hit.message
    # epochs turn into steps through the folders: 4 pictures x 10 repeats = 40 steps an epoch
    long = validate_files([_script(tmp_path, "--caption_extension .txt --max_train_epochs 1000 --sdpa")],
                          check_paths=False)
    assert "40,000 steps" in next(f for f in long.findings if f.code == "SCHED_TOO_LONG").message
    fine = validate_files([_script(tmp_path, "--caption_extension .txt --max_train_epochs 20 --sdpa")],
                          check_paths=False)
    assert "SCHED_TOO_LONG" not in codes(fine)


def test_two_attention_switches_say_which_one_the_trainer_uses(tmp_path: Path) -> None:
    _dreambooth(tmp_path, ".txt")
    report = validate_files([_script(tmp_path, "--caption_extension .txt --max_train_steps 2000 --xformers --sdpa")],
                            check_paths=False)
    hit = next(f for f in report.findings if f.code == "ATTENTION_TWO_KINDS")
    assert "takes --xformers and ignores --sdpa" in hit.message  # sd-scripts tests xformers first
    wan = tmp_path / "wan.sh"
    wan.write_text("accelerate launch wan_train_network.py --task t2v-14B --dit wan2.1_t2v_14B_bf16.safetensors "
                   "--dataset_config ds.toml --xformers --sdpa --mixed_precision bf16 --network_module networks.lora_wan "
                   "--output_dir out --output_name w --max_train_epochs 4\n")
    hit = next(f for f in validate_files([wan], check_paths=False).findings if f.code == "ATTENTION_TWO_KINDS")
    assert "takes --sdpa and ignores --xformers" in hit.message  # musubi tests sdpa first


def test_clip_captions_in_a_musubi_toml_are_checked_too(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for k in range(2):
        (clips / f"walk_{k}.mp4").write_bytes(b"\0" * 16)
        write_caption(clips / f"walk_{k}.caption", "mira walking")
    toml = tmp_path / "ds.toml"
    toml.write_text('[general]\nresolution = [480, 320]\ncaption_extension = ".txt"\nbatch_size = 1\n\n'
                    '[[datasets]]\nvideo_directory = "clips"\ncache_directory = "cache"\ntarget_frames = [1, 25]\n')
    hit = next(f for f in validate_files([toml], check_paths=False).findings if f.code == "TOML_CAPTION_EXTENSION")
    assert hit.severity == "block" and "walk_0.caption" in hit.message and "all 2 clips" in hit.message
