"""The validator on files as artists have them: published examples, shell dialects, TOMLs, folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.validate import validate_files
from loragate.validate.parse_shell import parse_script_text
from tests.media import write_caption, write_image, write_safetensors_header
from tests.validate_helpers import WAN_DS, blocking, codes

FIX = Path(__file__).parent / "fixtures" / "validate"


@pytest.mark.parametrize("files", [
    ["wan21_doc.sh"], ["wan22_t2v_experts.sh", "ds.toml"], ["sdxl_corrected.sh"], ["flux_doc.sh"],
    ["flux_old_readme.txt"], ["sds_config.toml"], ["sd15_dreambooth.toml"], ["sdxl_validation.toml"], ["ds.toml"],
    ["wan_cache_t2v.sh"], ["wan21_cache_i2v_clip.sh"], ["wan_cache_te_comment.sh"], ["wan22_dual.sh", "ds.toml"],
    ["wan22_i2v_experts.sh", "ds.toml"], ["sd15_doc.sh"],
])
def test_published_examples_have_no_blocking_finding(files: list[str]) -> None:
    report = validate_files([FIX / f for f in files], check_paths=False)
    assert report.verdict == "GO", blocking(report)


def test_wan22_experts_script_is_read_as_four_commands() -> None:
    report = validate_files([FIX / "wan22_t2v_experts.sh", FIX / "ds.toml"], check_paths=False)
    assert [i.stage for i in report.invocations] == ["cache_latents", "cache_text_encoder", "train", "train"]
    assert [i.expert for i in report.invocations[2:]] == ["low", "high"]
    assert report.model == "wan2.2-t2v-a14b" and report.model_source == "inferred"


def test_broken_sdxl_doc_example_is_caught() -> None:
    report = validate_files([FIX / "sdxl_doc_broken.txt"], check_paths=False)
    assert report.verdict == "NO-GO"
    unknown = {f.evidence["flag"]: f for f in report.findings if f.code == "FLAG_UNKNOWN"}
    assert set(unknown) == {"--text_encoder_lr1", "--text_encoder_lr2"}
    assert "--text_encoder_lr" in unknown["--text_encoder_lr1"].fix
    assert unknown["--text_encoder_lr1"].evidence["line"] == 6
    assert "SDS_TE_CACHE_UNET_ONLY" in codes(report)
    assert "SHELL_MISSING_CONTINUATION" in codes(report)  # the doc prints it without '\'


def test_published_examples_are_read_whole() -> None:
    """The per-expert I2V script: four commands, the --i2v cache satisfies both experts, 900 boundaries."""
    report = validate_files([FIX / "wan22_i2v_experts.sh", FIX / "ds.toml"], check_paths=False)
    assert [i.stage for i in report.invocations] == ["cache_latents", "cache_text_encoder", "train", "train"]
    assert [i.expert for i in report.invocations[2:]] == ["low", "high"] and report.model == "wan2.2-i2v-a14b"
    # the comment after the TE-cache command is not read as flags
    [te] = validate_files([FIX / "wan_cache_te_comment.sh"], check_paths=False).invocations
    assert te.stage == "cache_text_encoder" and te.flags == 3
    dual = validate_files([FIX / "wan22_dual.sh", FIX / "ds.toml"], check_paths=False)
    assert dual.invocations[0].expert == "both" and "WAN_DUAL_ONE_LORA" in codes(dual)


def test_doc_dataset_toml_with_top_level_keys_is_caught() -> None:
    report = validate_files([FIX / "sds_doc_toplevel_broken.toml"], check_paths=False)
    top = {f.evidence.get("key") or f.message.split()[0]: f for f in report.findings if f.code == "TOML_UNKNOWN_KEY"}
    assert {"validation_seed", "enable_bucket", "resolution"} <= set(top)
    assert all("[general]" in f.fix for f in top.values())


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_TRAIN = ("--task i2v-14B --dit {dit} --dataset_config ds.toml --sdpa --mixed_precision fp16 "
             "--network_module networks.lora_wan --network_dim 16 --network_alpha 16 --learning_rate 2e-4 "
             "--timestep_sampling shift --min_timestep 0 --max_timestep 900 --preserve_distribution_shape "
             "--max_train_epochs 10 --output_dir out --output_name x")
DIT = "C:\\models\\wan2.2_i2v_low_noise_14B_fp16.safetensors"


@pytest.mark.parametrize("name,text", [
    ("train.sh", "accelerate launch --mixed_precision fp16 wan_train_network.py \\\n  " + BAD_TRAIN.replace(" --sdpa", " \\\n  --sdpa")),
    ("train.bat", "@echo off\nREM Windows\nset DIT={dit}\naccelerate launch --mixed_precision fp16 wan_train_network.py ^\n  "
     + BAD_TRAIN.replace("{dit}", "%DIT%").replace(" --sdpa", " ^\n  --sdpa")),
    ("train.ps1", "$env:DIT = \"{dit}\"\naccelerate launch --mixed_precision fp16 wan_train_network.py `\n  "
     + BAD_TRAIN.replace("{dit}", "$env:DIT").replace(" --sdpa", " `\n  --sdpa")),
])
def test_continuations_of_each_shell_are_read(tmp_path: Path, name: str, text: str) -> None:
    path = _write(tmp_path, name, text.replace("{dit}", DIT.replace("\\", "\\\\") if name == "train.sh" else DIT))
    report = validate_files([path], check_paths=False)
    task = [f for f in report.findings if f.code == "WAN_TASK_WEIGHTS"]
    assert task and "i2v-A14B" in task[0].fix
    assert report.invocations[0].flags >= 15
    assert "FLAG_UNKNOWN" not in codes(report) and "FLAG_STRAY_VALUE" not in codes(report)


def test_flag_equals_value_env_prefix_background_and_chaining() -> None:
    text = ("CUDA_VISIBLE_DEVICES=0 nohup accelerate launch --num_cpu_threads_per_process=1 --mixed_precision bf16 "
            "train_network.py --network_dim=32 --learning_rate \"1e-4\" > log.txt 2>&1 &\n"
            "cd /x && python3 -m musubi_tuner.wan_cache_latents --dataset_config='d s.toml' --vae v.safetensors; echo ok")
    parsed = parse_script_text(text, "run.sh")
    first, second = parsed.invocations
    assert first.script == "train_network.py" and first.env == {"CUDA_VISIBLE_DEVICES": "0"}
    assert first.launcher_args["--mixed_precision"] == ["bf16"] and "--mixed_precision" not in first.args
    assert first.args["--network_dim"] == ["32"] and first.args["--learning_rate"] == ["1e-4"]
    assert not first.stray  # `2>&1` and `> log.txt` are redirections, not arguments
    assert second.script == "wan_cache_latents.py" and second.args["--dataset_config"] == ["d s.toml"]
    assert second.source == "run.sh:2"


def test_config_file_toml_is_merged_and_its_typos_block(tmp_path: Path) -> None:
    _write(tmp_path, "cfg.toml", "[training]\nlearning_rate = \"1e-4\"\nmax_train_epochs = 10\n"
                                 "[network]\nnetwork_dimm = 16\nnetwork_module = \"networks.lora\"\n")
    script = _write(tmp_path, "train.sh", "accelerate launch train_network.py --config_file cfg "
                    "--pretrained_model_name_or_path m.safetensors --train_data_dir data --output_dir o "
                    "--output_name n --mixed_precision fp16 --max_train_epochs 4\n")
    report = validate_files([script], check_paths=False)
    found = {f.code: f for f in report.findings}
    assert found["TOML_QUOTED_NUMBER"].evidence["line"] == 2
    assert "silently" in found["FLAG_UNKNOWN"].message and found["FLAG_UNKNOWN"].evidence["suggestion"] == "--network_dim"
    assert "SCHED_DEFAULT_STEPS" not in found  # epochs from the TOML (and the command line wins)
    _write(tmp_path, "cfg.toml", "[training]\nlearning_rate = 1e-4\nnetwork_dim = 16\nnetwork_module = \"networks.lora\"\n")
    fixed = validate_files([script], check_paths=False)
    assert not {"TOML_QUOTED_NUMBER", "FLAG_UNKNOWN"} & codes(fixed)


def test_missing_paths_warn_only_when_checking_this_machine(tmp_path: Path) -> None:
    script = _write(tmp_path, "c.sh", "python wan_cache_latents.py --dataset_config ds.toml --vae /nowhere/vae.safetensors\n")
    _write(tmp_path, "ds.toml", WAN_DS)
    report = validate_files([script], check_paths=True)
    missing = [f for f in report.findings if f.code == "PATH_MISSING"]
    assert {f.evidence["value"] for f in missing} >= {"/nowhere/vae.safetensors", "/data/videos"}
    assert all(f.severity == "warn" for f in missing) and report.verdict == "GO"
    assert "PATH_MISSING" not in codes(validate_files([script], check_paths=False))
    (tmp_path / "vae.safetensors").write_bytes(b"x")
    (tmp_path / "videos").mkdir()
    script.write_text("python wan_cache_latents.py --dataset_config ds.toml --vae vae.safetensors\n")
    (tmp_path / "ds.toml").write_text(WAN_DS.replace("/data/videos", "videos"))
    assert "PATH_MISSING" not in codes(validate_files([script], check_paths=True))


def test_network_weights_rank_and_alpha_are_read_from_the_lora(tmp_path: Path) -> None:
    write_safetensors_header(tmp_path / "prev.safetensors", {"w": ("F16", [4])},
                             {"ss_network_dim": "16", "ss_network_alpha": "16", "ss_learning_rate": "0.0002"})
    base = ("accelerate launch wan_train_network.py --task t2v-1.3B --dit wan2.1_t2v_1.3B_bf16.safetensors "
            "--dataset_config ds.toml --sdpa --mixed_precision bf16 --network_module networks.lora_wan "
            "--learning_rate 2e-4 --timestep_sampling shift --max_train_epochs 4 --output_dir o --output_name n "
            "--network_weights prev.safetensors ")
    script = _write(tmp_path, "t.sh", base + "--network_dim 32 --network_alpha 32\n")
    found = {f.code: f for f in validate_files([script], check_paths=False).findings}
    assert "rank 16" in found["RESUME_RANK_MISMATCH"].message
    script.write_text(base + "--network_dim 16 --network_alpha 8\n")
    found = {f.code: f for f in validate_files([script], check_paths=False).findings}
    assert "RESUME_RANK_MISMATCH" not in found
    assert found["LR_ALPHA_SCALE"].evidence["equivalent_lr"] == pytest.approx(4e-4)
    script.write_text(base + "--network_dim 16 --network_alpha 16\n")
    assert not {"RESUME_RANK_MISMATCH", "LR_ALPHA_SCALE"} & codes(validate_files([script], check_paths=False))


def test_rank_mismatch_never_advises_dim_from_weights_to_musubi(tmp_path: Path) -> None:
    # musubi-tuner 30c658c training/trainer_base.py:1566-1568: the switch's True is loaded as a file
    write_safetensors_header(tmp_path / "prev.safetensors", {"w": ("F16", [4])}, {"ss_network_dim": "16", "ss_network_alpha": "1"})
    common = ("--dataset_config ds.toml --sdpa --mixed_precision bf16 --learning_rate 1e-4 --max_train_epochs 4 "
              "--output_dir o --output_name n --network_weights prev.safetensors --network_dim 32 --network_alpha 1")
    wan = _write(tmp_path, "wan.sh", "accelerate launch wan_train_network.py --task t2v-1.3B --dit wan2.1_t2v_1.3B_bf16.safetensors "
                 f"--network_module networks.lora_wan --timestep_sampling shift {common}\n")
    found = {f.code: f for f in validate_files([wan], check_paths=False).findings}
    assert "Use --network_dim 16." == found["RESUME_RANK_MISMATCH"].fix
    wan.write_text(wan.read_text().replace("--network_dim 32", "--network_dim 32 --dim_from_weights"))
    found = {f.code: f for f in validate_files([wan], check_paths=False).findings}
    assert "RESUME_RANK_MISMATCH" in found and found["MUSUBI_DIM_FROM_WEIGHTS"].severity == "block"
    sd = _write(tmp_path, "sd.sh", "accelerate launch sdxl_train_network.py --pretrained_model_name_or_path sdxl.safetensors "
                f"--network_module networks.lora {common}\n")
    assert "--dim_from_weights" in {f.code: f for f in validate_files([sd], check_paths=False).findings}["RESUME_RANK_MISMATCH"].fix
    sd.write_text(sd.read_text().replace("--network_dim 32", "--network_dim 32 --dim_from_weights"))
    assert "RESUME_RANK_MISMATCH" not in codes(validate_files([sd], check_paths=False))


def _sd_folder(tmp_path: Path, caption_ext: str, sizes: list[tuple[int, int]]) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for k, (w, h) in enumerate(sizes):
        write_image(folder / f"i{k}.png", w, h, seed=k)
        write_caption(folder / f"i{k}{caption_ext}", "a photo of mira", "utf-8")
    return folder


def _sd_toml(tmp_path: Path, extra_general: str = "", batch: int = 1) -> Path:
    return _write(tmp_path, "sd.toml", f"[general]\nenable_bucket = true\n{extra_general}\n[[datasets]]\n"
                  f"resolution = 512\nbatch_size = {batch}\n  [[datasets.subsets]]\n  image_dir = \"imgs\"\n")


def test_default_caption_extension_with_txt_captions_blocks(tmp_path: Path) -> None:
    _sd_folder(tmp_path, ".txt", [(64, 64)] * 2)
    found = {f.code: f for f in validate_files([_sd_toml(tmp_path)], check_paths=False).findings}
    assert found["TOML_CAPTION_EXTENSION"].severity == "block" and ".txt" in found["TOML_CAPTION_EXTENSION"].fix
    fixed = validate_files([_sd_toml(tmp_path, 'caption_extension = ".txt"')], check_paths=False)
    assert "TOML_CAPTION_EXTENSION" not in codes(fixed)


def test_batch_larger_than_a_bucket_warns(tmp_path: Path) -> None:
    _sd_folder(tmp_path, ".txt", [(64, 64)] * 4 + [(128, 32)])
    report = validate_files([_sd_toml(tmp_path, 'caption_extension = ".txt"', batch=2)], check_paths=False)
    hit = [f for f in report.findings if f.code == "TOML_BATCH_GT_BUCKET"]
    assert hit and hit[0].evidence["small_buckets"] == 1
    _sd_folder(tmp_path, ".txt", [(128, 32)])  # now two wide images
    (tmp_path / "imgs" / "i0.png").unlink()
    write_image(tmp_path / "imgs" / "i0.png", 128, 32, seed=9)
    report = validate_files([_sd_toml(tmp_path, 'caption_extension = ".txt"', batch=2)], check_paths=False)
    assert "TOML_BATCH_GT_BUCKET" not in codes(report)


def test_train_data_dir_must_be_the_parent_of_repeat_folders(tmp_path: Path) -> None:
    _sd_folder(tmp_path, ".caption", [(64, 64)])
    cmd = ("accelerate launch train_network.py --pretrained_model_name_or_path m.safetensors --train_data_dir {d} "
           "--resolution 512 --output_dir o --output_name n --network_module networks.lora --learning_rate 1e-4 "
           "--mixed_precision fp16 --max_train_epochs 4\n")
    script = _write(tmp_path, "t.sh", cmd.format(d="imgs"))
    assert "TOML_TRAIN_DATA_DIR" in codes(validate_files([script], check_paths=False))
    (tmp_path / "parent").mkdir()
    (tmp_path / "imgs").rename(tmp_path / "parent" / "10_mira")
    script.write_text(cmd.format(d="parent"))
    assert "TOML_TRAIN_DATA_DIR" not in codes(validate_files([script], check_paths=False))


def test_unclosed_quote_is_reported(tmp_path: Path) -> None:
    script = _write(tmp_path, "t.sh", "python wan_cache_latents.py --dataset_config \"ds.toml --vae v\n")
    assert "SHELL_PARSE_ERROR" in codes(validate_files([script], check_paths=False))


def test_a_missing_path_or_a_folder_says_which(tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="does not exist"):
        validate_files([str(tmp_path / "train.sh")])
    with pytest.raises(LoragateError, match="is a folder, not a file"):
        validate_files([str(tmp_path)])
