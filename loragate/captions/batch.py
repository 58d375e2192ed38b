"""Caption a whole dataset with Claude's vision, seeded by the artist's approved samples.

Order of work: the approved captions are written first (they are the artist's own); then every
picture without a caption is sent, downscaled, with the approved pictures and answers as worked
examples and the artist's eye.md in the instructions. Each caption goes through the writer, so
the trigger-first, style, history and no-silent-overwrite rules hold. One bad picture never stops
the batch: it is recorded and retried on the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loragate.captions.approved import as_caption_map, load_approved
from loragate.captions.media import jpeg_for_vision
from loragate.captions.model import CaptionBatchReport, CaptionFailure
from loragate.captions.prompt import GUIDE, example_turns, parse_answer, read_doc, request_messages, system_prompt
from loragate.captions.run_state import load_state, progress_path, save_state, settings_key
from loragate.captions.vision import FatalApiError, ask, caption_model_name, is_service_failure, make_client
from loragate.captions.writer import caption_style_for, required_trigger, write_captions
from loragate.catalog.models import get_family
from loragate.dataset.model import TrainingType
from loragate.dataset.scan import normalize_caption_extension, scan_dataset
from loragate.core.errors import LoragateError
from loragate.plan.paths import check_dataset_folder
from loragate.progress import ProgressFn
from loragate.workspace import grimoire_dir

# Several service failures in a row mean the service is down, not that pictures are bad.
MAX_SERVICE_FAILURES_IN_A_ROW = 5
RECOMMENDED_EXAMPLES = 5


def caption_dataset(
    dataset: Path | str,
    trigger: str,
    examples: Path | str,
    model: str | None = None,
    eye: Path | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    client: Any = None,
    caption_extension: str = ".txt",
    limit: int | None = None,
    caption_model: str | None = None,
    training_type: TrainingType | None = None,
) -> CaptionBatchReport:
    """Caption every picture of `dataset` that has no caption yet (all of them with overwrite).

    `examples` is the approved samples file (APPROVED.json); `eye` defaults to grimoire/eye.md;
    `limit` caps how many pictures this run sends; `training_type` (character, style, object) says
    what the trigger word carries. `client` is an anthropic.Anthropic (made from the environment
    when omitted).
    """
    root = check_dataset_folder(dataset)
    trigger = required_trigger(trigger)
    ext = normalize_caption_extension(caption_extension)
    style = caption_style_for(model)
    examples_path = Path(examples).expanduser()
    if training_type is not None and training_type not in ("character", "style", "object"):
        raise LoragateError(f"The training type {training_type!r} is not known.", "Use character, style or object.")
    samples = load_approved(examples_path)
    if client is None:
        client = make_client()
    model_name = caption_model_name(caption_model)
    notes: list[str] = []
    if len(samples) < RECOMMENDED_EXAMPLES:
        notes.append(f"Only {len(samples)} approved sample(s); {RECOMMENDED_EXAMPLES} give the batch a clearer model to follow.")

    # The artist's approved captions go in first, through the same rules as every other caption.
    approved = write_captions(root, as_caption_map(samples), trigger, model, overwrite, ext)
    refused = [r for r in approved.results if r.status == "refused"]
    if refused:
        listed = "; ".join(f"{r.image}: {r.reason}" for r in refused[:5])
        raise LoragateError(f"Some approved samples cannot be used: {listed}", "Fix the image paths in the approved samples file (relative to the dataset folder).")
    approved_images = {r.image for r in approved.results}
    notes += [f"{r.image}: {r.reason}" for r in approved.results if r.status == "skipped"]

    eye_text = read_doc(Path(eye) if eye else grimoire_dir() / "eye.md")
    if eye_text is None:
        notes.append("grimoire/eye.md says nothing yet; captions follow the approved samples alone.")
    system = system_prompt(trigger, style, get_family(model).display_name if model else None, eye_text, read_doc(GUIDE), training_type)
    shots = example_turns([(s, _example_picture(root, s.image)) for s in samples])

    settings = settings_key(trigger, model, model_name, examples_path, overwrite, ext)
    state, resumed = load_state(root, settings)
    if resumed:
        notes.append(f"Continuing the earlier run: {len(state.done)} done before, {len(state.failed)} to retry.")
    scan = scan_dataset(root, ext)
    media = scan.images + scan.videos
    done = set(state.done)
    todo = [m.path for m in media if m.path not in approved_images and m.path not in done and (overwrite or m.caption is None)]
    already = len(media) - len(todo)
    state.failed = {rel: why for rel, why in state.failed.items() if rel in set(todo)}
    if limit is not None:
        todo = todo[: max(0, limit)]

    report = CaptionBatchReport(
        dataset=str(root), trigger=trigger, model=model, caption_style=style, caption_model=model_name,
        examples=len(samples), total_media=len(media), already_captioned=already, remaining=0,
        progress_file=str(progress_path(root)), notes=notes,
    )
    service_failures = 0
    for index, rel in enumerate(todo):
        if progress:
            progress(index, len(todo), rel)
        try:
            reply = ask(client, model_name, system, request_messages(shots, _picture(root, rel)))
            report.input_tokens += reply.input_tokens
            report.output_tokens += reply.output_tokens
            caption, _content, _style = parse_answer(reply.text)
        except FatalApiError as exc:
            save_state(root, state)
            if not report.captioned:
                raise LoragateError(str(exc), "Check ANTHROPIC_API_KEY and LORAGATE_CAPTION_MODEL, then run again.") from exc
            report.stopped_early = True
            report.notes.append(f"Stopped: {exc}")
            break
        except Exception as exc:  # noqa: BLE001 - one picture's failure is recorded, never fatal to the batch
            state.failed[rel] = _describe(exc)
            report.failed.append(CaptionFailure(image=rel, error=state.failed[rel]))
            save_state(root, state)
            service_failures = service_failures + 1 if _service(exc) else 0
            if service_failures >= MAX_SERVICE_FAILURES_IN_A_ROW:
                report.stopped_early = True
                report.notes.append(f"Stopped after {service_failures} failures of the caption service in a row; run again later to continue.")
                break
            continue
        service_failures = 0
        written = write_captions(root, {rel: caption}, trigger, model, overwrite, ext).results[0]
        if written.status in ("written", "overwritten", "unchanged"):
            report.captioned.append(written)
        elif written.status == "skipped":
            report.already_captioned += 1  # a caption appeared while the picture was being looked at
            report.notes.append(f"{rel}: {written.reason}")
        else:
            state.failed[rel] = written.reason
            report.failed.append(CaptionFailure(image=rel, error=written.reason))
            save_state(root, state)
            continue
        state.failed.pop(rel, None)
        state.done.append(rel)
        save_state(root, state)
    if progress:
        progress(len(todo), len(todo), "done")

    after = scan_dataset(root, ext)
    report.remaining = sum(1 for m in after.images + after.videos if m.caption is None)
    report.summary = _summary(report)
    return report


def _picture(root: Path, rel: str) -> bytes:
    path = root / rel
    if not path.is_file():
        raise LoragateError(f"The picture '{rel}' is not in the dataset {root}.", "Check the approved samples file.")
    return jpeg_for_vision(path)


def _example_picture(root: Path, rel: str) -> bytes:
    try:
        return _picture(root, rel)
    except LoragateError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decode failure of an example is the artist's to fix
        raise LoragateError(f"The approved picture '{rel}' cannot be opened ({_describe(exc)}).", "Replace it or pick another approved sample.") from exc


def _service(exc: BaseException) -> bool:
    try:
        return is_service_failure(exc)
    except ImportError:
        return False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _summary(report: CaptionBatchReport) -> str:
    text = f"Captioned {len(report.captioned)} picture(s) with {report.caption_model}"
    if report.already_captioned:
        text += f"; {report.already_captioned} already had a caption"
    text += "."
    if report.failed:
        text += f" {len(report.failed)} failed and will be retried on the next run."
    if report.remaining:
        text += f" {report.remaining} still without a caption: run the same command again to continue."
    elif not report.failed:
        text += " Every picture has a caption now: show a few to the artist, then re-run Gate 1."
    return text
