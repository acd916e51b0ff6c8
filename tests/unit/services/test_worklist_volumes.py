"""The worklist's finding for a volume segmentation: each label's volume."""

from __future__ import annotations

from medsight.services.worklist import _volumes


def test_a_volume_result_reads_as_its_volumes() -> None:
    assert _volumes({"volumes_ml": {"anterior": 1.944, "posterior": 1.87}}) == "anterior 1.9 mL, posterior 1.9 mL"
    assert _volumes({"volumes_ml": {"tumour": 0.0}}) == "tumour 0.0 mL"


def test_a_classification_result_has_no_volumes() -> None:
    assert _volumes({"label": "pneumonia", "probability": 0.9}) is None
    assert _volumes({"volumes_ml": {}}) is None
