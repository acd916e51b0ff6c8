"""Network architectures, built from a small JSON-able config stored in each bundle.

A bundle records *which* network it holds (:class:`NetworkConfig`), never code or a
``_target_`` string to instantiate: loading a model runs no configuration as code.

A config with ``members`` > 1 describes a deep ensemble (Lakshminarayanan et al., NeurIPS
2017): that many copies of the network, trained independently from different seeds, whose
logits are averaged. It has the single network's interface (``features``, ``head``,
``forward``), so the predictors, the ONNX export and the distribution check take either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from monai.networks.nets.resnet import ResNet
from torch import nn

__all__ = ["Classifier", "Ensemble", "Network", "NetworkConfig", "build_classifier", "logits_and_members"]


@dataclass(frozen=True)
class NetworkConfig:
    """A residual classifier, sized for the input.

    Attributes:
        arch: ``resnet`` (MONAI's ResNet with basic blocks).
        widths: channels of the four stages (ResNet-18 is 64, 128, 256, 512).
        blocks: residual blocks per stage (ResNet-18 is 2, 2, 2, 2).
        stem: ``small`` (3x3 convolution, no max-pool: for inputs of 28-64 px) or
            ``large`` (7x7 stride 2 and a max-pool, as ImageNet ResNets: 128 px and up).
        dropout: dropout before the final linear layer.
        mean: intensity mean of the training inputs (the network normalises itself).
        std: intensity standard deviation of the training inputs.
        members: networks in the ensemble (1: a single network).
    """

    arch: str = "resnet"
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    stem: str = "small"
    dropout: float = 0.2
    mean: float = 0.5
    std: float = 0.25
    members: int = 1

    def __post_init__(self) -> None:
        if self.arch != "resnet":
            raise ValueError(f"unknown network arch {self.arch!r}")
        if self.stem not in ("small", "large"):
            raise ValueError(f"unknown stem {self.stem!r}")
        if self.members < 1:
            raise ValueError(f"an ensemble needs at least one member, not {self.members}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form for a bundle (``members`` only for an ensemble: single-network bundles
        written before ensembles existed keep their exact metadata)."""
        data = asdict(self)
        data["widths"], data["blocks"] = list(self.widths), list(self.blocks)
        if self.members == 1:
            del data["members"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["widths"] = tuple(fields["widths"])
        fields["blocks"] = tuple(fields["blocks"])
        return cls(**fields)


class Classifier(nn.Module):
    """Normalise, extract features with a ResNet, and output one logit per image.

    ``features`` (the pooled output of the last stage) feed the out-of-distribution
    check; ``backbone.layer4`` is the layer Grad-CAM explains.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        large = config.stem == "large"
        self.backbone = ResNet(
            block="basic",
            layers=list(config.blocks),
            block_inplanes=list(config.widths),
            spatial_dims=2,
            n_input_channels=1,
            conv1_t_size=7 if large else 3,
            conv1_t_stride=2 if large else 1,
            no_max_pool=not large,
            num_classes=1,
        )
        self.backbone.fc = nn.Identity()  # type: ignore[assignment]
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.widths[-1], 1)
        self.register_buffer("mean", torch.tensor(config.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(config.std, dtype=torch.float32))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(n, widths[-1])`` of inputs ``(n, 1, H, W)`` in ``[0, 1]``."""
        out: torch.Tensor = self.backbone((x - self.mean) / self.std)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, 1)``."""
        out: torch.Tensor = self.head(self.dropout(self.features(x)))
        return out


class Ensemble(nn.Module):
    """Classifiers trained independently on the same data, their logits averaged.

    ``features`` are the members' pooled features side by side ``(n, members * d)``: the
    distribution check sees every member's view of the input. Each member's
    ``backbone.layer4`` is explained together by Grad-CAM.
    """

    def __init__(self, members: Sequence[Classifier]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def classifiers(self) -> list[Classifier]:
        """The members, typed (``nn.ModuleList`` holds plain modules)."""
        return [cast(Classifier, member) for member in self.members]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's pooled features, concatenated: ``(n, members * widths[-1])``."""
        return torch.cat([member.features(x) for member in self.classifiers()], dim=1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Mean of the members' logits ``(n, 1)``, from :meth:`features`' output."""
        return self.member_logits(features).mean(dim=1, keepdim=True)

    def member_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Each member's logit ``(n, members)``, from :meth:`features`' output."""
        members = self.classifiers()
        chunks = features.chunk(len(members), dim=1)
        return torch.cat([member.head(chunk) for member, chunk in zip(members, chunks, strict=True)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean logits ``(n, 1)`` (each member's dropout applies in training mode)."""
        return torch.stack([member(x) for member in self.classifiers()]).mean(dim=0)


#: What a classification bundle holds: one network or an ensemble of them.
Network = Classifier | Ensemble


class WithFeatures(nn.Module):
    """The classifier returning ``(logits, features)``: the graph exported to ONNX.

    An ensemble's graph has a third output, ``member_logits`` ``(n, members)``: how far its
    members agree is part of the result (:class:`medsight.inference.analyzer.Uncertainty`).
    """

    def __init__(self, classifier: Network) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.classifier.features(x)
        logits, members = logits_and_members(self.classifier, features)
        return (logits, features) if members is None else (logits, features, members)


def logits_and_members(network: Network, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits ``(n, 1)`` from pooled ``features``, and an ensemble's member logits ``(n, members)``
    (None for one network): what the predictors and the exported graph both return."""
    if isinstance(network, Ensemble):
        members = network.member_logits(features)
        return members.mean(dim=1, keepdim=True), members
    return network.head(features), None


def build_classifier(config: NetworkConfig) -> Network:
    """A freshly initialised network: a :class:`Classifier`, or an :class:`Ensemble` of
    ``config.members`` of them (initialisation follows torch's RNG).

    Training builds an ensemble's members one at a time, each from its own seed
    (:mod:`medsight.training.fit`); this builds the shape that its weights load into.
    """
    if config.members == 1:
        return Classifier(config)
    return Ensemble([Classifier(config) for _ in range(config.members)])
