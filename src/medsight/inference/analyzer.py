"""Analyse images with a model: refuse what it was not made for, score, explain.

The order is the contract every task follows:

1. the task's metadata checks (modality, body part, view);
2. the pixel gates (one plane, greyscale, not blank);
3. :func:`~medsight.tasks.prepare`, the preprocessing the model was trained with;
4. the model (logits and features), then the distribution check on both;
5. calibration (temperature), the stored threshold, the conformal prediction set;
6. the saliency map (the bundle's method: Grad-CAM unless it names occlusion), when asked,
   for scored inputs only.

A refused input gets a :class:`~medsight.tasks.Refusal` and no score, ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.imaging import Image
from medsight.imaging.overlay import resize_bilinear
from medsight.inference.model import LoadedModel
from medsight.tasks import Prepared, Refusal, pixel_refusal, prepare

__all__ = ["Analysis", "Analyzer", "MemberAgreement", "Uncertainty", "saliency_on_display"]


@dataclass(frozen=True)
class Uncertainty:
    """How sure the model is about one input.

    Attributes:
        method: ``conformal`` (class-conditional split conformal, fitted on validation).
        coverage: the stated coverage of the prediction set, per class.
        prediction_set: the classes the set holds; both (or none) means "cannot tell".
        ambiguous: the set is not a single class: a person should look closely.
        margin: distance of the probability from the threshold (0 = on it).
        members: for an ensemble, how far its members agree (None for one network).
    """

    method: str
    coverage: float
    prediction_set: tuple[str, ...]
    ambiguous: bool
    margin: float
    members: MemberAgreement | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``members`` only for an ensemble)."""
        out: dict[str, Any] = {
            "method": self.method,
            "coverage": self.coverage,
            "prediction_set": list(self.prediction_set),
            "ambiguous": self.ambiguous,
            "margin": round(self.margin, 6),
        }
        if self.members is not None:
            out["members"] = self.members.to_dict()
        return out


@dataclass(frozen=True)
class MemberAgreement:
    """An ensemble's members, each read at the ensemble's threshold.

    Members that disagree about an input are a sign that the training data did not pin
    its answer down (epistemic uncertainty, Lakshminarayanan et al. 2017), which the
    conformal set, fitted on the ensemble's averaged output, does not show.

    Attributes:
        probabilities: each member's probability, calibrated as the ensemble's is.
        positive: how many members are at or above the threshold.
        spread: highest minus lowest member probability.
    """

    probabilities: tuple[float, ...]
    positive: int
    spread: float

    @classmethod
    def of(cls, probabilities: NDArray[np.float64], threshold: float) -> MemberAgreement:
        """The agreement of one input's member ``probabilities``."""
        return cls(
            probabilities=tuple(round(float(p), 6) for p in probabilities),
            positive=int(np.sum(probabilities >= threshold)),
            spread=round(float(np.ptp(probabilities)), 6),
        )

    @property
    def unanimous(self) -> bool:
        """Every member on the same side of the threshold."""
        return self.positive in (0, len(self.probabilities))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "n": len(self.probabilities),
            "positive": self.positive,
            "unanimous": self.unanimous,
            "spread": self.spread,
            "probabilities": list(self.probabilities),
        }


@dataclass(frozen=True)
class Analysis:
    """The result for one image: a calibrated score, or a refusal.

    ``saliency`` (input resolution, ``[0, 1]``) and ``prepared`` are kept in memory for
    drawing the heatmap; :meth:`to_dict` leaves them out.
    """

    task: str
    model: dict[str, Any]
    threshold: float
    probability: float | None = None
    label: str | None = None
    uncertainty: Uncertainty | None = None
    refused: Refusal | None = None
    saliency: NDArray[np.float32] | None = None
    prepared: Prepared | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON keys of ``analyze --json``, minus ``path`` and ``heatmap`` (the caller's)."""
        out: dict[str, Any] = {"task": self.task, "model": self.model, "threshold": round(self.threshold, 6)}
        if self.refused is not None:
            out["refused"] = self.refused.to_dict()
            return out
        assert self.probability is not None
        assert self.uncertainty is not None
        out.update(
            probability=round(self.probability, 6),
            label=self.label,
            uncertainty=self.uncertainty.to_dict(),
        )
        return out


class Analyzer:
    """Applies one :class:`LoadedModel` to images, in batches."""

    def __init__(self, model: LoadedModel, *, saliency: bool = False, batch_size: int = 64) -> None:
        self.model = model
        self.want_saliency = saliency
        self.batch_size = batch_size

    def analyze(self, image: Image) -> Analysis:
        """Analyse one image."""
        return self.analyze_many([image])[0]

    def analyze_many(self, images: Sequence[Image]) -> list[Analysis]:
        """Analyse ``images``; refusals and scores come back in input order."""
        results: list[Analysis | None] = [None] * len(images)
        pending: list[tuple[int, Prepared]] = []
        for i, image in enumerate(images):
            refusal = self.check(image)
            if refusal is not None:
                results[i] = self._refused(refusal)
            else:
                pending.append((i, prepare(image, self.model.preprocessing)))
        pending = self._gated(pending, results)
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            for (i, _prepared), analysis in zip(chunk, self._score(chunk), strict=True):
                results[i] = analysis
        return [r for r in results if r is not None]

    def check(self, image: Image) -> Refusal | None:
        """The first metadata or pixel check ``image`` fails, or None (the distribution check needs the model)."""
        task = self.model.task
        return task.acceptance.refusal(image) or pixel_refusal(image, task.acceptance.description)

    def _gated(self, pending: list[tuple[int, Prepared]], results: list[Analysis | None]) -> list[tuple[int, Prepared]]:
        """Refuse, by the input gate (where the bundle records one), the inputs of another
        image kind; they are never scored. The rest, in order."""
        gate = self.model.gate
        if gate is None or not pending:
            return pending
        kept = []
        for (i, prepared), refusal in zip(pending, gate.refusals([p.unit for _, p in pending]), strict=True):
            if refusal is None:
                kept.append((i, prepared))
            else:
                results[i] = self._refused(refusal)
        return kept

    def _refused(self, refusal: Refusal) -> Analysis:
        return Analysis(
            task=self.model.task.name,
            model=self.model.bundle.identity(),
            threshold=self.model.threshold,
            refused=refusal,
        )

    def _score(self, chunk: list[tuple[int, Prepared]]) -> list[Analysis]:
        model = self.model
        inputs = np.stack([prepared.input for _, prepared in chunk])
        scores = model.score(inputs)
        refusals = model.ood.refusals(inputs, scores.features)
        accepted = [k for k, refusal in enumerate(refusals) if refusal is None]
        maps = model.saliency(inputs[accepted]) if self.want_saliency and accepted else None
        out: list[Analysis] = []
        for k, (_, prepared) in enumerate(chunk):
            refusal = refusals[k]
            if refusal is not None:
                out.append(self._refused(refusal))
                continue
            p = float(scores.probabilities[k])
            classes = model.task.classes
            in_set = tuple(name for name, member in zip(classes, scores.sets[k], strict=True) if member)
            uncertainty = Uncertainty(
                method="conformal",
                coverage=model.conformal.coverage,
                prediction_set=in_set,
                ambiguous=len(in_set) != 1,
                margin=abs(p - model.threshold),
                members=(
                    MemberAgreement.of(scores.member_probabilities[k], model.threshold)
                    if scores.member_probabilities is not None
                    else None
                ),
            )
            saliency = maps[accepted.index(k)] if maps is not None else None
            out.append(
                Analysis(
                    task=model.task.name,
                    model=model.bundle.identity(),
                    threshold=model.threshold,
                    probability=p,
                    label=classes[1] if p >= model.threshold else classes[0],
                    uncertainty=uncertainty,
                    saliency=saliency,
                    # The full-size plane is kept only to draw the heatmap: it is the
                    # largest array here, and a folder of 2k radiographs adds up.
                    prepared=prepared if self.want_saliency else None,
                )
            )
        return out


def saliency_on_display(
    saliency: NDArray[np.float32], prepared: Prepared, shape: tuple[int, int] | None = None
) -> NDArray[np.float32]:
    """The saliency map laid over the whole original plane, zero outside the cropped box.

    Args:
        saliency: the map at the model's input resolution, in ``[0, 1]``.
        prepared: what the map was computed on (its crop box on the original plane).
        shape: the grid to lay it on: the original plane's, or a preview's of the same
            aspect (the box is scaled to it). Default: the original plane's.
    """
    rows, cols = prepared.unit.shape
    out_rows, out_cols = shape or (rows, cols)
    fr, fc = out_rows / rows, out_cols / cols
    r0, c0, r1, c1 = prepared.box
    top, left = round(r0 * fr), round(c0 * fc)
    height, width = max(1, round(r1 * fr) - top), max(1, round(c1 * fc) - left)
    full = np.zeros((out_rows, out_cols), dtype=np.float32)
    scaled = resize_bilinear(saliency, (height, width))
    full[top : top + height, left : left + width] = np.clip(scaled, 0.0, 1.0)[: out_rows - top, : out_cols - left]
    return full
