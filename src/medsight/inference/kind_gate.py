"""The input gate at run time: refuse an image of another kind than the task reads.

It runs after the metadata and pixel checks and before the model, on the whole
unit-scaled plane that :func:`~medsight.tasks.prepare` already made, brought to the
gate's size by :func:`~medsight.tasks.kinds.gate_planes` as in training (never cropped:
the gate sees the frame as it came). A task bundle
uses a gate only when it records one (``medsight.input_gate``, written by ``medsight
models attach-gate``); bundles without one, such as the small ones tests train on synthetic
images, keep the other checks alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medsight.errors import InvalidBundleError
from medsight.inference.predictor import onnx_session
from medsight.models.kind_gate import GateBundle, load_gate
from medsight.tasks import ImageKind, Refusal
from medsight.tasks.kinds import gate_planes

__all__ = ["GATE_CHECK", "LoadedGate", "gate_for"]

#: The ``check`` of a refusal by the gate.
GATE_CHECK = "image_kind"


@dataclass
class LoadedGate:
    """A verified gate, bound to the kind one task reads.

    Attributes:
        bundle: the gate bundle.
        session: ONNX Runtime's session on its exported graph (``models/model.onnx``).
        kind: the kind the task reads.
        description: the task's input as a refusal names it ("a frontal chest X-ray").
        min_probability: an input the gate gives ``kind`` less than this is refused (the
            value the task bundle recorded, with which its refusals were measured).
    """

    bundle: GateBundle
    session: Any
    kind: ImageKind
    description: str
    min_probability: float

    @property
    def kinds(self) -> list[ImageKind]:
        """The gate's kinds in output order."""
        return [ImageKind(k) for k in self.bundle.metadata.kinds]

    def inputs(self, units: Sequence[NDArray[np.float32]]) -> NDArray[np.float32]:
        """Gate inputs ``(n, 1, size, size)`` from whole unit-scaled planes."""
        return gate_planes(units, self.bundle.metadata.size)

    def probabilities(self, inputs: NDArray[np.float32]) -> NDArray[np.float64]:
        """Softmax over the kinds, ``(n, kinds)``, for gate inputs."""
        if len(inputs) == 0:
            return np.zeros((0, len(self.kinds)))
        (logits,) = self.session.run(None, {"image": np.ascontiguousarray(inputs, dtype=np.float32)})
        shifted = np.asarray(logits, dtype=np.float64)
        shifted -= shifted.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probabilities: NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return probabilities

    def refusals(self, units: Sequence[NDArray[np.float32]]) -> list[Refusal | None]:
        """A refusal for each unit-scaled plane the gate does not take for the task's kind."""
        return self.refusals_of(self.inputs(units))

    def refusals_of(self, inputs: NDArray[np.float32]) -> list[Refusal | None]:
        """:meth:`refusals` of gate inputs already made (:meth:`inputs`)."""
        probabilities = self.probabilities(inputs)
        own = self.kinds.index(self.kind)
        floor = self.min_probability
        out: list[Refusal | None] = []
        for row in probabilities:
            if row[own] >= floor:
                out.append(None)
                continue
            likely = self.kinds[int(np.argmax(row))]
            out.append(
                Refusal(GATE_CHECK, f"it looks like {likely.description} (p {row.max():.2f}), not {self.description}")
            )
        return out


def gate_for(record: dict[str, Any], kind: ImageKind | None, description: str, bundle_name: str) -> LoadedGate | None:
    """The gate a task bundle records (``medsight.input_gate``), loaded and verified; None if it records none.

    Raises:
        InvalidBundleError: the bundle records a gate but its task reads no image kind.
        ModelNotFoundError: the recorded gate is not installed.
        WeightsMismatchError: the installed gate's weights are not the recorded ones.
    """
    if not record:
        return None
    if kind is None:
        raise InvalidBundleError(f"{bundle_name} records an input gate, but its task reads no 2D image kind")
    # A shipped gate is found by name; another by the folder it was attached from.
    expected = {"model.pt": record["sha256"], "model.onnx": record.get("onnx_sha256", "")}
    gate = load_gate(record.get("path") or record["name"], expected=expected)
    if kind.value not in gate.metadata.kinds:
        raise InvalidBundleError(f"{bundle_name}: input gate {gate.metadata.name} does not know {kind.value}")
    floor = float(record.get("min_probability", gate.metadata.min_probability))
    session = onnx_session(gate.path / "models" / "model.onnx", label=f"input gate {gate.metadata.name}")
    return LoadedGate(gate, session, kind, description, floor)
