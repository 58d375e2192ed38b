"""Batch captioning against a local server that speaks the Anthropic Messages API.

The real `anthropic` SDK talks to it through its base_url, so these tests cover what goes over the
wire (the pictures as base64 JPEG, the approved examples, the artist's eye.md) and what comes back.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image
from typer.testing import CliRunner

from loragate.captions.batch import caption_dataset
from loragate.cli import app
from loragate.core.errors import LoragateError
from tests.anthropic_fake import FakeMessagesApi, serve
from tests.media import write_image, write_video


@pytest.fixture
def api() -> Iterator[FakeMessagesApi]:
    yield from serve()


@pytest.fixture
def dataset(workspace: Path) -> Path:
    root = workspace / "data" / "mira"
    write_image(root / "approved_0.png", 1400, 700, seed=100)
    write_image(root / "approved_1.png", 64, 64, seed=101)
    for i in range(5):
        write_image(root / f"img_{i}.png", 96, 96, seed=i)
    return root


@pytest.fixture
def examples(workspace: Path) -> Path:
    path = workspace / "grimoire" / "training" / "mira" / "APPROVED.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([
        {"image": "approved_0.png", "caption": "mira, a woman on a bridge at dusk", "content": ["woman", "bridge"], "style": ["dusk light"]},
        {"image": "approved_1.png", "caption": "mira, a woman holding an umbrella", "content": ["umbrella"], "style": ["flat colour"]},
    ]))
    (workspace / "grimoire" / "eye.md").write_text("# The artist's eye\n\nNever mention the watercolour texture; it is the style.\n")
    return path


def _key(request: dict) -> str:
    """The API key the SDK sent (this SDK version sends it as a bearer token)."""
    headers = request["headers"]
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def _images(message_content: list[dict]) -> list[bytes]:
    return [base64.b64decode(b["source"]["data"]) for b in message_content if b["type"] == "image"]


def test_batch_sends_pictures_examples_and_eye_then_writes_trigger_first(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = caption_dataset(dataset, "mira", examples, model="flux1-dev", client=api.client(),
                             progress=lambda done, total, msg: seen.append((done, total)))
    assert len(api.requests) == 5 and report.remaining == 0 and not report.failed
    request = api.requests[0]
    assert request["path"] == "/v1/messages" and _key(request) == "test-key"
    body = request["body"]
    assert "Never mention the watercolour texture" in body["system"] and "`mira`" in body["system"]
    turns = body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert "mira, a woman on a bridge at dusk" in turns[1]["content"][0]["text"]
    assert "umbrella" in turns[3]["content"][0]["text"]
    first_example = Image.open(io.BytesIO(_images(turns[0]["content"])[0]))
    assert first_example.format == "JPEG" and max(first_example.size) == 1024  # 1400 px downscaled
    asked = Image.open(io.BytesIO(_images(turns[4]["content"])[0]))
    assert asked.size == (96, 96)
    for i in range(5):
        assert (dataset / f"img_{i}.txt").read_text().startswith("mira, a woman in scene")
    assert (dataset / "approved_0.txt").read_text().strip() == "mira, a woman on a bridge at dusk"
    assert report.input_tokens == 5000 and report.output_tokens == 200
    assert seen[-1] == (5, 5)


def test_training_type_tells_what_the_trigger_carries(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    caption_dataset(dataset, "mira", examples, client=api.client(), training_type="style", limit=1)
    assert "This is a style LoRA" in api.requests[0]["body"]["system"]
    caption_dataset(dataset, "mira", examples, client=api.client(), training_type="character", limit=1)
    assert "This is a character LoRA" in api.requests[1]["body"]["system"] and "This is a style LoRA" not in api.requests[1]["body"]["system"]
    with pytest.raises(LoragateError, match="training type"):
        caption_dataset(dataset, "mira", examples, client=api.client(), training_type="landscape")


def test_interrupted_run_continues_and_retries_only_what_is_left(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    api.fail_after = 2
    first = caption_dataset(dataset, "mira", examples, client=api.client())
    assert len(first.captioned) == 2 and len(first.failed) == 3 and first.remaining == 3
    progress = json.loads(Path(first.progress_file).read_text())
    assert sorted(progress["failed"]) == sorted(f.image for f in first.failed)
    sent_first = {_images(r["body"]["messages"][-1]["content"])[0] for r in api.requests}

    api.fail_after = None
    api.requests.clear()
    second = caption_dataset(dataset, "mira", examples, client=api.client())
    assert len(api.requests) == 3 and len(second.captioned) == 3 and second.remaining == 0
    assert second.already_captioned == 4 and not second.failed
    assert json.loads(Path(second.progress_file).read_text())["failed"] == {}
    assert len(sent_first) == 5


def test_overwrite_run_resumes_from_its_progress_file(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    for i in range(5):
        (dataset / f"img_{i}.txt").write_text("mira, old words")
    caption_dataset(dataset, "mira", examples, client=api.client(), overwrite=True, limit=2)
    assert len(api.requests) == 2
    report = caption_dataset(dataset, "mira", examples, client=api.client(), overwrite=True)
    assert len(api.requests) == 5 and len(report.captioned) == 3
    assert all("old words" not in (dataset / f"img_{i}.txt").read_text() for i in range(5))
    assert len(list((dataset / ".caption-history").glob("img_*.txt.*.txt"))) == 5


def test_bad_picture_is_recorded_and_the_rest_go_on(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    (dataset / "img_2.png").write_bytes(b"not a png at all")
    report = caption_dataset(dataset, "mira", examples, client=api.client())
    assert [f.image for f in report.failed] == ["img_2.png"] and len(report.captioned) == 4
    assert not report.stopped_early


def test_clip_is_sent_as_its_middle_frame(api: FakeMessagesApi, workspace: Path, examples: Path) -> None:
    root = workspace / "data" / "mira"
    write_image(root / "approved_0.png", 64, 64)
    write_image(root / "approved_1.png", 64, 64, seed=1)
    write_video(root / "clip.mp4", frames=9, width=160, height=96)
    report = caption_dataset(root, "mira", examples, model="wan2.1-t2v-14b", client=api.client())
    assert len(report.captioned) == 1 and (root / "clip.txt").read_text().startswith("mira, ")
    frame = Image.open(io.BytesIO(_images(api.requests[0]["body"]["messages"][-1]["content"])[0]))
    assert frame.size == (160, 96)


def test_refused_key_stops_at_once_with_a_clear_error(api: FakeMessagesApi, dataset: Path, examples: Path) -> None:
    api.status = 401
    with pytest.raises(LoragateError, match="refused the key"):
        caption_dataset(dataset, "mira", examples, client=api.client())
    assert len(api.requests) == 1


def test_service_down_stops_after_repeated_failures(api: FakeMessagesApi, workspace: Path, examples: Path) -> None:
    root = workspace / "data" / "mira"
    write_image(root / "approved_0.png", 64, 64)
    write_image(root / "approved_1.png", 64, 64, seed=1)
    for i in range(8):
        write_image(root / f"x_{i}.png", 32, 32, seed=i)
    api.status = 503
    report = caption_dataset(root, "mira", examples, client=api.client())
    assert report.stopped_early and len(api.requests) == 5 and report.remaining == 8


def test_no_key_is_a_clear_message_and_exit_2(dataset: Path, examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(LoragateError) as caught:
        caption_dataset(dataset, "mira", examples)
    assert "ANTHROPIC_API_KEY" in str(caught.value) and "loragate captions write" in str(caught.value)
    result = CliRunner().invoke(app, ["caption", str(dataset), "--trigger", "mira", "--examples", str(examples)])
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.output
    assert not (dataset / "img_0.txt").exists()


def test_cli_uses_the_environment_base_url_and_model(api: FakeMessagesApi, dataset: Path, examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("LORAGATE_CAPTION_MODEL", "claude-test-model")
    result = CliRunner().invoke(app, ["caption", str(dataset), "--trigger", "mira", "--examples", str(examples), "--model", "pony", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["caption_model"] == "claude-test-model" and len(data["captioned"]) == 5 and data["caption_style"] == "booru"
    assert _key(api.requests[0]) == "env-key" and api.requests[0]["body"]["model"] == "claude-test-model"
