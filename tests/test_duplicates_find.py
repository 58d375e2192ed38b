"""find_duplicates on a real folder: planted copies grouped, contact sheets drawn, cache reused,
and both doors (CLI --json, MCP) speak the same group shape."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from loragate.cli import app
from loragate.duplicates.find import find_duplicates
from loragate.core.errors import LoragateError
from tests.media import textured, write_caption, write_image, write_video


def _bytes_of(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def make_dataset(root: Path) -> Path:
    root.mkdir(parents=True)
    for seed in range(6):
        textured(640, 480, 100 + seed).save(root / f"other_{seed}.jpg", quality=90)
    base = textured(800, 600, 7)
    base.save(root / "portrait.png")
    base.save(root / "portrait_copy.webp", lossless=True)
    base.resize((400, 300)).save(root / "portrait_small.jpg", quality=30)
    w, h = base.size
    base.crop((int(w * 0.06), int(h * 0.04), w - int(w * 0.04), h - int(h * 0.06))).save(root / "portrait_cropped.jpg", quality=70)
    ImageEnhance.Brightness(base).enhance(1.25).save(root / "portrait_bright.jpg", quality=85)
    mirror_base = textured(640, 640, 8)
    mirror_base.save(root / "pose.jpg", quality=90)
    mirror_base.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "pose_flipped.jpg", quality=90)
    write_caption(root / "portrait.txt", "mira")
    return root


EXPECTED = [
    ("exact", ["portrait.png", "portrait_copy.webp"]),
    ("near", ["portrait.png", "portrait_bright.jpg", "portrait_copy.webp", "portrait_cropped.jpg", "portrait_small.jpg"]),
]


def test_planted_groups_sheets_and_cache(tmp_path: Path, workspace: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    before = _bytes_of(ds)
    first = find_duplicates(ds, name="mira")
    assert [(g.kind, g.paths) for g in first.groups] == EXPECTED
    assert first.images == 13 and first.cached == 0 and not first.unreadable

    sheets = workspace / "grimoire/training/mira/contact-sheets"
    assert first.contact_sheets == str(sheets)
    for group in first.groups:
        assert group.contact_sheet and Path(group.contact_sheet).parent == sheets
        with Image.open(group.contact_sheet) as sheet:
            assert sheet.format == "PNG" and sheet.width >= 240 * min(4, len(group.paths))
    with Image.open(first.all_flagged_sheet) as everything:
        assert everything.height > 240
    assert _bytes_of(ds) == before, "finding duplicates never changes the dataset"

    mirrored = find_duplicates(ds, mirror=True)
    assert [(g.kind, g.paths, g.mirrored) for g in mirrored.groups][-1] == ("near", ["pose.jpg", "pose_flipped.jpg"], True)
    assert mirrored.cached == 13 and mirrored.contact_sheets is None


def test_sheets_never_inside_the_dataset(tmp_path: Path, workspace: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    with pytest.raises(LoragateError, match="inside the dataset"):
        find_duplicates(ds, sheets_dir=ds / "sheets")
    assert not (ds / "sheets").exists()


def test_near_duplicate_clips(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "clips"
    write_video(ds / "Videos" / "walk.mp4", frames=33, width=320, height=192, seed=3)
    _transcode_smaller(ds / "Videos" / "walk.mp4", ds / "Videos" / "walk_small.webm", skip=4)
    write_video(ds / "Videos" / "run.mp4", frames=33, width=320, height=192, seed=4)
    write_video(ds / "Videos" / "jump.mkv", frames=25, width=320, height=192, seed=5)
    report = find_duplicates(ds, sheets_dir=tmp_path / "sheets")
    assert [(g.kind, g.media, g.paths) for g in report.groups] == [("near", "video", ["Videos/walk.mp4", "Videos/walk_small.webm"])]
    assert report.videos == 4 and Path(report.groups[0].contact_sheet).is_file()
    # what tells two takes apart is written under each clip: frames, length, frame rate
    from loragate.duplicates.contact import _size_text

    assert _size_text(ds / "Videos" / "walk.mp4").startswith("33 frames, 2.1 s at 16 fps, 320x192")


def test_a_sheet_of_two_is_wide_enough_for_its_title(tmp_path: Path) -> None:
    from loragate.duplicates.contact import MIN_WIDTH, _sheet

    for name in ("mira_portrait_final_version_exported_for_web.jpg", "mira_portrait_final_version_print.png"):
        write_image(tmp_path / name, 800, 600)
    title = ("Group 1: 2 pictures, the same picture at another size, quality or file format. Keep the one you like "
             "best. A long title goes over as many lines as it needs.")
    one_line = _sheet(tmp_path, [("mira_portrait_final_version_print.png", "")], "Group 1: short", 4, 360)
    png = _sheet(tmp_path, [(n, "") for n in sorted(p.name for p in tmp_path.iterdir())], title, 4, 360)
    import io

    with Image.open(io.BytesIO(png)) as sheet, Image.open(io.BytesIO(one_line)) as short:
        assert sheet.width >= MIN_WIDTH and sheet.height > short.height  # the title took more lines
        gray = sheet.convert("L")
        header = gray.crop((0, 0, sheet.width, sheet.height - 2 * 360 // 2))
        # ink reaches the title's second line but never the sheet's right edge: nothing drawn off the sheet
        right_edge = header.crop((sheet.width - 8, 0, sheet.width, 60))
        assert right_edge.getextrema()[0] > 200


def _transcode_smaller(source: Path, target: Path, skip: int) -> None:
    """A re-encoded, half-size copy of a clip that also drops its first `skip` frames."""
    import av

    with av.open(str(source)) as src, av.open(str(target), mode="w") as dst:
        stream = dst.add_stream("libvpx-vp9" if target.suffix == ".webm" else "libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for n, frame in enumerate(src.decode(video=0)):
            if n >= skip:
                small = av.VideoFrame.from_image(frame.to_image().resize((160, 96)))
                for packet in stream.encode(small):
                    dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)


runner = CliRunner()


def test_cli_json_contract_and_quarantine_round_trip(tmp_path: Path, workspace: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    before = _bytes_of(ds)
    found = runner.invoke(app, ["duplicates", str(ds), "--json", "--sheets", str(tmp_path / "sheets")])
    assert found.exit_code == 1, found.output  # an exact copy blocks Gate 1
    data = json.loads(found.stdout)
    assert [(g["kind"], g["paths"]) for g in data["groups"]] == [(k, p) for k, p in EXPECTED]
    assert all(isinstance(g["distance"], int) for g in data["groups"])

    moved = runner.invoke(app, ["quarantine", str(ds), "portrait_copy.webp", "portrait.png", "--json"])
    assert moved.exit_code == 0, moved.output
    assert sorted(e["original"] for e in json.loads(moved.stdout)["moved"]) == ["portrait.png", "portrait.txt", "portrait_copy.webp"]
    again = runner.invoke(app, ["duplicates", str(ds), "--json"])
    assert again.exit_code == 0
    assert [g["paths"] for g in json.loads(again.stdout)["groups"]] == [["portrait_bright.jpg", "portrait_cropped.jpg", "portrait_small.jpg"]]

    refused = runner.invoke(app, ["quarantine", str(ds), "../elsewhere.png"])
    assert refused.exit_code == 2 and "outside the dataset" in " ".join(refused.stderr.split())
    undone = runner.invoke(app, ["quarantine", str(ds), "--undo"])
    assert undone.exit_code == 0 and "Put back: portrait.png" in undone.stdout
    assert {k: v for k, v in _bytes_of(ds).items() if not k.startswith("_quarantine")} == before
    missing = runner.invoke(app, ["duplicates", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2


def test_cli_table_names_sheets_the_artist_can_open(tmp_path: Path, workspace: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    shown = runner.invoke(app, ["duplicates", str(ds), "--sheets", str(tmp_path / "sheets")])
    assert shown.exit_code == 1, shown.output
    text = " ".join(shown.stdout.split())
    # Each group's sheet by its full file name (not a path cut off by the column), and the folder once.
    assert "group-001-exact.png" in text and "group-002-near.png" in text
    assert str((tmp_path / "sheets").resolve()) in shown.stdout.replace("\n", "")


@pytest.mark.anyio
async def test_mcp_tools(tmp_path: Path, workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    make_dataset(workspace / "ds")
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["find_duplicates"].annotations.destructive_hint is False
        q = tools["quarantine_files"].annotations
        assert q.read_only_hint is False and q.destructive_hint is False and q.idempotent_hint is False
        result = await client.call_tool("find_duplicates", {"dataset": "ds", "name": "mira"})
        assert not result.is_error
        assert [(g["kind"], g["paths"]) for g in result.structured_content["groups"]] == [(k, p) for k, p in EXPECTED]
        assert (workspace / "grimoire/training/mira/contact-sheets/all-flagged.png").is_file()

        moved = await client.call_tool("quarantine_files", {"dataset": "ds", "files": ["portrait_small.jpg"]})
        assert not moved.is_error and (workspace / "ds/_quarantine/portrait_small.jpg").is_file()
        back = await client.call_tool("quarantine_files", {"dataset": "ds", "files": [], "undo": True})
        assert not back.is_error and (workspace / "ds/portrait_small.jpg").is_file()
        outside = await client.call_tool("find_duplicates", {"dataset": str(tmp_path)})
        assert outside.is_error and "outside the folders" in outside.content[0].text
        hostile = await client.call_tool("quarantine_files", {"dataset": "ds", "files": ["../../etc/passwd"]})
        assert hostile.is_error and "outside the dataset" in hostile.content[0].text
