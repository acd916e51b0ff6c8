"""The ultrasound tasks: us-breast (classification) and us-fetal-head (segmentation), and biometry."""

from __future__ import annotations

import numpy as np
import pytest

from medsight.imaging import Image, ImageMeta
from medsight.imaging.ellipse import Ellipse
from medsight.tasks import get_task, task_names
from medsight.tasks.biometry import hadlock_ga_weeks, head_biometry
from medsight.tasks.registry import TaskKind
from medsight.types import Modality


def test_both_ultrasound_tasks_are_registered_with_their_kind() -> None:
    assert {"us-breast", "us-fetal-head"} <= set(task_names())
    assert get_task("us-breast").kind is TaskKind.CLASSIFICATION
    assert get_task("us-fetal-head").kind is TaskKind.SEGMENTATION
    assert get_task("cxr-pneumonia").kind is TaskKind.CLASSIFICATION


def test_us_breast_reports_malignant_and_swaps_breastmnist_labels() -> None:
    task = get_task("us-breast")
    assert task.positive_class == "malignant"
    assert task.class_of_stored(0) == 1  # BreastMNIST 0 = malignant
    assert task.class_of_stored(1) == 0
    assert get_task("cxr-pneumonia").class_of_stored(1) == 1
    assert task.label_of("BENIGN") == 0
    assert task.label_of("malignant") == 1


@pytest.mark.parametrize(
    ("task", "modality", "body_part", "refused"),
    [
        ("us-breast", Modality.US, "BREAST", None),
        ("us-breast", Modality.US, None, None),
        ("us-breast", Modality.CR, "CHEST", "modality"),
        ("us-breast", Modality.US, "ABDOMEN", "body_part"),
        ("us-fetal-head", Modality.US, "FETUS", None),
        ("us-fetal-head", Modality.MR, None, "modality"),
        ("us-fetal-head", Modality.US, "BREAST", "body_part"),
        ("us-fetal-head", Modality.OT, None, None),
    ],
)
def test_metadata_checks(task: str, modality: Modality, body_part: str | None, refused: str | None) -> None:
    image = Image(
        pixels=np.zeros((8, 8), dtype=np.float32), meta=ImageMeta(modality=modality, body_part=body_part, view="X")
    )
    refusal = get_task(task).acceptance.refusal(image)
    assert (refusal.check if refusal else None) == refused


@pytest.mark.parametrize(("hc_mm", "weeks"), [(100.0, 14.7), (175.0, 20.0), (250.0, 27.1), (300.0, 33.3)])
def test_hadlock_gestational_age_from_head_circumference(hc_mm: float, weeks: float) -> None:
    assert hadlock_ga_weeks(hc_mm) == pytest.approx(weeks, abs=0.05)


def test_biometry_of_an_ellipse_in_mm() -> None:
    circle = head_biometry(Ellipse(0, 0, 40.0, 30.0, 0.3))
    assert circle.bpd_mm == 60.0
    assert circle.ofd_mm == 80.0
    assert circle.hc_mm == pytest.approx(221.035, abs=0.01)
    assert not circle.ga_extrapolated
    assert head_biometry(Ellipse(0, 0, 8.0, 6.0, 0)).ga_extrapolated  # HC 44 mm: about 11 weeks
    assert set(circle.to_dict()) == {"hc_mm", "bpd_mm", "ofd_mm", "ga_weeks", "ga_method", "ga_extrapolated"}
