"""The segmentation network: MONAI's U-Net, built from a JSON-able config stored in its bundle.

:class:`Segmenter` returns logits per pixel or voxel (one channel, the foreground, for the
fetal head; one per label with a softmax for the MRI tasks, 2-D or 3-D as the config
says) and the U-Net's bottleneck pooled to a vector, which feeds the same distribution check the
classifiers use. The bottleneck is reached by walking MONAI's nested
``Sequential(down, SkipConnection(...), up)`` blocks explicitly (:meth:`Segmenter.run`),
so the graph exports to ONNX without hooks.

A volume segmentation bundle may hold a deep ensemble (:class:`SegmenterEnsemble`, the
config's ``members`` > 1): U-Nets of one config trained from consecutive seeds, their
logits averaged, with :meth:`Segmenter.run`'s interface, so that inference, calibration
and the distribution check take it as they take one network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import torch
from monai.networks.layers.simplelayers import SkipConnection
from monai.networks.nets.unet import UNet
from torch import nn

__all__ = ["Segmenter", "SegmenterConfig", "SegmenterEnsemble", "SegmenterWithFeatures", "build_segmenter"]


@dataclass(frozen=True)
class SegmenterConfig:
    """A U-Net (2-D by default; the fields added for the MRI tasks default to the fetal head's net).

    Attributes:
        arch: ``unet`` (MONAI ``UNet``).
        channels: channels per level, from the input side (one more level than ``strides``).
        strides: down-sampling factor between levels.
        res_units: residual units per block (MONAI ``num_res_units``).
        dropout: dropout inside the blocks.
        mean: intensity mean of the training inputs (the network normalises itself).
        std: intensity standard deviation of the training inputs.
        spatial_dims: 2 or 3.
        in_channels: input channels (neighbouring slices of a 2.5-D model).
        out_channels: logit channels: 1 (sigmoid foreground) or one per label with background.
        members: U-Nets of this config in the bundle (a deep ensemble, :class:`SegmenterEnsemble`).
    """

    arch: str = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    strides: tuple[int, ...] = (2, 2, 2, 2)
    res_units: int = 1
    dropout: float = 0.0
    mean: float = 0.5
    std: float = 0.25
    spatial_dims: int = 2
    in_channels: int = 1
    out_channels: int = 1
    members: int = 1

    def __post_init__(self) -> None:
        if self.arch != "unet":
            raise ValueError(f"unknown segmentation arch {self.arch!r}")
        if len(self.channels) != len(self.strides) + 1:
            raise ValueError("a U-Net needs one more channel count than strides")
        if self.spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {self.spatial_dims}")
        if self.members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {self.members}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form for a bundle (``members`` only for an ensemble: one network's metadata
        stays as it was before ensembles)."""
        data = asdict(self)
        data["channels"], data["strides"] = list(self.channels), list(self.strides)
        if self.members == 1:
            del data["members"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmenterConfig:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["channels"], fields["strides"] = tuple(fields["channels"]), tuple(fields["strides"])
        return cls(**fields)


class Segmenter(nn.Module):
    """Normalise, run the U-Net; logits ``(n, out_channels, *spatial)`` and pooled bottleneck features."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: SegmenterConfig) -> None:
        super().__init__()
        self.unet = UNet(
            spatial_dims=config.spatial_dims,
            in_channels=config.in_channels,
            out_channels=config.out_channels,
            channels=config.channels,
            strides=config.strides,
            num_res_units=config.res_units,
            dropout=config.dropout,
        )
        self.register_buffer("mean", torch.tensor(config.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(config.std, dtype=torch.float32))

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (n, out_channels, *spatial), features (n, channels[-1]))`` of inputs in ``[0, 1]``."""
        bottoms: list[torch.Tensor] = []
        logits = _walk(self.unet.model, (x - self.mean) / self.std, bottoms)
        return logits, bottoms[0].mean(dim=tuple(range(2, bottoms[0].dim())))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, out_channels, *spatial)``."""
        return self.run(x)[0]


class SegmenterEnsemble(nn.Module):
    """U-Nets trained independently on the same data, their logits averaged.

    ``features`` are the members' pooled bottlenecks side by side ``(n, members * d)``,
    as :class:`medsight.models.networks.Ensemble` gives the classifiers' distribution check.
    """

    def __init__(self, members: Sequence[Segmenter]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean logits ``(n, out_channels, *spatial)`` and every member's features."""
        outputs = [cast(Segmenter, member).run(x) for member in self.members]
        logits = torch.stack([out[0] for out in outputs]).mean(dim=0)
        return logits, torch.cat([out[1] for out in outputs], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean logits ``(n, out_channels, *spatial)``."""
        return self.run(x)[0]


def build_segmenter(config: SegmenterConfig) -> Segmenter | SegmenterEnsemble:
    """One U-Net, or an ensemble of ``config.members`` of them (fresh weights)."""
    if config.members == 1:
        return Segmenter(config)
    one = replace(config, members=1)
    return SegmenterEnsemble([Segmenter(one) for _ in range(config.members)])


class SegmenterWithFeatures(nn.Module):
    """The segmenter returning ``(logits, features)``: the graph exported to ONNX."""

    def __init__(self, segmenter: Segmenter) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.segmenter.run(x)


def _walk(block: nn.Module, x: torch.Tensor, bottoms: list[torch.Tensor]) -> torch.Tensor:
    """Run MONAI's nested U-Net block by block, keeping the bottleneck's output."""
    if isinstance(block, nn.Sequential) and len(block) == 3 and isinstance(block[1], SkipConnection):
        down = block[0](x)
        inner = _walk(block[1].submodule, down, bottoms)
        return block[2](torch.cat([down, inner], dim=1))  # type: ignore[no-any-return]
    out: torch.Tensor = block(x)
    bottoms.append(out)
    return out
