"""Write a fitted segmenter as a bundle, measured on validation exactly as ``evaluate`` measures.

The files are written to a staging folder; the bundle is loaded back from it and scored
on the validation split with :func:`medsight.inference.measure_eval.score_measured`; the
figures go into its metadata and model card; only then is the folder renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medsight.data.hc18 import MeasuredSet
from medsight.inference.measure_eval import MEASURE_METRICS, score_measured
from medsight.inference.segmentation import LoadedSegmenter
from medsight.models.bundle import BundleMetadata, MedsightSection, file_sha256, load_bundle, write_metadata
from medsight.models.segmenter import SegmenterWithFeatures
from medsight.tasks import TaskSpec
from medsight.training.bundle_parts import bundle_metadata, finish_bundle, ood_summary, training_record
from medsight.training.export import export_onnx, publish_bundle
from medsight.training.fit import platform_summary
from medsight.training.model_card import card_check_and_weights, card_opening, card_run, card_table
from medsight.training.segment import SegmentationFit, SegmentOptions

__all__ = ["SegmentationSource", "segmenter_model_card", "write_segmentation_bundle"]


@dataclass(frozen=True)
class SegmentationSource:
    """Everything a segmentation bundle is written from."""

    task: TaskSpec
    fit: SegmentationFit
    options: SegmentOptions
    data: MeasuredSet
    command: str = ""


def write_segmentation_bundle(out: Path, source: SegmentationSource) -> Path:
    """Write, validate and publish the bundle at ``out``.

    Raises:
        OutputError: ``out`` exists and is not a bundle, or cannot be written.
    """
    return publish_bundle(out, lambda staging: _fill(staging, source))


def _fill(staging: Path, source: SegmentationSource) -> None:
    metadata = _write_weights(staging, source)
    model = LoadedSegmenter.load(load_bundle(staging), backend="auto")
    val = score_measured(
        model, source.data.split("val"), bootstrap=source.options.bootstrap, seed=source.options.train.seed
    )
    finish_bundle(staging, metadata, val, lambda written: segmenter_model_card(written, source.task))


def _write_weights(root: Path, source: SegmentationSource) -> BundleMetadata:
    fit, size = source.fit, source.options.resolution
    models = root / "models"
    models.mkdir(parents=True)
    torch.save(fit.model.state_dict(), models / "model.pt")
    export_onnx(fit.model, size, models / "model.onnx", graph=SegmenterWithFeatures(fit.model))
    fit.ood.save(models / "ood.npz")
    weights = {name: file_sha256(models / name) for name in ("model.pt", "model.onnx", "ood.npz")}
    metadata = _metadata(source, weights)
    write_metadata(root, metadata)
    return metadata


def _metadata(source: SegmentationSource, weights: dict[str, str]) -> BundleMetadata:
    task, fit, options = source.task, source.fit, source.options
    size, versions = options.resolution, platform_summary()
    training = training_record(source.command, options.train, fit, source.data, versions)
    section = MedsightSection(
        task=task.name,
        kind=task.kind.value,
        classes=list(task.classes),
        network=fit.network.to_dict(),
        preprocessing=task.preprocessing_for(size).with_size(size).to_dict(),
        temperature=fit.temperature,
        threshold=0.5,
        threshold_rule="pixel probability 0.5 (the largest region is the head)",
        conformal={},
        ood=ood_summary(
            fit.ood,
            fit,
            "Mahalanobis distance on pixel statistics and on the U-Net's pooled bottleneck",
            folds=options.ood_folds,
        ),
        weights=weights,
        training=training,
        segmentation={
            "confidence": "expected Dice of the mask under temperature-calibrated pixel probabilities",
            "temperature_fitted_on": "validation pixels (every 5th)",
            "flip_average": options.flip_average,
            "measurement": "ellipse (Fitzgibbon/Halir-Flusser) on the head region's edge at frame resolution",
            "ga_formula": "Hadlock 1984: GA = 8.96 + 0.540 HC + 0.0003 HC^3 (HC in cm)",
        },
    )
    return bundle_metadata(
        task,
        name=options.name or f"{task.name}-{size}",
        version=options.version,
        versions=versions,
        description=f"{task.title}: {size} px MONAI U-Net, ellipse fit, HC/BPD in mm, Hadlock gestational age.",
        data=source.data,
        data_type=f"greyscale image: {task.acceptance.description}",
        network_data_format={
            "inputs": {
                "image": {"type": "image", "num_channels": 1, "spatial_shape": [size, size], "dtype": "float32"}
            },
            "outputs": {
                "logits": {"type": "image", "format": "segmentation", "num_channels": 1, "channel_def": {"0": "head"}}
            },
        },
        section=section,
    )


def segmenter_model_card(metadata: BundleMetadata, task: TaskSpec) -> str:
    section = metadata.medsight
    training: dict[str, Any] = section.training
    data: dict[str, Any] = training.get("data", {})
    val: dict[str, Any] = section.metrics.get("val", {})
    net = section.network
    rows = [f"| {name} | {val.get(name)} | {val.get(name + '_ci')} |" for name in MEASURE_METRICS if name in val]
    return "\n".join(
        [
            *card_opening(metadata, task, "measured"),
            f"- MONAI U-Net, channels {net.get('channels')}, strides {net.get('strides')}, "
            f"{net.get('res_units')} residual unit(s); Dice + binary cross-entropy.",
            f"- Input: the whole frame stretched to {section.preprocessing['size']} px square, greyscale in [0, 1].",
            f"- Left-right flip averaging of the logits at inference: {section.segmentation.get('flip_average')}.",
            "- Output: the head region (largest component above probability 0.5, resized to the frame); an ellipse "
            "fitted to its edge; HC = its perimeter (Ramanujan), BPD = minor axis, OFD = major axis (outer to outer).",
            "- Gestational age: Hadlock FP et al., Radiology 1984;152:497-501, "
            "GA = 8.96 + 0.540 HC + 0.0003 HC^3 (HC in cm); flagged outside 14-40 weeks.",
            "- Confidence: pixel probabilities calibrated by one temperature on validation "
            f"(T = {section.temperature:.3f}), "
            "summarised as the expected Dice of the predicted mask.",
            *card_check_and_weights(metadata),
            "",
            "## Training data",
            "",
            f"- HC18 (van den Heuvel et al., PLoS ONE 2018), `{data.get('file')}` sha256 `{data.get('sha256')}`; "
            f"split by subject ({data.get('split_rule')}): "
            f"{training.get('split_sizes')}.",
            *card_run(training),
            "",
            *card_table(
                f"## Validation (n = {val.get('n')} images of subjects not in training, 95% bootstrap CIs over images)",
                rows,
            ),
            "",
            f"Images where no head was found: {val.get('failed')}. Confidence: {val.get('confidence')}.",
            "",
        ]
    )
