"""Write a trained model as a bundle (layout in :mod:`medsight.models.bundle`).

Everything goes to a temporary sibling folder first and is renamed into place at the
end, so an interrupted or failed export never leaves a bundle that looks complete.
ONNX parity with torch is checked before anything is published.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from medsight import __version__
from medsight.errors import ModelError, OutputError
from medsight.models.bundle import BundleMetadata, MedsightSection, file_sha256, write_metadata
from medsight.models.networks import Network, WithFeatures
from medsight.tasks import Preprocessing, TaskSpec
from medsight.training.fit import FitOptions, FitResult, platform_summary
from medsight.training.model_card import render_model_card

__all__ = ["ONNX_TOLERANCE", "BundleSource", "export_onnx", "ood_method", "write_bundle"]

#: Largest absolute difference of logits and features between ONNX Runtime and torch.
ONNX_TOLERANCE = 1e-4


def ood_method(members: int) -> str:
    """The bundle's words for its distribution check (an ensemble's has one Gaussian per member)."""
    features = "pooled features (Lee et al. 2018)"
    if members > 1:
        features += f", one Gaussian per member of the {members}"
    return f"Mahalanobis distance on pixel statistics (8x8 thumbnail, percentiles, detail) and on {features}"


def export_onnx(model: torch.nn.Module, size: int, path: Path, graph: torch.nn.Module | None = None) -> None:
    """Export ``model`` with outputs ``(logits, features)`` (an ensemble's: and
    ``member_logits``) and a dynamic batch axis.

    ``graph`` replaces the classifier's ``(logits, features)`` wrapper when given (a
    segmenter's :class:`~medsight.models.segmenter.SegmenterWithFeatures`).

    Raises:
        ModelError: the export fails, or ONNX Runtime's outputs differ from torch's by
            more than :data:`ONNX_TOLERANCE`.
    """
    import onnxruntime

    model = model.eval()
    wrapped = graph.eval() if graph is not None else WithFeatures(cast("Network", model)).eval()
    example = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        outputs = ["logits", "features", "member_logits"][: len(wrapped(example))]
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter logs and prints its progress; none of it is for our users.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # deprecation notes from torch.export internals
            torch.onnx.export(
                wrapped,
                (example,),
                str(path),
                input_names=["image"],
                output_names=outputs,
                dynamic_shapes={"x": {0: batch}},
                dynamo=True,
                external_data=False,
            )
    except Exception as exc:  # the exporter raises many unrelated types
        raise ModelError(f"ONNX export failed ({type(exc).__name__})") from exc
    finally:
        quiet.setLevel(level)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check = torch.rand(5, 1, size, size, generator=torch.Generator().manual_seed(1))
    exported = session.run(None, {"image": check.numpy()})
    with torch.inference_mode():
        reference = wrapped(check)
    gap = max(float(np.abs(ours - theirs.numpy()).max()) for ours, theirs in zip(exported, reference, strict=True))
    if not gap <= ONNX_TOLERANCE:
        raise ModelError(f"ONNX output differs from torch by {gap:.2e} (> {ONNX_TOLERANCE:g})")


@dataclass(frozen=True)
class BundleSource:
    """Everything a bundle is written from.

    Attributes:
        task: the task the model serves.
        result: the fitted model, calibration and validation figures.
        options: the options it was fitted with.
        provenance: the training data's identity (layout, file, sha256).
        command: the command line that trained it, for the model card.
        plots: PNG files for ``docs/``, by name.
    """

    task: TaskSpec
    result: FitResult
    options: FitOptions
    provenance: dict[str, Any]
    command: str = ""
    plots: dict[str, bytes] = field(default_factory=dict)


def write_bundle(out: Path, source: BundleSource) -> Path:
    """Write the bundle for ``source`` at ``out`` (replacing an existing bundle there).

    Raises:
        OutputError: ``out`` exists and is not a bundle, or cannot be written.
    """
    return publish_bundle(out, lambda staging: _write_files(staging, source))


def publish_bundle(out: Path, fill: Callable[[Path], None]) -> Path:
    """Fill a staging folder beside ``out``, then rename it into place: a bundle appears whole.

    Raises:
        OutputError: ``out`` exists and is not a bundle, or cannot be written.
    """
    if out.exists() and not (out / "configs" / "metadata.json").is_file():
        raise OutputError(f"{out} exists and is not a model bundle; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a bundle holds no patient data and is shared
    try:
        fill(staging)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except OSError as exc:
        raise OutputError(f"could not write the bundle at {out} ({exc.strerror or type(exc).__name__})") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_files(root: Path, source: BundleSource) -> None:
    result, options = source.result, source.options
    models = root / "models"
    models.mkdir(parents=True)
    torch.save(result.model.state_dict(), models / "model.pt")
    export_onnx(result.model, options.resolution, models / "model.onnx")
    result.ood.save(models / "ood.npz")
    weights = {name: file_sha256(models / name) for name in ("model.pt", "model.onnx", "ood.npz")}
    metadata = _metadata(source, weights)
    write_metadata(root, metadata)
    docs = root / "docs"
    docs.mkdir()
    for name, png in source.plots.items():
        (docs / name).write_bytes(png)
    card = render_model_card(metadata, source.task, sorted(source.plots))
    (docs / "model_card.md").write_text(card, encoding="utf-8")


def _metadata(source: BundleSource, weights: dict[str, str]) -> BundleMetadata:
    task, result, options, provenance = source.task, source.result, source.options, source.provenance
    command = source.command
    size = options.resolution
    preprocessing = task.preprocessing_for(size)
    versions = platform_summary()
    training = {
        "command": command,
        "seed": options.train.seed,
        "epochs_max": options.train.epochs,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "batch_size": options.train.batch_size,
        "lr": options.train.lr,
        "augment": options.train.augment,
        **_blur_record(options),
        "seconds": round(result.seconds, 1),
        "data": provenance,
        "split_sizes": result.split_sizes,
        "class_counts": result.class_counts,
        "history": [
            {
                "epoch": h.epoch,
                "train_loss": round(h.train_loss, 4),
                "val_loss": round(h.val_loss, 4),
                "val_auc": round(h.val_auc, 4),
            }
            for h in result.history
        ],
        "platform": versions,
    }
    if result.members:  # an ensemble: each member's seed and chosen epoch (the history is the first's)
        training["members"] = result.members
    section = MedsightSection(
        task=task.name,
        classes=list(task.classes),
        network=result.network.to_dict(),
        preprocessing=_preprocessing_dict(preprocessing.with_size(size)),
        logit_offset=result.logit_offset,
        temperature=result.temperature,
        threshold=result.threshold,
        threshold_rule=result.threshold_rule,
        conformal=result.conformal.to_dict(),
        ood={
            "quantile": result.ood.quantile,
            "folds": options.ood_folds,
            "val_false_refusal_rate": round(result.ood_val_false_refusal, 4),
            "method": ood_method(result.network.members),
        },
        weights=weights,
        metrics={"val": result.val_metrics},
        training=training,
    )
    return BundleMetadata(
        name=options.name or f"{task.name}-{size}",
        version=options.version,
        changelog={options.version: "trained by medsight train"},
        monai_version=versions["monai"],
        pytorch_version=versions["torch"],
        numpy_version=versions["numpy"],
        required_packages_version={"medsight": __version__},
        task=task.title,
        description=f"{task.title}: {size} px {_architecture(result.network.members)}, temperature-calibrated, "
        "with a distribution check.",
        data_source=str(provenance.get("file", "")),
        data_type=f"greyscale image: {task.acceptance.description}",
        intended_use=task.intended_use,
        network_data_format={
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": "/".join(sorted(m.value for m in task.acceptance.modalities)),
                    "num_channels": 1,
                    "spatial_shape": [size, size],
                    "dtype": "float32",
                    "value_range": [0, 1],
                }
            },
            "outputs": {
                "logits": {
                    "type": "probabilities",
                    "format": "logit",
                    "num_channels": 1,
                    "dtype": "float32",
                    "value_range": [],
                    "channel_def": {"0": task.positive_class},
                }
            },
        },
        medsight=section,
    )


def _blur_record(options: FitOptions) -> dict[str, Any]:
    """The extra training blur, when one was asked for (``--blur-max``)."""
    train = options.train
    return {"blur": {"max": train.blur_max, "prob": train.blur_prob}} if train.blur_max else {}


def _architecture(members: int) -> str:
    return "residual CNN" if members == 1 else f"ensemble of {members} residual CNNs"


def _preprocessing_dict(preprocessing: Preprocessing) -> dict[str, Any]:
    return preprocessing.to_dict()
