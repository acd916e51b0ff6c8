"""Use cases: train the input gate from the shared datasets, and attach it to a task bundle.

The gate learns one kind per dataset family (``medsight.tasks.kinds``) from the
training split of every dataset medsight trains on, and is measured on their
validation splits, which neither it nor any task model was fitted on:

===================  ==========================================================
kind                 sources (each dataset's own train/val split)
===================  ==========================================================
chest_xray           PneumoniaMNIST (28 px), Kermany 224 px, NLM TB sets (96 px)
breast_ultrasound    BreastMNIST (28 px)
fetal_ultrasound     HC18 (800 x 540), split by subject as ``us-fetal-head``
brain_mri            LGG slices (each of the three sequences as a greyscale plane),
                     MSD hippocampus crops (three axial slices each)
===================  ==========================================================

MR slices are stripped to their pixels (as a PNG would carry them), the way the
refusal study sends them: with metadata, the modality check refuses them first.
A task bundle uses the gate once ``medsight models attach-gate`` records the gate's
name and weights sha256 in it; ``make models`` does so for every shipped 2D model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from medsight.data import load_dataset
from medsight.data.hc18 import load_hc18
from medsight.data.volumes import load_volumes
from medsight.errors import InvalidDatasetError, UsageError
from medsight.imaging import Image, ImageMeta
from medsight.inference.kind_gate import gate_for
from medsight.io import read_image
from medsight.io.files import write_text
from medsight.metrics import wilson_interval
from medsight.models.bundle import Bundle, file_sha256, resolve_bundle
from medsight.models.kind_gate import (
    GateBundle,
    GateMetadata,
    KindNet,
    load_gate,
    shipped_gates,
    write_gate_metadata,
)
from medsight.services.audit import record_with_reports
from medsight.services.refusal import pixels_only
from medsight.tasks import ImageKind, get_task, unit_values
from medsight.tasks.kinds import gate_planes
from medsight.training.export import export_onnx, publish_bundle
from medsight.training.kind_gate import GateFitOptions, fit_gate

__all__ = [
    "GateData",
    "GateTrainRequest",
    "attach_gate",
    "collect_gate_data",
    "gate_model_card",
    "gate_validation",
    "train_gate",
    "write_gate",
]

#: The gate's input side, px, and the probability below which a task refuses an input.
GATE_SIZE = 32
MIN_PROBABILITY = 0.05
_KINDS = list(ImageKind)
_SLICES = (1 / 3, 1 / 2, 2 / 3)


@dataclass
class GateData:
    """Gate inputs per source and split, with the kind of each source.

    Attributes:
        inputs: ``(source, split)`` -> ``(n, 1, size, size)`` float32.
        kinds: source -> its kind.
        provenance: source -> the file that defines it and its sha256.
    """

    inputs: dict[tuple[str, str], NDArray[np.float32]] = field(default_factory=dict)
    kinds: dict[str, ImageKind] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)

    def split(self, name: str) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """All inputs of a split with their kind indices (``_KINDS`` order)."""
        parts = [(x, self.kinds[source]) for (source, split), x in sorted(self.inputs.items()) if split == name]
        if not parts:
            raise InvalidDatasetError(f"no {name} images for the input gate")
        inputs = np.concatenate([x for x, _ in parts])
        labels = np.concatenate([np.full(len(x), _KINDS.index(kind), dtype=np.int64) for x, kind in parts])
        return inputs, labels

    def sizes(self) -> dict[str, dict[str, int]]:
        """Images per source and split."""
        out: dict[str, dict[str, int]] = {}
        for (source, split), x in sorted(self.inputs.items()):
            out.setdefault(source, {})[split] = len(x)
        return out


@dataclass(frozen=True)
class _Source:
    name: str
    folder: str
    kind: ImageKind
    planes: Callable[[Path], tuple[Iterator[tuple[str, Image]], dict[str, Any]]]


def _labelled(path: Path) -> tuple[Iterator[tuple[str, Image]], dict[str, Any]]:
    data = load_dataset(path, lambda spelling: 0)

    def planes() -> Iterator[tuple[str, Image]]:
        for split in ("train", "val"):
            part = data.split(split)
            for case in part:
                yield split, part.image(case)

    return planes(), dict(data.provenance)


def _hc18(path: Path) -> tuple[Iterator[tuple[str, Image]], dict[str, Any]]:
    data = load_hc18(path)
    return ((case.split, data.image(case)) for case in data), dict(data.provenance)


def _lgg(path: Path) -> tuple[Iterator[tuple[str, Image]], dict[str, Any]]:
    data = load_volumes(path)

    def planes() -> Iterator[tuple[str, Image]]:
        for case in data:
            for name in case.files[0::2]:  # images, then masks
                image = read_image(data.root / name, data.limits)
                for channel in range(image.channels):
                    yield case.split, pixels_only(image, channel)

    return planes(), _without_keys(data.provenance)


def _hippocampus(path: Path) -> tuple[Iterator[tuple[str, Image]], dict[str, Any]]:
    data = load_volumes(path)

    def planes() -> Iterator[tuple[str, Image]]:
        for case in data:
            volume = data.read(case)[0].pixels
            for at in _SLICES:
                plane = volume[int(volume.shape[0] * at)].astype(np.float32)
                yield case.split, pixels_only(Image(pixels=plane, meta=ImageMeta(bits_stored=16)))

    return planes(), _without_keys(data.provenance)


def _without_keys(provenance: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in provenance.items() if k != "val_keys"}


_SOURCES = (
    _Source("pneumoniamnist", "pneumoniamnist", ImageKind.CHEST_XRAY, _labelled),
    _Source("kermany-224", "chest_xray_pneumonia_224", ImageKind.CHEST_XRAY, _labelled),
    _Source("tb-cxr", "tb_cxr", ImageKind.CHEST_XRAY, _labelled),
    _Source("breastmnist", "breastmnist", ImageKind.BREAST_ULTRASOUND, _labelled),
    _Source("hc18", "hc18", ImageKind.FETAL_ULTRASOUND, _hc18),
    _Source("lgg", "lgg_mri_segmentation_subset", ImageKind.BRAIN_MRI, _lgg),
    _Source("msd-hippocampus", "msd_task04_hippocampus", ImageKind.BRAIN_MRI, _hippocampus),
)


def collect_gate_data(
    datasets: Path, size: int = GATE_SIZE, on_source: Callable[[str], None] = lambda line: None
) -> GateData:
    """Read every source under ``datasets`` (``../shared/datasets``) into gate inputs.

    A source whose folder is missing is skipped (``on_source`` says so); a kind left
    with no source is an error.

    Raises:
        InvalidDatasetError: a kind has no source, or a dataset is malformed.
    """
    if not datasets.is_dir():
        raise InvalidDatasetError(f"{datasets} is not a folder of datasets")
    data = GateData()
    for source in _SOURCES:
        folder = datasets / source.folder
        if not folder.exists():
            on_source(f"{source.name}: {source.folder} not found, skipped")
            continue
        planes, provenance = source.planes(folder)
        by_split: dict[str, list[NDArray[np.float32]]] = {}
        for split, image in planes:
            by_split.setdefault(split, []).append(gate_planes([unit_values(image)], size)[0])
        for split, inputs in by_split.items():
            data.inputs[(source.name, split)] = np.stack(inputs).astype(np.float32)
        data.kinds[source.name] = source.kind
        data.provenance[source.name] = {"folder": source.folder, "kind": source.kind.value, **provenance}
        on_source(f"{source.name}: {', '.join(f'{k} {len(v)}' for k, v in sorted(by_split.items()))}")
    missing = [kind.value for kind in _KINDS if kind not in data.kinds.values()]
    if missing:
        raise InvalidDatasetError(f"no dataset for the image kinds {', '.join(missing)} under {datasets}")
    return data


@dataclass(frozen=True)
class GateTrainRequest:
    """Train a gate from ``datasets`` into ``out``.

    Attributes:
        datasets: the folder of datasets (``../shared/datasets``).
        out: the gate bundle to write (replaced whole).
        options: training options.
        name: the gate's name.
        version: its version.
        command: the command line, recorded in the bundle.
    """

    datasets: Path
    out: Path
    options: GateFitOptions = field(default_factory=GateFitOptions)
    name: str = "image-kind-32"
    version: str = "1.0.0"
    command: str = ""


def train_gate(
    request: GateTrainRequest,
    on_source: Callable[[str], None] = lambda line: None,
    on_epoch: Callable[[int, float], None] = lambda epoch, loss: None,
) -> GateBundle:
    """Collect the data, train, measure on the validation splits, write the bundle.

    Raises:
        InvalidDatasetError: a kind has no data.
        OutputError: the bundle cannot be written.
    """
    data = collect_gate_data(request.datasets, GATE_SIZE, on_source)
    x, y = data.split("train")
    started = datetime.now(UTC)
    net = fit_gate(x, y, len(_KINDS), request.options, on_epoch)
    seconds = (datetime.now(UTC) - started).total_seconds()
    metrics = gate_validation(net, data)

    training = {
        "sources": data.provenance,
        "sizes": data.sizes(),
        "options": {k: v for k, v in vars(request.options).items() if k != "threads"},
        "threads": request.options.threads,
        "seconds": round(seconds, 1),
        "command": request.command,
        "torch_version": torch.__version__,
    }
    return write_gate(request.out, net, name=request.name, version=request.version, metrics=metrics, training=training)


def write_gate(
    out: Path, net: KindNet, *, name: str, version: str, metrics: dict[str, Any], training: dict[str, Any]
) -> GateBundle:
    """Write a gate bundle for a trained :class:`KindNet` (replaced whole, never half-written).

    Raises:
        OutputError: the bundle cannot be written.
    """

    def fill(root: Path) -> None:
        (root / "models").mkdir(parents=True)
        torch.save(net.state_dict(), root / "models" / "model.pt")
        export_onnx(net, GATE_SIZE, root / "models" / "model.onnx", graph=_LogitsOnly(net))
        metadata = GateMetadata(
            name=name,
            version=version,
            description="Which kind of image is this: chest X-ray, breast or fetal head ultrasound, or brain MRI.",
            kinds=[k.value for k in _KINDS],
            size=GATE_SIZE,
            widths=list(net.widths),
            min_probability=MIN_PROBABILITY,
            weights={file: file_sha256(root / "models" / file) for file in ("model.pt", "model.onnx")},
            metrics=metrics,
            training=training,
        )
        write_gate_metadata(root, metadata)
        (root / "docs").mkdir()
        write_text(root / "docs" / "model_card.md", gate_model_card(metadata))

    publish_bundle(out, fill)
    return load_gate(out)


class _LogitsOnly(torch.nn.Module):
    """The network with its output as a one-tuple, as ``export_onnx`` names outputs (``logits``)."""

    def __init__(self, net: KindNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.net(x),)


def gate_validation(net: KindNet, data: GateData) -> dict[str, Any]:
    """On each source's validation images: how often each kind's task would refuse them.

    ``refused[kind][source]``: share of the source's val images the gate gives ``kind``
    less than :data:`MIN_PROBABILITY`, as ``{n, refused, rate, ci}``. Where ``source`` is of
    ``kind`` these are false refusals; elsewhere, refusals of another kind's images.
    """
    refused: dict[str, dict[str, dict[str, Any]]] = {kind.value: {} for kind in _KINDS}
    confusion: dict[str, dict[str, int]] = {}
    for (source, split), x in sorted(data.inputs.items()):
        if split != "val":
            continue
        with torch.inference_mode():
            p = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
        called = np.bincount(p.argmax(axis=1), minlength=len(_KINDS))
        confusion[source] = {kind.value: int(c) for kind, c in zip(_KINDS, called, strict=True)}
        for k, kind in enumerate(_KINDS):
            n, count = len(x), int((p[:, k] < MIN_PROBABILITY).sum())
            low, high = wilson_interval(count, n)
            refused[kind.value][source] = {"n": n, "refused": count, "rate": round(count / n, 4), "ci": [low, high]}
    return {"min_probability": MIN_PROBABILITY, "refused": refused, "called": confusion}


def gate_model_card(metadata: GateMetadata) -> str:
    """The gate's model card (markdown)."""
    training = metadata.training
    sources = training.get("sources", {})
    sizes = training.get("sizes", {})
    lines = [
        f"# {metadata.name} {metadata.version}",
        "",
        f"{metadata.description}",
        "",
        "## What it is for",
        "",
        "The input gate of medsight's 2D tasks: a task whose bundle records this gate refuses an input "
        f"the gate gives the task's kind a probability under {metadata.min_probability:g} (check `image_kind`), "
        "so that a fetal head frame is never scored for pneumonia, nor a brain MR slice for breast cancer. "
        "It runs after the metadata and pixel checks and before each model's own distribution check.",
        "",
        "## Not for",
        "",
        "- Anything but telling these kinds apart. It knows only the kinds below: an image of another kind "
        "(a CT slice, a knee film, a photograph) is called one of them, and each model's distribution check "
        "is what refuses it.",
        "- It is not a view or body-part classifier within a kind: a lateral chest film is a chest X-ray to it.",
        "- Its validation images come from the same datasets as its training images (other patients or "
        "subjects): other hospitals' images of these kinds are untested.",
        "",
        "## Model",
        "",
        f"- Input: the whole plane, unit-scaled as every task does (`medsight.tasks.prepare`), "
        f"area-resized to {metadata.size} x {metadata.size} px without cropping.",
        f"- Network: `KindNet`, three stages of two 3x3 convolutions (widths {', '.join(map(str, metadata.widths))}), "
        f"global average pooling, a linear layer; softmax over the kinds: {', '.join(metadata.kinds)}.",
        "- Training: kinds drawn equally in every batch; each batch reduced to a random size between "
        f"{training.get('options', {}).get('min_side', '?')} and {metadata.size} px and brought back, zoomed, "
        "shifted, mirrored, and changed in contrast and gamma, so that no kind is told by its resolution.",
        f"- Weights: `models/model.pt` sha256 `{metadata.weights.get('model.pt', '')}`.",
        "",
        "## Training data",
        "",
        "| source | kind | train | val | defined by | sha256 |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, source in sources.items():
        count = sizes.get(name, {})
        lines.append(
            f"| {name} | {source.get('kind', '')} | {count.get('train', 0)} | {count.get('val', 0)} "
            f"| {source.get('folder', '')}/{source.get('file', '')} | `{str(source.get('sha256', ''))[:16]}` |"
        )
    lines += [
        "",
        "Splits are each dataset's own (by patient or subject where the dataset says who is who); "
        "validation images were never used in training.",
        f"Training: {training.get('seconds', '?')} s on {training.get('threads') or 'all'} CPU thread(s). "
        f"Command: `{training.get('command', '')}`",
        "",
        "## Validation: refused by each kind's task (95% Wilson intervals)",
        "",
        f"Share of each source's validation images that a task of the column's kind would refuse "
        f"(the gate gives that kind under {metadata.min_probability:g}). "
        "On the diagonal (a source of the task's own kind) these are false refusals.",
        "",
    ]
    refused = metadata.metrics.get("refused", {})
    kinds = list(refused)
    lines.append("| source | " + " | ".join(kinds) + " |")
    lines.append("|---|" + "---|" * len(kinds))
    for name in sources:
        cells = []
        for kind in kinds:
            cell = refused[kind].get(name)
            if cell is None:
                cells.append("-")
                continue
            mark = "**" if sources[name].get("kind") == kind else ""
            low, high = cell["ci"]
            cells.append(f"{mark}{cell['refused']}/{cell['n']}{mark} [{100 * low:.1f}%, {100 * high:.1f}%]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def attach_gate(model: str | Path, gate: str | Path = "image-kind-32") -> Bundle:
    """Record ``gate`` in a 2D task bundle, which from then on refuses inputs of other kinds.

    The bundle's weights are untouched; its metadata names the gate's weights sha256 and
    its model card says so. Loading the bundle afterwards loads and verifies that gate.

    Raises:
        UsageError: the bundle's task reads no 2D image kind (volume tasks), or the gate
            does not know the task's kind.
        ModelNotFoundError, WeightsMismatchError: the gate cannot be found or verified.
    """
    bundle = resolve_bundle(model)
    task = get_task(bundle.metadata.medsight.task)
    if task.image_kind is None:
        raise UsageError(f"{task.name} reads volumes, not 2D images: it takes no input gate")
    loaded = load_gate(gate)
    if task.image_kind.value not in loaded.metadata.kinds:
        raise UsageError(f"input gate {loaded.metadata.name} does not know {task.image_kind.value}")
    record = {**loaded.identity(), "kind": task.image_kind.value, "min_probability": loaded.metadata.min_probability}
    shipped = shipped_gates().get(loaded.metadata.name)
    if shipped is None or shipped.resolve() != loaded.path.resolve():
        # Not a shipped gate: the bundle must find it where it was attached from.
        record["path"] = str(loaded.path.resolve())
    gate_for(record, task.image_kind, task.acceptance.description, bundle.name)  # loads as a bundle would
    record_with_reports(bundle, record, field="input_gate", reports={})
    return resolve_bundle(bundle.path)
