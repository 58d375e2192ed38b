"""Finding the trainer and judging its Python environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.environment.probe import run_probe
from loragate.environment.trainer import find_trainer_python, locate_trainer, read_git_commit, trainer_facts
from loragate.environment.trainer_check import build_section, probe_request, trainer_findings
from loragate.core.plan import DatasetSpec, NetworkSpec, OptimizerSpec, MemorySpec, TrainingPlan
from tests.envkit import fake_trainer_python, fake_venv, make_checkout

STAND_IN = Path(__file__).parent / "fakes" / "musubi-tuner"
COMMIT = "30c658c4f4b0bf05038b3346eff9670259b10fc7"


@pytest.fixture
def no_usual_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LORAGATE_TRAINER_PYTHON", raising=False)
    return home


def test_located_by_environment_variable(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = STAND_IN if (STAND_IN / "src/musubi_tuner/wan_train_network.py").is_file() else make_checkout(tmp_path)
    monkeypatch.setenv("MUSUBI_TUNER_DIR", str(checkout))
    location = locate_trainer("musubi")
    assert location.path == str(checkout.resolve()) and location.source == "$MUSUBI_TUNER_DIR"


@pytest.mark.parametrize(("backend", "variable", "folder"), [("musubi", "MUSUBI_TUNER_DIR", "musubi-tuner"), ("sdscripts", "SD_SCRIPTS_DIR", "sd-scripts")])
def test_the_trainer_stand_ins_are_recognised_as_checkouts(backend: str, variable: str, folder: str, workspace: Path,
                                                           monkeypatch: pytest.MonkeyPatch, no_usual_places: Path) -> None:
    """The run tests point Gate 3 at tests/fakes/; it must take them for real checkouts."""
    stand_in = STAND_IN.parent / folder
    monkeypatch.setenv(variable, str(stand_in))
    location = locate_trainer(backend)
    assert location.path == str(stand_in.resolve()) and location.source == f"${variable}", location.looked_in


def test_located_by_studio_md(workspace: Path, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "trainers", "sdscripts")
    (workspace / "grimoire").mkdir()
    (workspace / "grimoire" / "studio.md").write_text(f"# Studio\n## Trainers\nsd_scripts_dir: `{checkout}`\n")
    location = locate_trainer("sdscripts")
    assert location.path == str(checkout.resolve()) and location.source == "grimoire/studio.md"


def test_located_in_a_usual_place_under_home(workspace: Path, no_usual_places: Path) -> None:
    checkout = make_checkout(no_usual_places)
    location = locate_trainer("musubi")
    assert location.path == str(checkout.resolve()) and location.source == "usual place"


def test_a_folder_that_is_not_the_trainer_is_named_with_what_it_lacks(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    (tmp_path / "not-it").mkdir()
    monkeypatch.setenv("SD_SCRIPTS_DIR", str(tmp_path / "not-it"))
    location = locate_trainer("sdscripts")
    assert location.path is None
    assert any("not-it" in where and "train_network.py" in where for where in location.looked_in)


def test_the_plans_folder_wins_and_a_wrong_one_is_not_replaced(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    good = make_checkout(tmp_path / "a")
    monkeypatch.setenv("MUSUBI_TUNER_DIR", str(good))
    assert locate_trainer("musubi", plan_dir=str(good)).source == "plan"
    wrong = locate_trainer("musubi", plan_dir=str(tmp_path / "moved"))
    assert wrong.path is None and "plan" in wrong.looked_in[0]


def test_git_commit_from_loose_ref_packed_refs_and_detached_head(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path, commit=COMMIT)
    assert read_git_commit(checkout) == (COMMIT, "main")
    (checkout / ".git" / "refs" / "heads" / "main").unlink()
    (checkout / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted\n{'a' * 40} refs/heads/main\n")
    assert read_git_commit(checkout) == ("a" * 40, "main")
    (checkout / ".git" / "HEAD").write_text("b" * 40 + "\n")
    assert read_git_commit(checkout) == ("b" * 40, None)
    assert read_git_commit(tmp_path / "nowhere") == (None, None)


def test_trainer_python_from_the_checkouts_venv_unless_configured(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path)
    venv_python = fake_venv(checkout)
    assert find_trainer_python(str(checkout)) == (str(venv_python), "venv/ in the checkout")
    assert find_trainer_python(str(checkout), plan_python="/opt/py/bin/python") == ("/opt/py/bin/python", "plan")
    monkeypatch.setenv("LORAGATE_TRAINER_PYTHON", "/custom/python")
    assert find_trainer_python(str(checkout))[0] == "/custom/python"


def _judge(checkout: Path, plan: TrainingPlan | None = None) -> list[tuple[str, str]]:
    facts = trainer_facts("musubi")
    location = locate_trainer("musubi", plan_dir=str(checkout))
    python, source = find_trainer_python(str(checkout))
    probe = run_probe(python, probe_request(facts, str(checkout), plan))
    section = build_section(facts, location, python, source, probe, plan)
    findings = trainer_findings(section, facts, probe, plan)
    return [(f.code, f.severity, f.message + " " + f.fix) for f in findings]  # type: ignore[misc]


def test_a_complete_environment_has_no_trainer_findings(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path)
    fake_trainer_python(monkeypatch, checkout / "src", python=fake_venv(tmp_path))
    found = _judge(checkout)
    assert [c for c, s, _ in found if s != "info"] == []


def test_missing_wrong_and_uninstalled_packages(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path, dependencies=["accelerate==1.5.0", "transformers==4.57.6", "voluptuous==0.15.2"])
    fake_trainer_python(monkeypatch, python=fake_venv(tmp_path))  # musubi_tuner not installed from the checkout
    found = {code: (severity, text) for code, severity, text in _judge(checkout)}
    assert found["ENV_DEP_MISSING"][0] == "block" and "voluptuous" in found["ENV_DEP_MISSING"][1]
    assert f"cd {checkout} && " in found["ENV_DEP_MISSING"][1] and "-m pip install -e ." in found["ENV_DEP_MISSING"][1]
    assert found["ENV_DEP_VERSION"][0] == "warn" and "accelerate==1.5.0" in found["ENV_DEP_VERSION"][1]
    assert found["ENV_TRAINER_NOT_INSTALLED"][0] == "block"


def test_plan_settings_add_packages_and_a_missing_launcher_blocks(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path)
    python = fake_venv(tmp_path / "bare", launcher=False)  # no accelerate beside it
    fake_trainer_python(monkeypatch, checkout / "src", python=python)
    plan = TrainingPlan(
        name="p", model="wan2.1-t2v-1.3b", backend="musubi", trigger="t", output_dir=str(tmp_path / "out"), output_name="p",
        dataset=DatasetSpec(path=str(tmp_path)), network=NetworkSpec(module="networks.lora_wan"),
        optimizer=OptimizerSpec(type="AdamW8bit"), memory=MemorySpec(attention="xformers"), trainer_python=str(python),
    )
    found = {code: text for code, _, text in _judge(checkout, plan)}
    assert "xformers" in found["ENV_DEP_MISSING"] and "bitsandbytes" not in found["ENV_DEP_MISSING"]
    assert str(python.parent / "accelerate") in found["ENV_ACCELERATE_MISSING"]


def test_multi_gpu_accelerate_config_warns(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path)
    fake_trainer_python(monkeypatch, checkout / "src", python=fake_venv(tmp_path))
    config = tmp_path / "hf" / "accelerate" / "default_config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("distributed_type: MULTI_GPU\nnum_processes: 4\nuse_cpu: true\n")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    found = {code: severity for code, severity, _ in _judge(checkout)}
    assert found["ENV_ACCELERATE_MULTI_GPU"] == "warn" and found["ENV_ACCELERATE_CPU"] == "block"


def test_a_lycoris_plan_needs_lycoris_in_the_trainers_python(workspace: Path, monkeypatch: pytest.MonkeyPatch, no_usual_places: Path, tmp_path: Path) -> None:
    # sd-scripts imports --network_module by name; LyCORIS (pip lycoris-lora) is not in its requirements
    checkout = make_checkout(tmp_path)
    python = fake_venv(tmp_path)
    plan = TrainingPlan(
        name="p", model="sdxl", backend="sdscripts", trigger="t", output_dir=str(tmp_path / "out"), output_name="p",
        dataset=DatasetSpec(path=str(tmp_path)), network=NetworkSpec(module="lycoris.kohya", args=["algo=loha"]),
        optimizer=OptimizerSpec(type="AdamW"), trainer_python=str(python),
    )
    fake_trainer_python(monkeypatch, checkout / "src", python=python)
    found = {code: text for code, _, text in _judge(checkout, plan)}
    assert "lycoris-lora" in found["ENV_DEP_MISSING"] and "pip install lycoris-lora" in found["ENV_DEP_MISSING"]
    site = tmp_path / "lyco-site"
    (site / "lycoris").mkdir(parents=True)
    (site / "lycoris" / "__init__.py").write_text("")
    (site / "lycoris" / "kohya.py").write_text("")
    (site / "lycoris_lora-3.2.0.dist-info").mkdir()
    (site / "lycoris_lora-3.2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: lycoris-lora\nVersion: 3.2.0\n")
    fake_trainer_python(monkeypatch, checkout / "src", site, python=python)
    assert "ENV_DEP_MISSING" not in {code for code, _, _ in _judge(checkout, plan)}
