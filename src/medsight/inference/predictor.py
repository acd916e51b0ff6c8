"""Predictors: a network behind one small interface, served by ONNX Runtime or torch.

ONNX Runtime is the default where a bundle ships ``model.onnx``: it starts faster and
runs a small network at batch 1 with less overhead than eager torch. torch serves the
saliency maps (gradients) and bundles without an ONNX file. Both give identical logits
to 1e-4 (tested).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from medsight.errors import ModelError, UsageError
from medsight.models.bundle import Bundle
from medsight.models.networks import Network, NetworkConfig, build_classifier, logits_and_members

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "BACKENDS",
    "OnnxPredictor",
    "Predictor",
    "TorchPredictor",
    "load_predictor",
    "load_torch_classifier",
    "onnx_session",
]

BACKENDS = ("auto", "onnx", "torch")


class Predictor(Protocol):
    """Logits and features for a batch of model inputs ``(n, 1, H, W)`` in ``[0, 1]``."""

    backend: str

    def predict(self, inputs: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``(logits (n,), features (n, d))``."""
        ...

    def predict_members(
        self, inputs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None]:
        """:meth:`predict`, and an ensemble's member logits ``(n, members)`` (None for one network)."""
        ...


def load_torch_classifier(bundle: Bundle) -> Network:
    """The bundle's network (or ensemble) with its weights, in eval mode (weights verified on load)."""
    import torch

    try:
        config = NetworkConfig.from_dict(bundle.metadata.medsight.network)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{bundle.name}: its network config is not one medsight can build") from exc
    model = build_classifier(config)
    try:
        state = torch.load(bundle.weights_file("model.pt"), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, KeyError, OSError) as exc:
        raise ModelError(f"{bundle.name}: models/model.pt does not fit its network config") from exc
    return model.eval()


class TorchPredictor:
    """Eager torch on the CPU."""

    backend = "torch"

    def __init__(self, model: Network) -> None:
        self.model = model.eval()

    def predict(self, inputs: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        logits, features, _ = self.predict_members(inputs)
        return logits, features

    def predict_members(
        self, inputs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None]:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
            features = self.model.features(x)
            logits, members = logits_and_members(self.model, features)
        return logits[:, 0].numpy(), features.numpy(), None if members is None else members.numpy()


class OnnxPredictor:
    """ONNX Runtime on the CPU, outputs ``(logits, features)``."""

    backend = "onnx"

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    @classmethod
    def from_bundle(cls, bundle: Bundle, threads: int = 0) -> OnnxPredictor:
        """Open ``models/model.onnx`` (``threads`` 0 lets ONNX Runtime choose)."""
        return cls.from_file(bundle.weights_file("model.onnx"), threads, label=f"{bundle.name}: models/model.onnx")

    @classmethod
    def from_file(cls, path: Path, threads: int = 0, *, label: str | None = None) -> OnnxPredictor:
        """Open an exported graph with outputs ``(logits, features[, member_logits])``.

        Raises:
            ModelError: ONNX Runtime cannot open it (``label`` names it in the message).
        """
        return cls(onnx_session(path, threads, label=label))

    def predict(self, inputs: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        logits, features, _ = self.predict_members(inputs)
        return logits, features

    def predict_members(
        self, inputs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None]:
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, dtype=np.float32)})
        logits, features = np.asarray(outputs[0], dtype=np.float32)[:, 0], np.asarray(outputs[1], dtype=np.float32)
        members = np.asarray(outputs[2], dtype=np.float32) if len(outputs) > 2 else None  # an ensemble's graph
        return logits, features, members


def onnx_session(path: Path, threads: int = 0, *, label: str | None = None) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session for an exported graph, as every medsight model runs.

    Raises:
        ModelError: ONNX Runtime cannot open it (``label`` names it in the message).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: its warnings are not for our users
    # Idle worker threads otherwise spin after each run and slow the torch Grad-CAM that
    # follows on the same two cores (measured: 7.5 -> 3.6 ms for the call after).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{label or path.name} could not be opened by ONNX Runtime") from exc


def load_predictor(bundle: Bundle, backend: str = "auto", threads: int = 0) -> Predictor:
    """The predictor for ``bundle``: ONNX Runtime when it ships an ONNX file (``auto``), else torch.

    ``threads``: ONNX Runtime's threads per run (0 lets it choose: one per core).

    Raises:
        UsageError: an unknown backend, or ``onnx`` for a bundle without an ONNX file.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "onnx" and not bundle.has("model.onnx"):
        raise UsageError(f"{bundle.name} ships no models/model.onnx; use --backend torch")
    if backend in ("auto", "onnx") and bundle.has("model.onnx"):
        return OnnxPredictor.from_bundle(bundle, threads)
    return TorchPredictor(load_torch_classifier(bundle))
