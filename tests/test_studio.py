from pathlib import Path

from loragate.studio import read_studio


def test_template_placeholders_are_ignored(workspace: Path) -> None:
    template = Path(__file__).resolve().parents[1] / "grimoire" / "studio.md"
    (workspace / "grimoire").mkdir()
    (workspace / "grimoire" / "studio.md").write_text(template.read_text())
    studio = read_studio()
    assert studio.gpu_gb is None and studio.musubi_tuner_dir is None
    assert studio.platform == "local"


def test_filled_studio_is_read(workspace: Path) -> None:
    (workspace / "grimoire").mkdir()
    (workspace / "grimoire" / "studio.md").write_text(
        "# Studio\n## Machine\ngpu: RTX 4090\ngpu_gb: 24 GB\n- **musubi_tuner_dir**: `/workspace/musubi-tuner`\n"
    )
    studio = read_studio()
    assert studio.gpu == "RTX 4090"
    assert studio.gpu_gb == 24.0
    assert studio.musubi_tuner_dir == "/workspace/musubi-tuner"


def test_missing_studio_is_empty(workspace: Path) -> None:
    assert read_studio().gpu_gb is None
