"""The MRI volume path end to end on tiny synthetic volumes: train a few steps, write the
bundle, `evaluate` with its exact keys and CIs, `analyze` a NIfTI and a DICOM series, and
refuse what is not a brain MRI volume."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.data.synthetic_mr import write_mr_series
from tests.data.synthetic_volumes import write_lgg, write_msd_hippocampus

from medsight.data.volumes import load_volumes
from medsight.errors import UsageError
from medsight.imaging import Geometry, Image, ImageMeta, Layout
from medsight.imaging.labels import LabelVolume
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter, segment_volume
from medsight.models.bundle import load_bundle
from medsight.models.segmenter import SegmenterConfig
from medsight.services.analyze import AnalyzeOptions, analyze_path
from medsight.services.evaluate import EvaluateOptions, evaluate
from medsight.tasks import get_task
from medsight.tasks.volume import Tta, mirror_axis, parse_tta
from medsight.training.export_volume import VolumeSource, write_volume_bundle
from medsight.training.fit import FitProgress
from medsight.training.loop import TrainOptions
from medsight.training.segment_volume import VolumeOptions, default_volume_network, fit_volume_segmenter
from medsight.types import Modality

KEYS = {"n", "dice_mean", "dice_per_label", "hd95_mm", "volume_abs_error_ml", "cases"}


def _train(task_name: str, data_root: Path, out: Path, batch: int) -> Path:
    task = get_task(task_name)
    assert task.volume is not None
    base = default_volume_network(task.volume, len(task.classes) - 1)
    tiny = SegmenterConfig.from_dict({**base.to_dict(), "channels": [4, 8, 16, 16]})
    options = VolumeOptions(
        train=TrainOptions(epochs=2, batch_size=batch, lr=3e-3, patience=5), network=tiny, bootstrap=50
    )
    data = load_volumes(data_root)
    fit = fit_volume_segmenter(task, data, options, FitProgress())
    assert fit.history[-1]["train_loss"] < fit.history[0]["train_loss"] * 1.5
    write_volume_bundle(out, VolumeSource(task, fit, options, data, "medsight train --seed 0"))
    return out


@pytest.fixture(scope="module")
def lgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lgg(tmp_path_factory.mktemp("lgg"), patients=3, slices=8, size=48)


@pytest.fixture(scope="module")
def msd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_msd_hippocampus(tmp_path_factory.mktemp("msd"), cases=4)


@pytest.fixture(scope="module")
def brain_bundle(tmp_path_factory: pytest.TempPathFactory, lgg: Path) -> Path:
    return _train("mri-brain-tumour", lgg, tmp_path_factory.mktemp("models") / "brain", batch=8)


@pytest.fixture(scope="module")
def hippo_bundle(tmp_path_factory: pytest.TempPathFactory, msd: Path) -> Path:
    return _train("mri-hippocampus", msd, tmp_path_factory.mktemp("models") / "hippo", batch=2)


@pytest.mark.parametrize("which", ["brain", "hippo"])
def test_bundle_records_recipe_temperature_val_figures_and_card(
    which: str, brain_bundle: Path, hippo_bundle: Path
) -> None:
    bundle = load_bundle(brain_bundle if which == "brain" else hippo_bundle)  # checks every sha256
    section = bundle.metadata.medsight
    assert section.kind == "volume-segmentation"
    assert section.temperature > 0
    assert section.segmentation["volume"]["dims"] == (2 if which == "brain" else 3)
    assert set(section.metrics["val"]) >= KEYS
    card = (bundle.path / "docs" / "model_card.md").read_text()
    assert "## Not for" in card
    assert section.weights["model.pt"] in card


@pytest.mark.parametrize("split", ["val", "all"])
def test_evaluate_reports_the_issue_keys_with_cis(split: str, hippo_bundle: Path, msd: Path) -> None:
    report = evaluate(
        EvaluateOptions(task="mri-hippocampus", data=msd, split=split, model=str(hippo_bundle), bootstrap=50)
    )
    assert set(report) >= KEYS
    assert report["n"] == len(report["cases"]) == (4 if split == "all" else len(load_volumes(msd).split("val")))
    assert set(report["dice_per_label"]) == {"anterior", "posterior"}
    for key in ("dice_mean", "volume_abs_error_ml"):
        low, high = report[f"{key}_ci"]
        assert low <= report[key] <= high
    for name, value in report["dice_per_label"].items():
        low, high = report["dice_per_label_ci"][name]
        assert 0.0 <= low <= value <= high <= 1.0
    case = report["cases"][0]
    assert {"key", "dice", "dice_mean", "hd95_mm", "volume_ml", "reference_ml", "volume_abs_error_ml"} <= set(case)
    assert math.isclose(case["dice_mean"], np.mean(list(case["dice"].values())), abs_tol=1e-3)
    # How the per-case confidence (expected Dice) tracks the real Dice, from the same cases.
    tracking, cases = report["confidence"], report["cases"]
    if len(cases) < 3:
        assert tracking == {"mean_expected_dice": None, "mean_dice": None, "spearman": None}
    else:
        assert tracking["mean_dice"] == pytest.approx(np.mean([c["dice_mean"] for c in cases]), abs=1e-3)
        assert tracking["mean_expected_dice"] == pytest.approx(np.mean([c["confidence"] for c in cases]), abs=1e-3)


def test_evaluate_brain_reports_false_positive_volume(brain_bundle: Path, lgg: Path) -> None:
    report = evaluate(
        EvaluateOptions(task="mri-brain-tumour", data=lgg, split="all", model=str(brain_bundle), bootstrap=50)
    )
    assert report["n"] == 3
    assert set(report["dice_per_label"]) == {"tumour"}
    assert report["false_positive_ml"] >= 0
    assert all("false_positive_ml" in c for c in report["cases"])


def test_analyze_a_nifti_and_a_dicom_series(hippo_bundle: Path, msd: Path, tmp_path: Path) -> None:
    nifti = next((msd / "imagesTr").iterdir())
    record = analyze_path(nifti, AnalyzeOptions(task="mri-hippocampus", model=str(hippo_bundle))).records[0]
    assert "refused" not in record or record["refused"]["check"] in ("pixel_statistics", "features")
    model = LoadedVolumeSegmenter.load(load_bundle(hippo_bundle))
    write_mr_series(tmp_path / "mr", slices=20, rows=40, columns=32)
    from medsight.io import read_image
    from medsight.settings import ReadLimits

    image = read_image(tmp_path / "mr", ReadLimits())
    result = segment_volume(model, image, measure_refused=True)
    assert isinstance(result.labels, LabelVolume)
    assert result.labels.labels.shape == image.shape
    assert result.labels.source is image
    assert set(result.labels.volumes_ml()) == {"anterior", "posterior"}
    assert result.to_dict()["spacing_mm"] == [3.0, 0.9, 0.9]


def _volume(modality: Modality, shape: tuple[int, ...] = (20, 40, 32), layout: Layout = Layout.VOLUME) -> Image:
    rng = np.random.default_rng(0)
    pixels = np.cumsum(rng.random(shape), axis=-1).astype(np.float32)
    return Image(pixels, layout=layout, geometry=Geometry(), meta=ImageMeta(modality=modality))


@pytest.mark.parametrize(
    ("image", "check"),
    [
        (_volume(Modality.DX, (256, 256), Layout.IMAGE), "modality"),  # a chest X-ray
        (_volume(Modality.OT, (256, 256), Layout.IMAGE), "frames"),  # a PNG
        (_volume(Modality.US, (30, 64, 64), Layout.CINE), "modality"),  # an ultrasound cine
        (_volume(Modality.CT), "modality"),  # a CT
        (_volume(Modality.MR, (3, 40, 32)), "frames"),  # too thin
    ],
    ids=["chest-xray", "png", "ultrasound", "ct", "thin"],
)
def test_what_is_not_a_brain_mri_volume_is_refused_with_a_reason(image: Image, check: str, hippo_bundle: Path) -> None:
    model = LoadedVolumeSegmenter.load(load_bundle(hippo_bundle))
    result = segment_volume(model, image)
    assert result.refused is not None
    assert result.refused.check == check
    assert result.labels is None
    assert result.to_dict()["refused"]["reason"]


def test_flip_tta_is_recorded_parsed_and_makes_the_labels_mirror_equivariant(
    brain_bundle: Path, lgg: Path, tmp_path: Path
) -> None:
    # A new bundle records the recipe's choice; one written before the field takes its task's default.
    assert load_bundle(brain_bundle).metadata.medsight.segmentation["volume"]["tta"] == "none"
    old = tmp_path / "old"
    shutil.copytree(brain_bundle, old)
    metadata = json.loads((old / "configs" / "metadata.json").read_text())
    del metadata["medsight"]["segmentation"]["volume"]["tta"]
    (old / "configs" / "metadata.json").write_text(json.dumps(metadata))
    task_default = get_task("mri-brain-tumour").volume
    assert task_default is not None
    assert LoadedVolumeSegmenter.load(load_bundle(old)).recipe.tta is task_default.tta
    assert LoadedVolumeSegmenter.load(load_bundle(old), tta=Tta.FLIP).recipe.tta is Tta.FLIP
    assert parse_tta(None) is None
    assert parse_tta("flip") is Tta.FLIP
    with pytest.raises(UsageError, match="--tta must be one of none, flip"):
        parse_tta("rotate")
    with pytest.raises(UsageError, match="--tta is for volume segmentation tasks"):
        evaluate(EvaluateOptions(task="cxr-pneumonia", data=lgg, tta="flip"))
    # Averaging a volume's probabilities with its mirror's makes the labels of a mirrored
    # volume the mirror of its labels, exactly (the network alone is not symmetric).
    data = load_volumes(lgg)
    image, _ = data.read(data.cases[0])
    mirrored = image.with_pixels(np.ascontiguousarray(image.pixels[..., ::-1]))
    flip = LoadedVolumeSegmenter.load(load_bundle(brain_bundle), tta=Tta.FLIP)
    assert mirror_axis(image.geometry) == 2
    plain = segment_volume(flip, image, measure_refused=True)
    both = segment_volume(flip, mirrored, measure_refused=True)
    assert plain.labels is not None
    assert both.labels is not None
    assert plain.labels.labels.any()  # something to mirror
    np.testing.assert_array_equal(both.labels.labels, plain.labels.labels[..., ::-1])
    report = evaluate(
        EvaluateOptions(
            task="mri-brain-tumour", data=lgg, split="all", model=str(brain_bundle), bootstrap=50, tta="flip"
        )
    )
    assert report["tta"] == "flip"


def test_mirror_axis_follows_the_patient_left_right_axis() -> None:
    assert mirror_axis(Geometry()) == 2
    sagittal = Geometry(direction=((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)))
    assert mirror_axis(sagittal) == 0
    oblique = Geometry(direction=((0.0, 0.0, 1.0), (0.9, 0.436, 0.0), (-0.436, 0.9, 0.0)))
    assert mirror_axis(oblique) == 1


@pytest.mark.parametrize(
    ("direction", "refused"),
    [
        (((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)), False),  # axial
        (((0.0, 0.34, 0.94), (0.0, 0.94, -0.34), (1.0, 0.0, 0.0)), False),  # axial, tilted 20 degrees
        (((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)), True),  # sagittal
        (((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)), True),  # coronal
    ],
    ids=["axial", "tilted", "sagittal", "coronal"],
)
def test_the_slice_wise_brain_model_reads_axial_slices_only(
    direction: tuple[tuple[float, float, float], ...], refused: bool, brain_bundle: Path, hippo_bundle: Path
) -> None:
    plain = _volume(Modality.MR)
    image = plain.with_pixels(plain.pixels, geometry=Geometry(direction=direction))  # type: ignore[arg-type]
    brain = segment_volume(LoadedVolumeSegmenter.load(load_bundle(brain_bundle)), image)
    assert (brain.refused is not None and brain.refused.check == "plane") is refused
    # The 3-D hippocampus model reads a crop in any orientation (MSD's are not axial).
    hippocampus = segment_volume(LoadedVolumeSegmenter.load(load_bundle(hippo_bundle)), image)
    assert hippocampus.refused is None or hippocampus.refused.check != "plane"
