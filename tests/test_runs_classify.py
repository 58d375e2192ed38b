"""Each failure class a trainer step can end in, classified from real message texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.runs.classify import classify_failure

TRAIN = ["accelerate", "launch", "wan_train_network.py", "--task", "t2v-A14B", "--dit", "/models/wan22_low.safetensors",
         "--dataset_config", "/p/ds.toml", "--sdpa"]
CACHE_TE = ["python", "wan_cache_text_encoder_outputs.py", "--dataset_config", "/p/ds.toml", "--t5", "/models/umt5.safetensors"]
OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 90.00 MiB. GPU 0 has a total capacity of "
       "23.64 GiB of which 41.75 MiB is free.")


def test_success_is_not_a_failure() -> None:
    log = "running training / 学習開始\nsteps: 100%|██████████| 5/5 [00:05<00:00,  1.00s/it, avr_loss=0.0891]\nmodel saved.\n"
    assert classify_failure("train", 0, log, TRAIN, steps_completed=5) is None
    assert classify_failure("cache_latents", 0, "done", CACHE_TE) is None


def test_oom_at_training_step_vs_caching_vs_model_load() -> None:
    during_steps = f"running training / 学習開始\nepoch 1/10\nsteps:  20%|██ | 1/5 [00:01<00:04, 1.0s/it, avr_loss=0.1]\n{OOM}\n"
    f = classify_failure("train", 1, during_steps, TRAIN, steps_completed=1, prefix="RUN")
    assert f and f.code == "RUN_CUDA_OOM" and f.where == "running a training step"
    assert f.message == "The GPU ran out of memory while running a training step."
    f = classify_failure("cache_text_encoder", 1, OOM, CACHE_TE)
    assert f and f.code == "DRY_CUDA_OOM" and f.where == "caching the text-encoder outputs" and "--fp8_t5" in f.fix
    f = classify_failure("train", 1, "INFO:musubi_tuner.wan.modules.model:Creating WanModel\n" + OOM, TRAIN)
    assert f and f.where == "loading the model"
    # sd-scripts caches latents inside its training script
    f = classify_failure("train", 1, "caching latents.\n" + OOM, ["train_network.py"])
    assert f and f.where == "caching latents"
    # ... and its fix names sd-scripts' own option, not musubi's --vae_cache_cpu
    assert "--vae_batch_size" in f.fix and "--vae_cache_cpu" not in f.fix
    f = classify_failure("cache_latents", 1, OOM, ["src/musubi_tuner/wan_cache_latents.py"])
    assert f and "--vae_cache_cpu" in f.fix


@pytest.mark.parametrize(("stage", "log", "steps"), [
    ("train", "running training / 学習開始\nsteps:  20%|██ | 1/5\n", 1),
    ("train", "INFO:musubi_tuner.wan.modules.model:Creating WanModel\n", 0),
    ("train", "caching latents.\n", 0),
    ("cache_latents", "", 0),
    ("cache_text_encoder", "", 0),
])
def test_every_oom_message_is_a_plain_sentence(stage: str, log: str, steps: int) -> None:
    f = classify_failure(stage, 1, log + OOM, TRAIN if stage == "train" else CACHE_TE, steps_completed=steps)
    assert f and f.kind == "cuda_oom"
    # "while <doing something>": the phrase starts with a verb in -ing, whatever the moment
    assert f.where.split()[0].endswith("ing"), f.where
    assert f.message == f"The GPU ran out of memory while {f.where}."


def test_host_oom_killed() -> None:
    f = classify_failure("train", -9, "steps:  40%|████ | 2/5\n", TRAIN, steps_completed=2)
    assert f and f.kind == "host_oom" and "RAM" in f.message
    f = classify_failure("train", 1, "subprocess.CalledProcessError: Command '['python', 'x.py']' died with <Signals.SIGKILL: 9>.", TRAIN)
    assert f and f.kind == "host_oom"
    assert classify_failure("train", 137, "Killed\n", TRAIN).kind == "host_oom"


def test_weights_missing_names_the_flag(tmp_path: Path) -> None:
    vae = tmp_path / "exists_vae.safetensors"
    vae.write_bytes(b"x")
    argv = ["python", "wan_cache_latents.py", "--dataset_config", "ds.toml", "--vae", str(vae), "--clip", "/nope/clip.pth"]
    log = "Traceback (most recent call last):\nFileNotFoundError: [Errno 2] No such file or directory: '/nope/clip.pth'\n"
    f = classify_failure("cache_latents", 1, log, argv)
    assert f and f.code == "DRY_WEIGHTS_MISSING" and f.flag == "--clip" and "/nope/clip.pth" in f.message
    f = classify_failure("train", 1, "ValueError: path to DiT model is required", ["wan_train_network.py"])
    assert f and f.flag == "--dit"
    f = classify_failure("cache_text_encoder", 2, "usage: x\nwan_cache_text_encoder_outputs.py: error: the following arguments are required: --t5", [])
    assert f and f.kind == "weights_missing" and f.flag == "--t5"


def test_weights_corrupt_and_wrong_keys() -> None:
    log = "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge"
    f = classify_failure("train", 1, log, TRAIN)
    assert f and f.kind == "weights_corrupt" and f.flag == "--dit" and "download" in f.fix.lower()
    log = 'RuntimeError: Error(s) in loading state_dict for WanModel:\n\tMissing key(s) in state_dict: "blocks.0.cross_attn.k_img.weight"'
    f = classify_failure("train", 1, log, TRAIN)
    assert f and f.kind == "weights_wrong_keys" and f.flag == "--dit"
    sd = ["sdxl_train_network.py", "--pretrained_model_name_or_path", "/m/pony.safetensors"]
    f = classify_failure("train", 1, "size mismatch for patch_embedding.weight", sd)
    assert f and f.flag == "--pretrained_model_name_or_path"


def test_caption_encoding() -> None:
    log = "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    f = classify_failure("cache_text_encoder", 1, log, CACHE_TE)
    assert f and f.code == "DRY_CAPTION_ENCODING" and "UTF-8" in f.message
    f = classify_failure("train", 1, "illegal char in file (not UTF-8) / ファイルにUTF-8以外の文字があります: a.txt", ["train_network.py"])
    assert f and f.kind == "caption_encoding"


def test_zero_samples_including_exit_zero() -> None:
    musubi = "ValueError: No training items found in the dataset. Please ensure that the latent/Text Encoder cache has been created beforehand."
    f = classify_failure("train", 1, musubi, TRAIN)
    assert f and f.kind == "no_samples" and "cach" in f.fix
    sd = ("mean ar error (without repeats): nan\nERROR No data found. Please verify arguments (train_data_dir must be the "
          "parent of folders with images) / 画像がありません。")
    f = classify_failure("train", 0, sd, ["train_network.py"])  # sd-scripts exits 0 here
    assert f and f.code == "DRY_NO_SAMPLES"
    f = classify_failure("train", 0, "running training\nmodel saved.\n", TRAIN, steps_completed=0)
    assert f and f.kind == "nothing_trained"


@pytest.mark.parametrize(
    "text",
    [
        "RuntimeError: CUDA driver version is insufficient for CUDA runtime version",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
    ],
)
def test_driver_mismatch(text: str) -> None:
    f = classify_failure("train", 1, text, TRAIN)
    assert f and f.kind == "driver_mismatch" and "loragate env" in f.fix


def test_missing_module_names_the_package() -> None:
    f = classify_failure("train", 1, "ModuleNotFoundError: No module named 'cv2'", TRAIN, trainer_python="/ws/musubi/venv/bin/python")
    assert f and f.kind == "missing_module" and "opencv-python" in f.fix and "/ws/musubi/venv/bin/python -m pip install" in f.fix
    f = classify_failure("train", 1, "ModuleNotFoundError: No module named 'bitsandbytes'", TRAIN)
    assert f and "pip install bitsandbytes" in f.fix


def test_unrecognized_arguments() -> None:
    log = "usage: sdxl_train_network.py [-h]\nsdxl_train_network.py: error: unrecognized arguments: --text_encoder_lr1 1e-5"
    f = classify_failure("train", 2, log, ["sdxl_train_network.py"], prefix="RUN")
    assert f and f.code == "RUN_BAD_FLAG" and f.flag == "--text_encoder_lr1"
    f = classify_failure("train", 2, "error: argument --timestep_boundary: invalid int value: '0.875'", TRAIN)
    assert f and f.flag == "--timestep_boundary" and "875" in f.fix


def test_unknown_traceback_reports_its_last_line() -> None:
    log = "Traceback (most recent call last):\n  File x\nAssertionError: fp8_scaled requires fp8_base\n" \
          "subprocess.CalledProcessError: Command '[...]' returned non-zero exit status 1."
    f = classify_failure("train", 1, log, TRAIN)
    assert f and f.kind == "trainer_error" and "fp8_scaled requires fp8_base" in f.message
    f = classify_failure("train", None, "loading...", TRAIN, timed_out=True)
    assert f and f.kind == "timeout"
