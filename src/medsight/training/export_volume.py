"""Write a fitted volume segmenter as a bundle, scored on validation exactly as ``evaluate`` scores.

As :mod:`medsight.training.export_segment`: the files go to a staging folder, the bundle
is loaded back from it and scored on the validation split with
:func:`medsight.inference.volume_eval.score_volumes`; the figures go into its metadata and
model card; only then is the folder renamed into place. No ONNX file: sliding-window
inference runs the torch network (MONAI's ``sliding_window_inference`` takes a callable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medsight.data.volumes import VolumeSet
from medsight.inference.volume_eval import score_volumes
from medsight.inference.volume_segmentation import LoadedVolumeSegmenter
from medsight.models.bundle import BundleMetadata, MedsightSection, file_sha256, load_bundle, write_metadata
from medsight.tasks import TaskSpec
from medsight.training.bundle_parts import bundle_metadata, finish_bundle, ood_summary, training_record
from medsight.training.export import publish_bundle
from medsight.training.fit import platform_summary
from medsight.training.model_card import card_check_and_weights, card_opening, card_run, card_table
from medsight.training.segment_volume import VolumeFit, VolumeOptions

__all__ = ["VolumeSource", "volume_model_card", "write_volume_bundle"]


@dataclass(frozen=True)
class VolumeSource:
    """Everything a volume segmentation bundle is written from."""

    task: TaskSpec
    fit: VolumeFit
    options: VolumeOptions
    data: VolumeSet
    command: str = ""


def write_volume_bundle(out: Path, source: VolumeSource) -> Path:
    """Write, validate and publish the bundle at ``out``.

    Raises:
        OutputError: ``out`` exists and is not a bundle, or cannot be written.
    """
    return publish_bundle(out, lambda staging: _fill(staging, source))


def _fill(staging: Path, source: VolumeSource) -> None:
    models = staging / "models"
    models.mkdir(parents=True)
    torch.save(source.fit.model.state_dict(), models / "model.pt")
    source.fit.ood.save(models / "ood.npz")
    metadata = _metadata(source, {name: file_sha256(models / name) for name in ("model.pt", "ood.npz")})
    write_metadata(staging, metadata)
    model = LoadedVolumeSegmenter.load(load_bundle(staging))
    val = score_volumes(
        model, source.data.split("val"), bootstrap=source.options.bootstrap, seed=source.options.train.seed
    )
    finish_bundle(staging, metadata, val, lambda written: volume_model_card(written, source.task))


def _metadata(source: VolumeSource, weights: dict[str, str]) -> BundleMetadata:
    task, fit, options = source.task, source.fit, source.options
    versions = platform_summary()
    size = next(iter(task.preprocessing))
    recipe = fit.recipe
    training = training_record(source.command, options.train, fit, source.data, versions, inputs=fit.extra)
    if fit.members:  # an ensemble: each member's seed and chosen epoch (the history is the first's)
        training["members"] = fit.members
    spatial = [recipe.size, recipe.size] if recipe.dims == 2 else list(recipe.patch)
    section = MedsightSection(
        task=task.name,
        kind=task.kind.value,
        classes=list(task.classes),
        network=fit.network.to_dict(),
        preprocessing=task.preprocessing_for(size).to_dict(),
        temperature=fit.temperature,
        threshold=0.5,
        threshold_rule="argmax of the softmax over background and labels",
        conformal={},
        ood=ood_summary(
            fit.ood,
            fit,
            "Mahalanobis distance on pixel statistics and on the U-Net's pooled bottleneck "
            + ("(per slice; the median slice decides)" if recipe.dims == 2 else "(the central window)")
            + (f", one Gaussian per member of the {options.members}" if options.members > 1 else ""),
            folds=options.ood_folds,
        ),
        weights=weights,
        training=training,
        segmentation={
            "volume": recipe.to_dict(),
            "confidence": "mean over labels of the expected Dice under temperature-calibrated voxel probabilities",
            "temperature_fitted_on": "validation voxels (every 7th), softmax temperature",
            "loss": "Dice + cross-entropy (MONAI DiceCELoss, softmax)",
        },
    )
    return bundle_metadata(
        task,
        name=options.name or f"{task.name}-{size}",
        version=options.version,
        versions=versions,
        description=f"{task.title}: MONAI U-Net{_ensemble_of(fit.network.members)} "
        f"({'2.5-D slice-wise' if recipe.dims == 2 else '3-D'}), " + ", ".join(task.classes[1:]) + ", volumes in mL.",
        data=source.data,
        data_type=f"greyscale volume: {task.acceptance.description}",
        network_data_format={
            "inputs": {
                "image": {
                    "type": "image",
                    "num_channels": recipe.in_channels,
                    "spatial_shape": spatial,
                    "dtype": "float32",
                }
            },
            "outputs": {
                "logits": {
                    "type": "image",
                    "format": "segmentation",
                    "num_channels": len(task.classes),
                    "channel_def": {str(i): name for i, name in enumerate(task.classes)},
                }
            },
        },
        section=section,
    )


def _ensemble_of(members: int) -> str:
    return "" if members == 1 else f" ensemble of {members}"


def _members_line(training: dict[str, Any]) -> list[str]:
    members = training.get("members") or []
    if not members:
        return []
    each = "; ".join(f"seed {m['seed']}: best epoch {m['best_epoch']}, val Dice {m['val_dice']:.4f}" for m in members)
    return [
        f"- Ensemble: {len(members)} U-Nets of this config trained from consecutive seeds, their logits averaged "
        f"before calibration ({each}; the ensemble's validation figures are below)."
    ]


def volume_model_card(metadata: BundleMetadata, task: TaskSpec) -> str:
    section = metadata.medsight
    training: dict[str, Any] = section.training
    data: dict[str, Any] = training.get("data", {})
    val: dict[str, Any] = section.metrics.get("val", {})
    net, recipe = section.network, section.segmentation.get("volume", {})
    rows = [
        f"| Dice, {name} | {val['dice_per_label'][name]} | {val['dice_per_label_ci'][name]} |"
        for name in val.get("labels", [])
    ]
    for key, label in (
        ("dice_mean", "Dice, mean over labels"),
        ("hd95_mm", "HD95 (mm)"),
        ("volume_abs_error_ml", "volume absolute error (mL)"),
        ("false_positive_ml", "false-positive volume on tumour-free slices (mL)"),
    ):
        if key in val:
            rows.append(f"| {label} | {val.get(key)} | {val.get(key + '_ci')} |")
    shape = (
        f"2.5-D: each slice with {recipe.get('context')} neighbour(s) on each side as channels, "
        f"at {recipe.get('size')} px"
        if recipe.get("dims") == 2
        else f"3-D windows of {recipe.get('patch')} voxels, MONAI sliding_window_inference for larger inputs"
    )
    return "\n".join(
        [
            *card_opening(metadata, task, "segmented"),
            f"- MONAI U-Net, {net.get('spatial_dims')}-D, channels {net.get('channels')}, "
            f"strides {net.get('strides')}, "
            f"{net.get('res_units')} residual unit(s); outputs {', '.join(task.classes)} (softmax); "
            "Dice + cross-entropy.",
            *_members_line(training),
            f"- Input: {shape}; intensities mapped per volume from the {recipe.get('low')}th..{recipe.get('high')}th "
            "percentile to [0, 1].",
            f"- Confidence: voxel probabilities calibrated by one softmax temperature on validation voxels "
            f"(T = {section.temperature:.3f}), summarised as the mean expected Dice over labels.",
            f"- Test-time augmentation: {recipe.get('tta', 'none')} (`--tta flip` adds a left-right mirrored pass "
            "and averages the probabilities; measured on validation in docs/models.md).",
            *card_check_and_weights(metadata),
            "",
            "## Training data",
            "",
            f"- `{data.get('path_name')}` (`{data.get('file')}` sha256 `{data.get('sha256')}`); split by case "
            f"({data.get('split_rule')}): {training.get('split_sizes')}; validation cases: "
            f"{', '.join(data.get('val_keys', []))}.",
            *card_run(training),
            "",
            *card_table(
                f"## Validation (n = {val.get('n')} cases not in training, 95% bootstrap CIs over cases)", rows
            ),
            "",
            f"Refused by the distribution check (scored anyway): {val.get('refused', {}).get('n')}.",
            "",
        ]
    )
