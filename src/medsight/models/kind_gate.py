"""The input gate's network and bundle: which kind of image is this?

::

    <name>/                      under models/gates/ when shipped
      configs/metadata.json      GateMetadata (this module)
      models/model.pt            state_dict of KindNet (torch.save; loaded with weights_only=True)
      models/model.onnx          the same network, which every analysis runs (ONNX Runtime)
      docs/model_card.md         for people: what it tells apart, on what data, how well

The gate is pinned like every model: ``models/model.pt`` is checked against the sha256
in its metadata, and a task bundle that uses a gate records the gate's name and weights
sha256 (``medsight.input_gate``), so a bundle always runs with the gate its refusal
figures were measured with, or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from medsight.errors import InvalidBundleError, ModelNotFoundError, WeightsMismatchError
from medsight.models.bundle import METADATA, WEIGHTS_DIR, file_sha256

__all__ = ["GATES_DIR", "GateBundle", "GateMetadata", "KindNet", "load_gate", "shipped_gates", "write_gate_metadata"]

#: Where the gates that ship with medsight live (package data), apart from the task models.
GATES_DIR = Path(__file__).parent / "gates"
_WEIGHTS = ("model.pt", "model.onnx")


class KindNet(nn.Module):
    """Three stages of two 3x3 convolutions (batch norm, ReLU) and a 2x2 max-pool, global
    average pooling, one linear layer: a logit per kind.

    The image kinds differ in layout and texture that survive at 32 px (a thorax, a
    sector, a skull in a dark field), so a network of 0.1 M parameters separates them;
    anything larger only learns the datasets' quirks.
    """

    def __init__(self, kinds: int, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.widths = tuple(widths)
        layers: list[nn.Module] = []
        channels = 1
        for width in widths:
            for source in (channels, width):
                layers += [nn.Conv2d(source, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, kinds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Inputs are unit-scaled planes; centre them as the tasks' networks do.
        out: torch.Tensor = self.head(self.body((x - 0.5) / 0.25).mean(dim=(2, 3)))
        return out


class GateMetadata(BaseModel):
    """``configs/metadata.json`` of a gate bundle."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str
    kinds: list[str] = Field(description="ImageKind values in output order")
    size: int = Field(ge=8, le=128, description="side of the square input, px (whole plane, area-resized)")
    widths: list[int]
    min_probability: float = Field(
        gt=0, lt=1, description="an input is refused when the gate gives the task's kind less than this"
    )
    weights: dict[str, str] = Field(description="file under models/ -> sha256")
    metrics: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class GateBundle:
    """A verified gate bundle on disk."""

    path: Path
    metadata: GateMetadata

    @property
    def sha256(self) -> str:
        """sha256 of ``models/model.pt``."""
        return self.metadata.weights["model.pt"]

    @property
    def onnx_sha256(self) -> str:
        """sha256 of ``models/model.onnx``, the graph analyses run."""
        return self.metadata.weights["model.onnx"]

    def identity(self) -> dict[str, str]:
        """Name, version and the sha256 of both weights files, as a task bundle records its gate."""
        return {
            "name": self.metadata.name,
            "version": self.metadata.version,
            "sha256": self.sha256,
            "onnx_sha256": self.onnx_sha256,
        }

    def network(self) -> KindNet:
        """The network with its weights, in eval mode."""
        net = KindNet(len(self.metadata.kinds), tuple(self.metadata.widths))
        state = torch.load(self.path / WEIGHTS_DIR / "model.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return net.eval()


def shipped_gates() -> dict[str, Path]:
    """The gates that ship with medsight, by name."""
    if not GATES_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(GATES_DIR.iterdir()) if (p / METADATA).is_file()}


def load_gate(gate: str | Path, *, expected: dict[str, str] | None = None) -> GateBundle:
    """Read and verify a gate: a folder, else a shipped gate's name.

    Args:
        gate: the bundle folder or a shipped gate's name.
        expected: the sha256 a task bundle recorded, by file (``model.pt``,
            ``model.onnx``); None accepts the gate's own record.

    Raises:
        ModelNotFoundError: no such gate.
        InvalidBundleError: its metadata does not parse or a weights file is missing.
        WeightsMismatchError: a weights file differs from the gate's record, or from ``expected``.
    """
    path = Path(gate)
    if not (path / METADATA).is_file():
        shipped = shipped_gates()
        if str(gate) not in shipped:
            names = ", ".join(shipped) or "none installed"
            raise ModelNotFoundError(f"no input gate {str(gate)!r} (a folder, or a shipped gate: {names})")
        path = shipped[str(gate)]
    try:
        metadata = GateMetadata.model_validate_json((path / METADATA).read_bytes())
    except (ValidationError, OSError) as exc:
        raise InvalidBundleError(f"{path.name}: {METADATA} is not valid gate metadata") from exc
    for name in _WEIGHTS:
        file = path / WEIGHTS_DIR / name
        if name not in metadata.weights or not file.is_file():
            raise InvalidBundleError(f"input gate {path.name}: models/{name} is missing")
        actual = file_sha256(file)
        if actual != metadata.weights[name] or (expected is not None and actual != expected.get(name)):
            raise WeightsMismatchError(
                f"input gate {path.name}: models/{name} does not match the sha256 recorded for it; refusing to load it"
            )
    return GateBundle(path, metadata)


def write_gate_metadata(path: Path, metadata: GateMetadata) -> None:
    """Write ``configs/metadata.json`` (stable key order, for reproducible bundles)."""
    target = path / METADATA
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metadata.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    target.write_text(text, encoding="utf-8")
