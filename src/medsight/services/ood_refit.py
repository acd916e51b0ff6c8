"""Use case: re-fit a classifier bundle's distribution check on its own training data, weights untouched.

The check refuses an input whose pixel statistics or features lie farther from the
training data than a threshold: a quantile of *cross-fitted* training distances
(:meth:`medsight.inference.ood.GaussianDistance.fit`). Bundles trained before
``medsight train --ood-folds`` existed cross-fit over two halves, which inflates the
feature threshold when a half-sized fit is far from the whole-set fit: for
``cxr-pneumonia-224`` two folds gave a feature threshold of 35.9 and ten folds 16.0, and
fetal head ultrasound passed 5.5% of the time instead of never (docs/models.md).

Re-fitting needs the training images and the model's features, not a new training run:
the mean and covariance kept are fitted on every training sample whatever the folds, so
only the two thresholds move. A bundle re-fitted with N folds is therefore the bundle
``medsight train ... --ood-folds N`` writes from the same data and seed (same weights,
same ``ood.npz``: tested), and its recorded training command says so, so that
``make models`` rebuilds it. The data must be the data the bundle was trained on (its
recorded sha256): thresholds from other data would describe another population.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.data import load_dataset
from medsight.errors import InvalidDatasetError, UsageError
from medsight.inference import LoadedModel
from medsight.inference.ood import OodDetector
from medsight.models.bundle import Bundle, BundleMetadata, file_sha256, load_bundle, resolve_bundle, write_metadata
from medsight.models.networks import NetworkConfig
from medsight.settings import ReadLimits
from medsight.tasks import get_task
from medsight.training import FitOptions
from medsight.training.export import ood_method, publish_bundle
from medsight.training.model_card import bundle_model_card
from medsight.training.prepare_data import prepare_split

__all__ = ["OodRefitRequest", "OodRefitResult", "refit_ood"]

_OOD_FILE = "ood.npz"
_BATCH = 256
_DEFAULT_QUANTILE = FitOptions.__dataclass_fields__["ood_quantile"].default


@dataclass(frozen=True)
class OodRefitRequest:
    """Which bundle, its training data, and the new cross-fitting.

    Attributes:
        model: a shipped model's name or a bundle folder; it is rewritten in place.
        data: the dataset the bundle was trained on (checked against its recorded sha256).
        folds: folds the thresholds are cross-fitted over (2 to 50).
        quantile: training quantile of the thresholds; None keeps the bundle's.
        command: the command line, recorded in the bundle.
    """

    model: str | Path
    data: Path
    folds: int = 10
    quantile: float | None = None
    command: str = ""


@dataclass(frozen=True)
class OodRefitResult:
    """The bundle rewritten, and its check before and after (thresholds, validation false refusals)."""

    bundle: Bundle
    before: dict[str, Any]
    after: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.bundle.identity(),
            "path": str(self.bundle.path),
            "before": self.before,
            "after": self.after,
        }


def refit_ood(
    request: OodRefitRequest, limits: ReadLimits | None = None, on_stage: Callable[[str], None] | None = None
) -> OodRefitResult:
    """Re-fit the bundle's distribution check and rewrite the bundle (staged: it appears whole or not at all).

    Raises:
        ModelNotFoundError, WeightsMismatchError: no such bundle, or its files do not match.
        UsageError: a segmentation bundle, or folds / quantile out of range.
        InvalidDatasetError: the data is not what the bundle was trained on, or lacks a split.
        OutputError: the bundle cannot be rewritten.
    """
    stage = on_stage or (lambda _: None)
    if not 2 <= request.folds <= 50:
        raise UsageError(f"folds must be between 2 and 50, got {request.folds}")
    if request.quantile is not None and not 0.5 <= request.quantile <= 0.9999:
        raise UsageError(f"the quantile must be between 0.5 and 0.9999, got {request.quantile}")
    bundle = resolve_bundle(request.model)
    section = bundle.metadata.medsight
    if section.kind != "classification":
        raise UsageError(
            f"{bundle.name} is a {section.kind} model: its distribution check is fitted by its own"
            " training recipe; retrain it with `medsight train --ood-quantile`"
        )
    task = get_task(section.task)
    data = load_dataset(request.data, task.label_of, limits, relabel=task.class_of_stored)
    _check_same_data(bundle, data.provenance)
    model = LoadedModel.load(bundle, backend="torch")
    stage("features of the training split")
    x_train, _ = prepare_split(data.split("train"), model.preprocessing)
    train_features = _features(model, x_train)
    stage("features of the validation split")
    x_val, _ = prepare_split(data.split("val"), model.preprocessing)
    val_features = _features(model, x_val)
    stage("fitting")
    quantile = request.quantile if request.quantile is not None else model.ood.quantile
    ood = OodDetector.fit(
        x_train,
        train_features,
        quantile=quantile,
        description=model.ood.description,
        folds=request.folds,
        members=NetworkConfig.from_dict(section.network).members,
    )
    before = _summary(model.ood, section.ood.get("folds", 2), x_val, val_features)
    after = _summary(ood, request.folds, x_val, val_features)
    stage("writing the bundle")
    rewritten = _rewrite(bundle, ood, request, after)
    return OodRefitResult(rewritten, before, after)


def _check_same_data(bundle: Bundle, provenance: Mapping[str, Any]) -> None:
    recorded = bundle.metadata.medsight.training.get("data", {})
    expected, found = recorded.get("sha256"), provenance.get("sha256")
    if not expected or expected != found:
        raise InvalidDatasetError(
            f"this is not the data {bundle.name} was trained on ({provenance.get('file', '?')} sha256"
            f" {str(found)[:12]}, the bundle records {recorded.get('file', '?')} {str(expected)[:12]})"
        )


def _features(model: LoadedModel, inputs: NDArray[np.float32]) -> NDArray[np.float32]:
    parts = [model.predictor.predict(inputs[start : start + _BATCH])[1] for start in range(0, len(inputs), _BATCH)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _summary(
    ood: OodDetector, folds: int, x_val: NDArray[np.float32], val_features: NDArray[np.float32]
) -> dict[str, Any]:
    refused = ood.scores(x_val, val_features).max(axis=1) > 1.0
    return {
        "folds": folds,
        "quantile": ood.quantile,
        "pixel_threshold": round(ood.pixels.threshold, 4),
        "feature_threshold": _rounded(ood.features.thresholds),
        "val_false_refusals": int(refused.sum()),
        "val_n": len(refused),
        "val_false_refusal_rate": round(float(refused.mean()), 4),
    }


def _rounded(thresholds: list[float]) -> float | list[float]:
    """One network's threshold, or an ensemble's one per member."""
    out = [round(threshold, 4) for threshold in thresholds]
    return out[0] if len(out) == 1 else out


def _rewrite(bundle: Bundle, ood: OodDetector, request: OodRefitRequest, after: dict[str, Any]) -> Bundle:
    def fill(staging: Path) -> None:
        shutil.copytree(bundle.path, staging, dirs_exist_ok=True)
        ood.save(staging / "models" / _OOD_FILE)
        metadata = _metadata(bundle.metadata, file_sha256(staging / "models" / _OOD_FILE), request, after)
        write_metadata(staging, metadata)
        (staging / "docs" / "model_card.md").write_text(bundle_model_card(staging, metadata), encoding="utf-8")

    return load_bundle(publish_bundle(bundle.path, fill))


def _metadata(
    metadata: BundleMetadata, ood_sha256: str, request: OodRefitRequest, after: dict[str, Any]
) -> BundleMetadata:
    section = metadata.medsight
    training = dict(section.training)
    original = str(training.get("command", ""))
    if original:
        training["command"] = _with_ood_options(original, request.folds, after["quantile"])
    training["ood_refit"] = {
        "command": request.command,
        "at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "replaces_command": original,
        "why": "distribution check re-fitted on the same training data and weights; equals a retrain"
        " with the command above",
    }
    ood = {
        **section.ood,
        "method": ood_method(NetworkConfig.from_dict(section.network).members),
        "quantile": after["quantile"],
        "folds": request.folds,
        "val_false_refusal_rate": after["val_false_refusal_rate"],
    }
    updated = section.model_copy(
        update={"ood": ood, "weights": {**section.weights, _OOD_FILE: ood_sha256}, "training": training}
    )
    return metadata.model_copy(update={"medsight": updated})


def _with_ood_options(command: str, folds: int, quantile: float) -> str:
    """``command`` with its ``--ood-folds`` (and ``--ood-quantile``, when not the default) set."""
    words = shlex.split(command)
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("--ood-folds", "--ood-quantile"):
            skip = True
            continue
        if re.match(r"--ood-(folds|quantile)=", word):
            continue
        kept.append(word)
    kept += ["--ood-folds", str(folds)]
    if quantile != _DEFAULT_QUANTILE:  # `medsight train`'s default: left out, as make models writes it
        kept += ["--ood-quantile", f"{quantile:g}"]
    return shlex.join(kept)
