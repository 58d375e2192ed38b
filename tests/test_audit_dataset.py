"""Layouts, captions, clips and size: what the artist sees in the audit for each."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ImageFilter

from loragate.dataset.audit import audit_dataset
from loragate.dataset.captions import approx_tokens, caption_style
from loragate.dataset.scan import scan_dataset
from tests.media import textured, write_caption, write_image, write_video

NATURAL = "mira, a young woman with short silver hair standing on a rainy street at night."
BOORU = "mira, 1girl, silver hair, short hair, rain, street, night, looking at viewer"


def make_set(folder: Path, n: int, caption: str = NATURAL, size: int = 512, start: int = 0) -> list[Path]:
    paths = []
    for i in range(start, start + n):
        paths.append(write_image(folder / f"img_{i:03d}.jpg", size, size, seed=i, quality=90))
        write_caption(folder / f"img_{i:03d}.txt", caption)
    return paths


def codes(report, path: str | None = None) -> set[str]:
    return {f.code for f in report.findings if path is None or f.path == path}


def test_clean_character_set_is_go(tmp_path: Path, workspace: Path) -> None:
    make_set(tmp_path / "ds", 16)
    report = audit_dataset(tmp_path / "ds", trigger="mira", model="sd15", training_type="character")
    assert report.verdict == "GO", [f for f in report.findings if f.severity == "block"]
    assert report.layout == "flat"
    assert report.images == 16 and report.captions == 16
    assert report.resolutions == {"512x512": 16}
    assert report.counts["warn"] == 0, [f for f in report.findings if f.severity == "warn"]
    assert report.size.steps_per_epoch["1"] == 16 and report.size.steps_per_epoch["4"] == 4
    assert report.counts["block"] == 0


def test_kohya_repeat_folders_count_in_steps(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "train"
    make_set(ds / "10_mira", 12, size=256)
    make_set(ds / "2_mira outfit", 4, size=256, start=100)
    scan = scan_dataset(ds)
    assert scan.layout == "kohya"
    assert {(f.path, f.repeats) for f in scan.repeat_folders} == {("10_mira", 10), ("2_mira outfit", 2)}
    report = audit_dataset(ds, trigger="mira", training_type="character")
    assert report.size.samples_per_epoch == 12 * 10 + 4 * 2
    assert report.size.steps_per_epoch["2"] == 64
    assert "DS_KOHYA_IGNORED_FILES" not in codes(report)


def test_kohya_loose_files_are_reported(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "train"
    make_set(ds / "5_mira", 3, size=256)
    make_set(ds, 1, size=256, start=50)  # beside the repeat folder: sd-scripts skips it
    report = audit_dataset(ds, trigger="mira")
    loose = [f for f in report.findings if f.code == "DS_KOHYA_IGNORED_FILES"]
    assert loose and loose[0].evidence["files"] == ["img_050.jpg"]


def test_wan_layout_with_images_and_videos(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "wan"
    make_set(ds / "Images", 3, size=832)
    write_video(ds / "Videos" / "walk.mp4", frames=33, fps=16)
    write_caption(ds / "Videos" / "walk.txt", NATURAL)
    write_video(ds / "Videos" / "short.mp4", frames=20, fps=16)
    write_caption(ds / "Videos" / "short.txt", NATURAL)
    write_video(ds / "Videos" / "odd.mp4", frames=40, fps=16)
    write_caption(ds / "Videos" / "odd.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="wan2.1-t2v-14b")
    assert report.layout == "wan"
    assert report.videos == 3 and report.images == 3
    assert "DS_VIDEO_TOO_SHORT" in codes(report, "Videos/short.mp4")
    short = next(f for f in report.findings if f.code == "DS_VIDEO_TOO_SHORT")
    assert short.evidence["frames"] == 20 and "33" in short.message
    # 40 frames: Wan takes 4n+1 lengths, so 37 are used; 33 is already of that form.
    odd = next(f for f in report.findings if f.code == "DS_VIDEO_FRAMES_4N1")
    assert odd.path == "Videos/odd.mp4" and odd.evidence["usable_frames"] == 37
    assert "DS_VIDEO_FRAMES_4N1" not in codes(report, "Videos/walk.mp4")
    assert report.verdict == "GO"


def test_a_wan_sets_summary_and_size_table_cover_its_clips(tmp_path: Path, workspace: Path) -> None:
    from typer.testing import CliRunner

    from loragate.cli import app

    ds = tmp_path / "wan"
    make_set(ds / "Images", 2, size=512)
    for k, frames in enumerate((33, 49, 81)):
        write_video(ds / "Videos" / f"walk{k}.mp4", frames=frames, fps=16, width=320, height=192)
        write_caption(ds / "Videos" / f"walk{k}.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="wan2.1-t2v-14b", name="mira")
    assert report.median_clip_resolution == [320, 192] and report.clip_resolutions == {"320x192": 3}
    assert report.clips is not None and (report.clips.frames_min, report.clips.frames_median, report.clips.frames_max) \
        == (33, 49, 81) and report.clips.fps == {"16": 3}
    md = Path(report.report_path or "").read_text()
    assert "- Median size: images 512x512; clips 320x192" in md
    assert "- Clips: 49 frames median (33-81), about 3.1 s, at 16 fps (3 clips)" in md
    assert "| 512x512 | 2 | 0 |" in md and "| 320x192 | 0 | 3 |" in md
    shown = CliRunner().invoke(app, ["audit", str(ds), "--trigger", "mira", "--model", "wan2.1-t2v-14b"],
                               env={"COLUMNS": "100"}).output
    assert "median clip size" in shown and "320x192" in shown and "49 frames median" in shown


def test_video_probe_facts(tmp_path: Path) -> None:
    from loragate.dataset.video_probe import probe_file

    write_video(tmp_path / "c.mp4", frames=33, fps=16, width=320, height=192)
    probe = probe_file(str(tmp_path / "c.mp4"), "c.mp4")
    assert (probe.frames, probe.width, probe.height, round(probe.fps)) == (33, 320, 192, 16)
    assert abs(probe.duration_s - 33 / 16) < 0.1
    assert not probe.variable_frame_rate and probe.error is None


def _timed_clip(path: Path, gaps_ms: list[int], rotation: int | None = None) -> Path:
    """An H.264 clip whose frames are `gaps_ms` apart (uneven: variable frame rate), optionally
    stored with a display-rotation flag as phones write it."""
    from fractions import Fraction

    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    base = np.asarray(textured(640, 192, 5))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = 320, 192, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        pts = 0
        for i, gap in enumerate(gaps_ms):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, i * 4 : i * 4 + 320]), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += gap
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_clips_under_an_image_model_are_not_counted(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    make_set(ds, 3)
    write_video(ds / "walk.mp4", frames=33)
    write_caption(ds / "walk.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="sdxl")
    ignored = next(f for f in report.findings if f.code == "DS_VIDEO_IGNORED")
    assert ignored.severity == "warn" and "walk.mp4" in ignored.evidence["files"]
    assert report.size.usable_videos == 0 and report.size.samples_per_epoch == 3
    # A video model counts the clip.
    assert audit_dataset(ds, trigger="mira", model="wan2.1-t2v-14b").size.usable_videos == 1


def test_phone_clips_variable_rate_and_rotation(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "wan"
    _timed_clip(ds / "Videos" / "phone.mp4", [33, 66, 20, 50, 33] * 9)
    _timed_clip(ds / "Videos" / "sideways.mp4", [62] * 33, rotation=90)
    _timed_clip(ds / "Videos" / "steady.mp4", [62] * 33)
    for stem in ("phone", "sideways", "steady"):
        write_caption(ds / "Videos" / f"{stem}.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="wan2.1-t2v-14b")
    assert "DS_VIDEO_VFR" in codes(report, "Videos/phone.mp4")
    assert "DS_VIDEO_ROTATED" in codes(report, "Videos/sideways.mp4")
    assert not codes(report, "Videos/steady.mp4") & {"DS_VIDEO_VFR", "DS_VIDEO_ROTATED"}
    vfr = next(f for f in report.findings if f.code == "DS_VIDEO_VFR")
    assert "variable frame rate" in vfr.message and "constant frame rate" in vfr.fix


def test_missing_empty_orphan_bom_captions(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    make_set(ds, 4)
    (ds / "img_000.txt").unlink()
    write_caption(ds / "img_001.txt", "   \n")
    write_caption(ds / "lost.txt", NATURAL)
    (ds / "img_002.txt").write_bytes(b"\xef\xbb\xbf" + NATURAL.encode())
    write_caption(ds / "img_003.txt", "mira, first line\nsecond line")
    report = audit_dataset(ds, trigger="mira")
    by_code = {f.code: f for f in report.findings}
    assert by_code["DS_CAPTION_MISSING"].path == "img_000.jpg" and by_code["DS_CAPTION_MISSING"].severity == "block"
    assert by_code["DS_CAPTION_EMPTY"].path == "img_001.txt" and by_code["DS_CAPTION_EMPTY"].severity == "block"
    assert by_code["DS_CAPTION_ORPHAN"].path == "lost.txt" and by_code["DS_CAPTION_ORPHAN"].severity == "warn"
    assert by_code["DS_CAPTION_BOM"].path == "img_002.txt"
    assert by_code["DS_CAPTION_MULTILINE"].path == "img_003.txt"
    assert report.verdict == "NO-GO"
    assert report.caption_stats.missing == 1 and report.caption_stats.empty == 1 and report.caption_stats.orphans == 1


def test_trigger_missing_blocks(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    make_set(ds, 5)
    write_caption(ds / "img_004.txt", "a woman with short silver hair")
    report = audit_dataset(ds, trigger="mira")
    missing = [f for f in report.findings if f.code == "DS_TRIGGER_MISSING"]
    assert [f.path for f in missing] == ["img_004.txt"] and missing[0].severity == "block"
    assert report.verdict == "NO-GO"
    # A word that merely contains the trigger does not count; case does not matter.
    write_caption(ds / "img_004.txt", "Mira's friend, miranda")
    assert audit_dataset(ds, trigger="mira").verdict == "GO"
    write_caption(ds / "img_004.txt", "miranda in a garden")
    assert audit_dataset(ds, trigger="mira").verdict == "NO-GO"


def test_no_caption_has_the_trigger_is_one_finding(tmp_path: Path, workspace: Path) -> None:
    make_set(tmp_path / "ds", 6, caption="a woman in a garden")
    report = audit_dataset(tmp_path / "ds", trigger="ohwx")
    missing = [f for f in report.findings if f.code == "DS_TRIGGER_MISSING"]
    assert len(missing) == 1 and missing[0].evidence["count"] == 6 and "None of the 6" in missing[0].message


@pytest.mark.parametrize(
    "model, caption, flagged",
    [("pony", NATURAL, True), ("pony", BOORU, False), ("flux1-dev", BOORU, True), ("flux1-dev", NATURAL, False)],
)
def test_caption_style_against_model(tmp_path: Path, workspace: Path, model: str, caption: str, flagged: bool) -> None:
    make_set(tmp_path / "ds", 3, caption=caption)
    report = audit_dataset(tmp_path / "ds", trigger="mira", model=model)
    style = [f for f in report.findings if f.code == "DS_CAPTION_STYLE"]
    assert bool(style) == flagged
    if style:
        assert style[0].severity == "warn" and style[0].evidence["count"] == 3
        assert "img_000.txt, img_001.txt, img_002.txt" in style[0].message  # which captions
        assert "booru" not in style[0].message and ("1girl" in style[0].message)


def test_caption_style_and_tokens_rules() -> None:
    assert caption_style(BOORU) == "booru"
    assert caption_style(NATURAL) == "natural"
    assert caption_style("1girl, long_hair, red_eyes") == "booru"
    assert approx_tokens("a woman with long red hair, wearing a blue dress") == 11
    assert approx_tokens("photorealistic") == 2


def test_caption_longer_than_encoder(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    make_set(ds, 2)
    long_caption = "mira, " + ", ".join(f"detail number {i} of the scene" for i in range(20))
    write_caption(ds / "img_001.txt", long_caption)
    report = audit_dataset(ds, trigger="mira", model="sdxl")
    long = [f for f in report.findings if f.code == "DS_CAPTION_TOO_LONG"]
    assert [f.path for f in long] == ["img_001.txt"]
    assert long[0].evidence["limit"] == 75 and long[0].evidence["tokens"] > 75
    # FLUX's T5 reads far more, so the same caption fits.
    assert not [f for f in audit_dataset(ds, trigger="mira", model="flux1-dev").findings if f.code == "DS_CAPTION_TOO_LONG"]


def test_size_against_training_type(tmp_path: Path, workspace: Path) -> None:
    make_set(tmp_path / "ds", 12, size=256)
    small = audit_dataset(tmp_path / "ds", trigger="mira", training_type="character")
    f = next(f for f in small.findings if f.code == "DS_SIZE_SMALL")
    assert f.severity == "warn" and f.evidence == {"items": 12, "recommended": [15, 40]}
    ok = audit_dataset(tmp_path / "ds", trigger="mira", training_type="object")
    assert "DS_SIZE_SMALL" not in codes(ok) and ok.size.recommended == [10, 30]


def test_empty_folder_blocks(tmp_path: Path, workspace: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = audit_dataset(tmp_path / "empty")
    assert report.layout == "empty" and report.verdict == "NO-GO" and "DS_EMPTY" in codes(report)


def test_quality_properties(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    make_set(ds, 6)
    textured(512, 512, 40).filter(ImageFilter.GaussianBlur(4)).save(ds / "soft.jpg", quality=90)
    textured(512, 512, 41).convert("L").convert("RGB").save(ds / "mono.jpg", quality=90)
    textured(512, 512, 42).point(lambda v: v // 8).save(ds / "night.png")
    textured(200, 600, 43).save(ds / "strip.png")
    textured(256, 256, 44).save(ds / "tiny.png")
    for stem in ("soft", "mono", "night", "strip", "tiny"):
        write_caption(ds / f"{stem}.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="sd15")
    assert "DS_BLURRY" in codes(report, "soft.jpg")
    assert "DS_GRAYSCALE" in codes(report, "mono.jpg")
    assert "DS_DARK" in codes(report, "night.png")
    assert "DS_ASPECT_EXTREME" in codes(report, "strip.png")
    assert "DS_LOW_RES" in codes(report, "tiny.png")
    for i in range(6):  # the plain textured pictures raise none of these
        assert not codes(report, f"img_{i:03d}.jpg") & {"DS_BLURRY", "DS_GRAYSCALE", "DS_DARK", "DS_LOW_RES"}
    blurry = next(f for f in report.findings if f.code == "DS_BLURRY")
    assert blurry.evidence["score"] < blurry.evidence["threshold"]
    assert report.verdict == "GO"


def test_remaining_image_checks(tmp_path: Path, workspace: Path) -> None:
    from PIL import Image

    ds = tmp_path / "ds"
    make_set(ds, 6)
    textured(512, 512, 50).point(lambda v: 235 + v // 13).save(ds / "washed.png")
    Image.new("RGB", (512, 512), (128, 128, 128)).save(ds / "blank.png")
    textured(512, 512, 51).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(ds / "indexed.png")
    cutout = textured(512, 512, 52).convert("RGBA")
    alpha = Image.new("L", (512, 512), 255)
    alpha.paste(0, (0, 0, 256, 512))  # left half transparent
    cutout.putalpha(alpha)
    cutout.save(ds / "cutout.png")
    textured(512, 512, 53).save(ds / "renamed.jpg", format="PNG")
    frames = [textured(256, 256, s) for s in (54, 55)]
    frames[0].save(ds / "moving.webp", save_all=True, append_images=frames[1:], duration=100)
    (ds / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic" + bytes(64))
    (ds / "layers.psd").write_bytes(b"8BPS" + bytes(64))
    for stem in ("washed", "blank", "indexed", "cutout", "renamed", "moving"):
        write_caption(ds / f"{stem}.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="sd15")
    assert "DS_BRIGHT" in codes(report, "washed.png")
    assert "DS_LOW_INFO" in codes(report, "blank.png")
    assert "DS_PALETTE" in codes(report, "indexed.png")
    assert "DS_ALPHA" in codes(report, "cutout.png")
    mismatch = next(f for f in report.findings if f.code == "DS_EXT_MISMATCH")
    assert mismatch.path == "renamed.jpg" and "really a PNG" in mismatch.message
    assert "DS_ANIMATED" in codes(report, "moving.webp")
    heic = next(f for f in report.findings if f.path == "phone.heic")
    psd = next(f for f in report.findings if f.path == "layers.psd")
    assert heic.code == psd.code == "DS_UNSUPPORTED_FORMAT"
    assert "iPhone HEIC" in heic.message and "Photoshop" in psd.message
    for i in range(6):
        assert not codes(report, f"img_{i:03d}.jpg") & {"DS_BRIGHT", "DS_LOW_INFO", "DS_PALETTE", "DS_ALPHA", "DS_EXT_MISMATCH"}


def test_unknown_model_and_bad_arguments(tmp_path: Path, workspace: Path) -> None:
    from loragate.core.errors import LoragateError

    make_set(tmp_path / "ds", 1)
    with pytest.raises(LoragateError, match="Unknown model family"):
        audit_dataset(tmp_path / "ds", model="sd9")
    with pytest.raises(LoragateError, match="training type"):
        audit_dataset(tmp_path / "ds", training_type="landscape")  # type: ignore[arg-type]
    with pytest.raises(LoragateError, match="does not exist"):
        audit_dataset(tmp_path / "nope")
    with pytest.raises(LoragateError, match="not allowed"):
        audit_dataset(tmp_path / "ds", name="../escape")


def test_shipped_example_audits_go_with_a_few_warnings(workspace: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "character"
    report = audit_dataset(example, trigger="mira", model="sdxl", training_type="character")
    assert report.verdict == "GO" and report.layout == "kohya"
    assert report.images == 18 and report.size.samples_per_epoch == 180
    assert 1 <= report.counts["warn"] <= 4


def test_duplicates_exact_block_near_warn(tmp_path: Path, workspace: Path) -> None:
    import shutil

    ds = tmp_path / "ds"
    make_set(ds, 4)
    shutil.copy(ds / "img_000.jpg", ds / "copy of 000.jpg")
    write_caption(ds / "copy of 000.txt", NATURAL)
    textured(512, 512, 1).resize((400, 400)).save(ds / "smaller 001.jpg", quality=40)
    write_caption(ds / "smaller 001.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira", model="sd15")
    groups = {(g.kind, tuple(g.paths)) for g in report.duplicate_groups}
    assert ("exact", ("copy of 000.jpg", "img_000.jpg")) in groups
    assert ("near", ("img_001.jpg", "smaller 001.jpg")) in groups
    exact = next(f for f in report.findings if f.code == "DS_DUPLICATE_EXACT")
    near = next(f for f in report.findings if f.code == "DS_DUPLICATE_NEAR")
    assert exact.severity == "block" and near.severity == "warn"
    assert report.verdict == "NO-GO"


def test_duplicate_clips_are_grouped(tmp_path: Path, workspace: Path) -> None:
    import shutil

    ds = tmp_path / "ds"
    write_video(ds / "a.mp4", frames=17, seed=1)
    shutil.copy(ds / "a.mp4", ds / "b.mp4")
    write_video(ds / "c.mp4", frames=17, seed=2)
    for stem in "abc":
        write_caption(ds / f"{stem}.txt", NATURAL)
    report = audit_dataset(ds, trigger="mira")
    assert [(g.kind, g.media, g.paths) for g in report.duplicate_groups] == [("exact", "video", ["a.mp4", "b.mp4"])]
    assert "same clip" in next(f.message for f in report.findings if f.code == "DS_DUPLICATE_EXACT")


def test_caption_extension_is_configurable(tmp_path: Path, workspace: Path) -> None:
    ds = tmp_path / "ds"
    write_image(ds / "a.jpg", 512, 512, seed=1)
    write_caption(ds / "a.caption", NATURAL)
    # With the default .txt the caption is not found; sd-scripts' own default is .caption.
    assert "DS_CAPTION_MISSING" in codes(audit_dataset(ds, trigger="mira"))
    report = audit_dataset(ds, trigger="mira", caption_extension="caption")
    assert report.caption_extension == ".caption" and report.caption_stats.captioned == 1
    assert not codes(report) & {"DS_CAPTION_MISSING", "DS_TRIGGER_MISSING"}
