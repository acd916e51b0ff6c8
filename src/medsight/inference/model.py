"""A loaded model: a verified bundle with its predictor, calibration and checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from medsight.calibration import ConformalCalibrator, apply_temperature
from medsight.errors import InvalidBundleError
from medsight.inference.kind_gate import LoadedGate, gate_for
from medsight.inference.ood import OodDetector
from medsight.inference.predictor import Predictor, load_predictor, load_torch_classifier
from medsight.models.bundle import Bundle
from medsight.tasks import Prepared, Preprocessing, Refusal, TaskSpec, get_task

if TYPE_CHECKING:
    from medsight.explain import SaliencyMethod

__all__ = ["LoadedModel", "Scores"]


@dataclass(frozen=True)
class Scores:
    """Calibrated outputs for a batch.

    Attributes:
        logits: raw logits ``(n,)``.
        probabilities: temperature-scaled probability of the positive class ``(n,)``.
        features: pooled features ``(n, d)`` (for the distribution check).
        sets: conformal prediction sets ``(n, n_classes)`` of bools.
        member_probabilities: an ensemble's members' probabilities ``(n, members)``, each
            calibrated with the ensemble's offset and temperature; None for one network.
    """

    logits: NDArray[np.float32]
    probabilities: NDArray[np.float64]
    features: NDArray[np.float32]
    sets: NDArray[np.bool_]
    member_probabilities: NDArray[np.float64] | None = None


@dataclass
class LoadedModel:
    """Everything needed to score inputs with one bundle."""

    bundle: Bundle
    task: TaskSpec
    preprocessing: Preprocessing
    logit_offset: float
    temperature: float
    threshold: float
    conformal: ConformalCalibrator
    ood: OodDetector
    predictor: Predictor
    gate: LoadedGate | None = None
    _saliency: SaliencyMethod | None = field(default=None, repr=False)

    @classmethod
    def load(cls, bundle: Bundle, backend: str = "auto", threads: int = 0) -> LoadedModel:
        """Load ``bundle`` (already verified) with the given backend (``threads``: ONNX Runtime's, 0 = its choice).

        Raises:
            InvalidBundleError: the bundle names an unknown task or lacks its detector.
        """
        section = bundle.metadata.medsight
        task = get_task(section.task)
        if section.kind != "classification":
            raise InvalidBundleError(f"{bundle.name} is a {section.kind} model, not a classifier")
        if not bundle.has("ood.npz"):
            raise InvalidBundleError(
                f"{bundle.name}: no models/ood.npz; every model must refuse what it was not made for"
            )
        return cls(
            bundle=bundle,
            task=task,
            preprocessing=Preprocessing.from_dict(section.preprocessing),
            logit_offset=section.logit_offset,
            temperature=section.temperature,
            threshold=section.threshold,
            conformal=ConformalCalibrator.from_dict(section.conformal),
            ood=OodDetector.load(bundle.weights_file("ood.npz"), task.acceptance.description),
            predictor=load_predictor(bundle, backend, threads),
            gate=gate_for(section.input_gate, task.image_kind, task.acceptance.description, bundle.name),
        )

    def score(self, inputs: NDArray[np.float32]) -> Scores:
        """Calibrated scores for model inputs ``(n, 1, S, S)``."""
        logits, features, members = self.predictor.predict_members(inputs)
        probabilities = self._calibrated(logits)
        sets = self.conformal.prediction_sets(probabilities)
        return Scores(logits, probabilities, features, sets, None if members is None else self._calibrated(members))

    def gate_input(self, prepared: Prepared) -> NDArray[np.float32] | None:
        """The input gate's view of a prepared image (small: keep it, not the plane); None without a gate."""
        return None if self.gate is None else self.gate.inputs([prepared.unit])[0]

    def refusals(
        self, inputs: NDArray[np.float32], scores: Scores, gate_inputs: Sequence[NDArray[np.float32] | None]
    ) -> list[Refusal | None]:
        """The input gate's refusal, else the distribution check's, for each scored input."""
        by_ood = self.ood.refusals(inputs, scores.features)
        if self.gate is None:
            return by_ood
        by_kind = self.gate.refusals_of(np.stack([g for g in gate_inputs if g is not None]))
        return [kind or ood for kind, ood in zip(by_kind, by_ood, strict=True)]

    def _calibrated(self, logits: NDArray[np.float32]) -> NDArray[np.float64]:
        return apply_temperature(logits.astype(np.float64) + self.logit_offset, self.temperature)

    @property
    def saliency(self) -> SaliencyMethod:
        """The bundle's saliency method (Grad-CAM unless it names another), made on first
        use: Grad-CAM on the torch network, occlusion scored by the model's predictor."""
        if self._saliency is None:
            from medsight.explain import saliency_for

            # Occlusion scores its copies with the model's own predictor (ONNX Runtime where exported).
            self._saliency = saliency_for(
                lambda: load_torch_classifier(self.bundle),
                self.bundle.saliency,
                logits=lambda inputs: self.predictor.predict(inputs)[0],
            )
        return self._saliency
