"""loragate diagnose: the artist's words, weighed against the project's own record."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.diagnose.diagnose import diagnose, symptom_table
from loragate.core.errors import LoragateError
from loragate.plan.store import load_project_plan, save_plan
from tests.eval_helpers import trained_project


def test_burnt_pictures_after_a_long_run_point_at_an_earlier_checkpoint(workspace: Path) -> None:
    plan = trained_project(workspace)
    plan.schedule.max_train_epochs = 400  # 4 pictures, each seen 400 x repeats times
    save_plan(plan)
    result = diagnose("mira", "everything looks burnt and oversaturated at 1.0")
    top = result.diagnoses[0]
    assert top.id == "overtrained" and "burnt" in top.matched
    assert top.causes[0].id == "too_many_steps" and top.causes[0].state == "confirms"
    repeats = plan.dataset.subsets[0].num_repeats
    assert f"{400 * repeats} times (400 epochs x {repeats} repeats" in top.causes[0].evidence
    # one change, with a real checkpoint of this project named
    assert result.next_step.startswith("Change one thing: use an earlier checkpoint")
    assert "loragate eval mira --checkpoint mira-00000" in result.next_step


def test_trigger_ignored_names_captions_without_the_trigger(workspace: Path) -> None:
    plan = trained_project(workspace)
    (Path(plan.dataset.path) / "img01.txt").write_text("a woman in a red coat", encoding="utf-8")
    result = diagnose("mira", "it ignores the trigger word")
    causes = {c.id: c for c in result.diagnoses[0].causes}
    assert causes["trigger_missing"].state == "confirms" and "1 of 4 captions" in causes["trigger_missing"].evidence
    assert result.diagnoses[0].causes[0].id == "trigger_missing"
    assert "loragate audit" in result.next_step


def test_weak_alpha_is_confirmed_and_a_sane_one_ruled_out(workspace: Path) -> None:
    trained_project(workspace)
    sane = diagnose("mira", "only works at weight 1.0, too weak below")
    alpha = next(c for c in sane.diagnoses[0].causes if c.id == "alpha_weak")
    assert alpha.state == "rules out"
    plan = load_project_plan("mira")
    plan.network.alpha = 1
    plan.network.dim = 32
    save_plan(plan)
    weak = diagnose("mira", "only works at weight 1.0, too weak below")
    alpha = next(c for c in weak.diagnoses[0].causes if c.id == "alpha_weak")
    assert alpha.state == "confirms" and "alpha 1 with rank 32" in alpha.evidence


def test_unknown_words_list_the_symptoms_it_knows(workspace: Path) -> None:
    trained_project(workspace)
    with pytest.raises(LoragateError) as caught:
        diagnose("mira", "the cat is purring")
    assert "ignores the trigger word" in (caught.value.fix or "")


def test_every_table_check_exists_and_colour_rows_are_matched() -> None:
    assert {row["id"] for row in symptom_table()} >= {"overtrained", "no_effect", "hazy_video", "copies", "colours"}
