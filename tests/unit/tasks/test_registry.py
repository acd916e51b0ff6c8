"""The task registry: lookups, label spellings, preprocessing per resolution."""

from __future__ import annotations

import pytest

from medsight.errors import UsageError
from medsight.tasks import Crop, get_task, task_names


def test_cxr_pneumonia_is_registered_with_both_resolutions() -> None:
    assert "cxr-pneumonia" in task_names()
    task = get_task("cxr-pneumonia")
    assert task.classes == ("normal", "pneumonia")
    assert task.positive_class == "pneumonia"
    assert set(task.shipped_models) == {28, 224}
    assert task.preprocessing_for(28).crop is Crop.CENTER_SQUARE
    assert task.preprocessing_for(224).crop is Crop.NONE
    assert task.preprocessing_for(64).size == 64


def test_an_unknown_task_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(UsageError, match="cxr-pneumonia"):
        get_task("cxr-pneumothorax")


@pytest.mark.parametrize(("spelling", "label"), [("NORMAL", 0), ("normal", 0), ("PNEUMONIA", 1), (" pneumonia ", 1)])
def test_class_spellings_map_to_labels(spelling: str, label: int) -> None:
    assert get_task("cxr-pneumonia").label_of(spelling) == label


def test_an_unknown_class_spelling_is_refused() -> None:
    with pytest.raises(UsageError):
        get_task("cxr-pneumonia").label_of("COVID")
